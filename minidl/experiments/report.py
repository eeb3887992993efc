"""An experiment's results as people look at them: a markdown table, PNG curves and ``report.md``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend
from matplotlib.ticker import MaxNLocator  # noqa: E402

from minidl.experiments.runner import SYNTHETIC  # noqa: E402


def _num(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(results: dict[str, Any]) -> str:
    """One row per run: minidl's best-epoch eval mAUC and mAP beside the paper's figures."""
    label = "synthetic" if results["synthetic"] else "real"
    head = ["run", f"mAUC ({label})", f"mAP ({label})", "best epoch", "train mAP (last)", "train clips",
            "wall time (s)", "peak RSS (MiB)", "paper mAUC (real)", "paper mAP (real)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for run in results["runs"]:
        paper = run.get("paper", {})
        if "unavailable" in run:
            cells = [run["label"], run["unavailable"], "", "", "", "", "", "", _num(paper.get("mAUC")),
                     _num(paper.get("mAP"))]
        else:
            cells = [run["label"], _num(run.get("eval_mAUC")), _num(run.get("eval_mAP")),
                     str(run.get("best_epoch", "-")), _num(run.get("train_mAP")),
                     f"{run['train_clips']:,}" if "train_clips" in run else "-", f"{run['seconds']:.1f}",
                     f"{run['peak_rss_mib']:.0f}", _num(paper.get("mAUC")), _num(paper.get("mAP"))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_curves(results: dict[str, Any], path: Path) -> Path:
    """Train and eval mean AP (top) and mean AUC (bottom) per epoch, one line per run, shared axes."""
    runs = [r for r in results["runs"] if "history" in r]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True, sharey="row")
    for run in runs:
        epochs = [row["epoch"] for row in run["history"]]
        for col, split in enumerate(("train", "eval")):
            for row_i, metric in enumerate(("mAP", "mAUC")):
                axes[row_i][col].plot(epochs, [row[f"{split}_{metric}"] for row in run["history"]], marker="o",
                                      markersize=3, label=run["label"])
    for col, split in enumerate(("train", "eval")):
        axes[0][col].set_title(f"{split} ({'sample of the training split' if split == 'train' else 'eval split'})")
        axes[1][col].set_xlabel("epoch")
        axes[1][col].xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs only
    axes[0][0].set_ylabel("mean AP")
    axes[1][0].set_ylabel("mean AUC")
    axes[0][1].legend(fontsize=8)
    features = SYNTHETIC if results["synthetic"] else "real AudioSet features"
    fig.suptitle(f"{results['title']} ({features}, {results['scale']} scale)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(results: dict[str, Any], paper: str, out: Path, curves: bool = True) -> Path:
    """``table.md``, ``curves.png`` and ``report.md`` (the table, the plot, what the paper found) in ``out``."""
    text = table(results)
    (out / "table.md").write_text(text + "\n")
    features = SYNTHETIC if results["synthetic"] else "real AudioSet features"
    lines = [f"# {results['title']}", "",
             f"{features.capitalize()}; scale `{results['scale']}`; eval on {results['eval_clips']:,} clips; "
             "minidl's figures are the eval scores at the epoch of best eval mAP. Wall time counts training and "
             "the evaluations after each epoch; peak RSS is the process's peak resident memory during the run "
             "(the data and the framework's libraries included).", ""]
    if results["synthetic"]:
        lines += ["> SYNTHETIC FEATURES (minidl's built-in stand-in: real AudioSet labels, generated embeddings): "
                  "compare trends with the paper, not values.", ""]
    lines += [text, "", f"**The paper:** {paper}", ""]
    if curves and any("history" in r for r in results["runs"]):
        plot_curves(results, out / "curves.png")
        lines += ["![train and eval curves](curves.png)", ""]
    lines += ["Raw numbers: `results.json`; each run's history, checkpoints and description in its own folder.", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path
