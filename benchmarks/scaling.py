"""Training step time of minidl and PyTorch as the hidden width and the batch grow, with the matmul floor.
Writes ``scaling.md`` (table and crossover points), ``scaling.png`` (log-log plot) and ``scaling.json``.

    python benchmarks/scaling.py                       # full sweeps, into benchmarks/ (see RESULTS.md)
    python benchmarks/scaling.py --tiny --out /tmp/s   # seconds: proves the script works (CI)
    python benchmarks/scaling.py --models fc --repeats 7 --threads 2

A training step is what ``run.py`` times per batch: forward, BCE with logits against 0/1 targets,
backward, Adam step (``run.epoch_runner``), on random clips of AudioSet's shape (batch, 10, 128)
with 527 targets, minidl and PyTorch starting from the same weights (``run.paper_models``, i.e.
``minidl.spec.build`` + ``copy_weights``).  Two sweeps per model:

* width 256 ... 4,096 at batch 256.  The width is the description field that sets every hidden
  layer's size: ``units`` of each ``fc`` layer for ``fc`` (paper: 1024; ``residual`` likewise),
  ``channels`` of each ``conv1d`` layer for ``conv`` (paper: 256).  Input and output (527) stay.
* batch 32 ... 2,048 at the paper's width (1024 for fc, 256 for conv).

The floor of a point is the time of the step's matrix products alone, in NumPy (the BLAS under
minidl), on arrays of the model's dtype: for every ``Linear`` and ``Conv`` layer (seen by forward
hooks on the PyTorch twin) with input rows m (batch, times output positions for a convolution),
k = fan-in (in features, or in channels per group times kernel size, as im2col lays them out) and
n = out features or channels, the forward product (m, k) @ (k, n), the weight gradient
(n, m) @ (m, k) and, unless the layer's input needs no gradient (the first layer), the input
gradient (m, n) @ (n, k); once per group.  Outputs are preallocated, and nothing else counts:
no im2col/col2im, activations, loss, Adam or allocation.  Both frameworks do at least these
products, so the floor shows how much of each step is arithmetic and how much is overhead.

Timing follows ``run.py`` and ``bench_conv.py``: ``timing.alternate`` (minidl, PyTorch, floor in
turns, a cooldown before each, one warm-up each), the median of ``--repeats``.  Each timed run is
several steps (enough for the floor to reach about 50 ms, at most 20) and times are per step.
``--threads`` sets both PyTorch's threads and NumPy's BLAS threads (``minidl.set_num_threads``).
The crossover of a sweep is the smallest value at which minidl / PyTorch <= 1.0.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

import minidl
from minidl.spec import PAPER_MODELS, paper_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402 - the sibling benchmark scripts
from timing import alternate  # noqa: E402

HERE = Path(__file__).resolve().parent
WIDTHS = (256, 512, 1024, 2048, 4096)
BATCHES = (32, 64, 128, 256, 512, 1024, 2048)
WIDTH_SWEEP_BATCH = 256
#: --tiny: (widths, batch of the width sweep, batches, width of the batch sweep)
TINY = ((32, 64), 16, (8, 16), 64)
#: each timed run repeats the step until the floor reaches this many seconds (at most MAX_STEPS steps)
RUN_SECONDS = 0.05
MAX_STEPS = 20
SWEEP_LABELS = {"width": "hidden width", "batch": "batch"}
#: a matrix product of the step: (m, k, n, input gradient too, how many: the groups)
Product = tuple[int, int, int, bool, int]


@dataclass
class Point:
    """One measured point: seconds per training step in each framework, and the matmul floor."""

    model: str
    sweep: str
    value: int
    width: int
    batch: int
    steps: int
    minidl: float
    torch: float
    floor: float

    @property
    def ratio(self) -> float:
        return self.minidl / self.torch


# ---------------------------------------------------------------------------------- models
def width_key(name: str) -> str:
    """The description field that sets the hidden width: ``channels`` for conv, ``units`` otherwise."""
    return "channels" if name == "conv" else "units"


def paper_width(name: str) -> int:
    """The hidden width of the paper's model ``name`` (the first layer that has the width field)."""
    key = width_key(name)
    return next(getattr(layer, key) for layer in paper_model(name).layers if hasattr(layer, key))


def sweeps(name: str, tiny: bool) -> list[tuple[str, int, int, int]]:
    """(sweep, value, width, batch) of every point of model ``name``."""
    widths, width_batch, batches, batch_width = TINY if tiny else (WIDTHS, WIDTH_SWEEP_BATCH, BATCHES,
                                                                   paper_width(name))
    return ([("width", w, w, width_batch) for w in widths]
            + [("batch", b, batch_width, b) for b in batches])


def products(twin: torch.nn.Module, x: np.ndarray) -> list[Product]:
    """The matrix products of one training step on batch ``x``, from forward hooks on the PyTorch model."""
    found: list[Product] = []

    def hook(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        groups = getattr(module, "groups", 1)
        n, k = module.weight.shape[0], module.weight[0].numel()
        found.append((output.numel() // n, k, n // groups, inputs[0].requires_grad, groups))

    layers = [m for m in twin.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d))]
    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        twin(torch.from_numpy(x))
    finally:
        for h in handles:
            h.remove()
    return found


def floor_runner(shapes: list[Product], dtype: np.dtype) -> Callable[[], None]:
    """One pass of the step's matrix products in NumPy, into preallocated outputs."""
    rng = np.random.default_rng(0)
    calls = []
    for m, k, n, input_grad, groups in shapes:
        x, w, gy = (rng.standard_normal(s, dtype=np.float32).astype(dtype) for s in ((m, k), (n, k), (m, n)))
        calls += [(x, w.T, np.empty((m, n), dtype)), (gy.T, x, np.empty((n, k), dtype))] * groups
        calls += [(gy, w, np.empty((m, k), dtype))] * (groups if input_grad else 0)

    def floor() -> None:
        for a, b, out in calls:
            np.matmul(a, b, out=out)

    return floor


def repeat(step: Callable[[], None], times: int) -> Callable[[], None]:
    """``step`` called ``times`` times."""

    def run_all() -> None:
        for _ in range(times):
            step()

    return run_all


# --------------------------------------------------------------------------------- measuring
def measure(name: str, sweep: str, value: int, width: int, batch: int, repeats: int) -> Point:
    """Seconds per training step of model ``name`` at (width, batch) in both frameworks, and its floor."""
    model, twin = run.paper_models(name, run.Size(width=width, channels=width))
    floor = floor_runner(products(twin, run.make_data(run.Size(clips=batch))[0]),
                         next(model.parameters()).detach().numpy().dtype)
    once = alternate({"floor": floor}, 1)["floor"]
    steps = max(1, min(MAX_STEPS, math.ceil(RUN_SECONDS / max(once, 1e-9))))
    x, y = run.make_data(run.Size(clips=steps * batch))
    t = alternate({"minidl": run.epoch_runner("minidl", model, x, y, batch, True),
                   "torch": run.epoch_runner("torch", twin, x, y, batch, True),
                   "floor": repeat(floor, steps)}, repeats)
    return Point(name, sweep, value, width, batch, steps, *(t[k] / steps for k in ("minidl", "torch", "floor")))


def crossover(points: list[Point]) -> str:
    """Where minidl's ratio first drops to <= 1.0 in one sweep, in words."""
    below = [p for p in points if p.ratio <= 1.0]
    if not below:
        best = min(points, key=lambda p: p.ratio)
        return (f"none in {points[0].value}-{points[-1].value} "
                f"(lowest ratio {best.ratio:.2f} at {best.value})")
    first = below[0]
    stays = all(p.ratio <= 1.0 for p in points if p.value >= first.value)
    return f"{first.value} (ratio {first.ratio:.2f}; {'stays' if stays else 'not always'} <= 1.0 above)"


def by_panel(points: list[Point]) -> dict[tuple[str, str], list[Point]]:
    """The points grouped by (model, sweep), each group in sweep order."""
    panels: dict[tuple[str, str], list[Point]] = {}
    for p in points:
        panels.setdefault((p.model, p.sweep), []).append(p)
    return panels


# ------------------------------------------------------------------------------------ report
def panel_title(model: str, sweep: str, group: list[Point]) -> str:
    """``fc: hidden width (batch 256)``: the sweep and what it holds fixed."""
    fixed = f"batch {group[0].batch}" if sweep == "width" else f"width {group[0].width}"
    return f"{model}: {SWEEP_LABELS[sweep]} ({fixed})"


def write_table(points: list[Point], crossovers: dict[str, str], path: Path, command: str) -> None:
    """The markdown report: machine, table of every point, crossover points."""
    lines = ["# Training step time vs width and batch: minidl and PyTorch", "",
             f"Generated by `{command}`. Milliseconds per training step (forward, BCE with logits, "
             "backward, Adam), median of alternated runs; ratio = minidl / PyTorch (below 1: minidl is "
             "faster); floor = the step's matrix products alone in NumPy (see the script's docstring). "
             "Plot: `scaling.png`.", "", *run.machine(), f"- NumPy BLAS threads: {minidl.get_num_threads()}", "",
             "| model | sweep | value | minidl ms | torch ms | ratio | floor ms |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {p.model} | {SWEEP_LABELS[p.sweep]} | {p.value} | {p.minidl * 1e3:.2f} | {p.torch * 1e3:.2f} "
              f"| {p.ratio:.2f} | {p.floor * 1e3:.2f} |" for p in points]
    lines += ["", "## Crossover points (smallest value with minidl / PyTorch <= 1.0)", "",
              *(f"- {label}: {text}" for label, text in crossovers.items())]
    path.write_text("\n".join(lines) + "\n")


def plot(points: list[Point], path: Path) -> None:
    """Log-log panels, one per (model, sweep): ms per step of minidl, PyTorch and the floor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    panels = by_panel(points)
    models = list(dict.fromkeys(p.model for p in points))
    kinds = list(dict.fromkeys(p.sweep for p in points))
    fig, axes = plt.subplots(len(models), len(kinds), figsize=(5.5 * len(kinds), 4 * len(models)), squeeze=False)
    for (model, sweep), group in panels.items():
        ax = axes[models.index(model)][kinds.index(sweep)]
        xs = [p.value for p in group]
        for label, attr, style in (("minidl", "minidl", "o-"), ("PyTorch", "torch", "s-"),
                                   ("matmul floor", "floor", "k--")):
            ax.plot(xs, [getattr(p, attr) * 1e3 for p in group], style, label=label)
        first = next((p.value for p in group if p.ratio <= 1.0), None)
        if first is not None:
            ax.axvline(first, color="grey", linestyle=":", label=f"ratio <= 1 from {first}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.set_xlabel(SWEEP_LABELS[sweep])
        ax.set_ylabel("ms per training step")
        ax.set_title(panel_title(model, sweep, group))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder for scaling.md, .png and .json")
    parser.add_argument("--tiny", action="store_true", help="a few tiny points, repeats 1 (CI)")
    parser.add_argument("--repeats", type=int, default=5, help="alternated runs per point (median)")
    parser.add_argument("--models", default="fc,conv", help=f"comma-separated, of {','.join(PAPER_MODELS)}")
    parser.add_argument("--threads", type=int, default=run.THREADS, help="PyTorch and NumPy BLAS threads")
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]
    unknown = set(models) - set(PAPER_MODELS)
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; expected some of {','.join(PAPER_MODELS)}")
    torch.set_num_threads(args.threads)
    minidl.set_num_threads(args.threads)
    repeats = 1 if args.tiny else args.repeats
    tasks = [(name, *point) for name in models for point in sweeps(name, args.tiny)]
    points = []
    for task in (bar := tqdm(tasks, desc="scaling", unit="point")):
        bar.set_postfix_str(f"{task[0]} {task[1]} {task[2]}")
        p = measure(*task, repeats)
        tqdm.write(f"{p.model:>8} {p.sweep:>5} {p.value:>5}: minidl {p.minidl * 1e3:9.2f} ms, "
                   f"torch {p.torch * 1e3:9.2f} ms, ratio {p.ratio:5.2f}, floor {p.floor * 1e3:9.2f} ms")
        points.append(p)
    crossovers = {panel_title(model, sweep, group): crossover(group)
                  for (model, sweep), group in by_panel(points).items()}
    for label, text in crossovers.items():
        print(f"crossover, {label}: {text}")
    command = "python benchmarks/scaling.py" + (" --tiny" if args.tiny else "")
    args.out.mkdir(parents=True, exist_ok=True)
    write_table(points, crossovers, args.out / "scaling.md", command)
    plot(points, args.out / "scaling.png")
    (args.out / "scaling.json").write_text(json.dumps(
        {"command": command, "threads": args.threads, "repeats": repeats, "unit": "seconds per step",
         "points": [dataclasses.asdict(p) | {"ratio": p.ratio} for p in points], "crossovers": crossovers},
        indent=1) + "\n")
    print(f"wrote {', '.join(str(args.out / f'scaling.{ext}') for ext in ('md', 'png', 'json'))}")


if __name__ == "__main__":
    main()
