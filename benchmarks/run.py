"""minidl next to PyTorch, in one process, alternating: the paper's models, per-op overhead,
convolutions and Adam's step, each timed with and without a pause before every run.
Writes ``benchmarks/RESULTS.md``.

    python benchmarks/run.py                 # full size, pauses 0.25 s and 0 (about 20 minutes on 2 cores)
    python benchmarks/run.py --pauses 0.25   # one pause only (about 10 minutes)
    python benchmarks/run.py --tiny          # about a minute: proves the script works (CI)

Every timing is the median of ``Size.repeats`` alternated runs (minidl, then PyTorch, then
minidl, ...), reported as the ratio minidl / PyTorch (below 1: minidl is faster), once for each
pause of ``--pauses`` (default ``0.25 0``): seconds of sleep before each timed run.  The 0.25 s
pause lets OpenBLAS's and OpenMP's spinning worker threads go idle so that one framework does
not slow the other; with no pause the runs follow each other back to back, as the steps of a
user's training loop do.  Each pause repeats every timing, so two pauses roughly double the run
(one pause: about 10 minutes at full size).  Peak memory, measured once per framework and model
in a fresh process (peak RSS above the process's baseline after the data is in memory), has no
pause.  The inputs are random stand-ins with the shapes of AudioSet embeddings: timings do not
depend on the values.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import minidl
from minidl import nn, optim
from minidl.spec import PAPER_MODELS, build, copy_weights, paper_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_conv  # noqa: E402 - the sibling benchmark scripts
import bench_optim  # noqa: E402
from timing import COOLDOWN, alternate  # noqa: E402

HERE = Path(__file__).resolve().parent
THREADS = 2
#: issue 15's targets, in the order of its table: the largest acceptable ratio minidl / PyTorch
TARGETS = {"conv training": 1.10, "conv inference": 1.05, "fc training": 0.95, "residual training": 0.95,
           "memory": 1.00, "chain": 1.40}
#: the default ``--pauses``: the harness's cooldown, and none (a user's loop)
PAUSES = (COOLDOWN, 0.0)

#: median seconds per pause and framework: ``{pause: {"minidl": s, "torch": s}}``
Timings = dict[float, dict[str, float]]


@dataclass
class Size:
    """How big each benchmark is: the paper's sizes, or tiny ones for CI."""

    clips: int = 22_160
    batch: int = 256
    width: int = 1024
    channels: int = 256
    repeats: int = 5
    chain: int = 1000


TINY = Size(clips=512, batch=64, width=64, channels=32, repeats=1, chain=100)


# ------------------------------------------------------------------------------ measuring
def timed(runs: dict[str, Callable[[], None]], repeats: int, pauses: list[float]) -> Timings:
    """``timing.alternate`` once under each pause: median seconds per pause and contender."""
    return {pause: alternate(runs, repeats, pause) for pause in pauses}


def matmul_rate(repeats: int, pauses: list[float]) -> Timings:
    """float32 GFLOP/s of a (256, 1280) x (1280, 1024) product (the fc model's first layer), per pause."""
    a = np.random.default_rng(0).standard_normal((256, 1280), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((1280, 1024), dtype=np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    flops = 2 * 256 * 1280 * 1024 * 20

    def numpy_run() -> None:
        for _ in range(20):
            a @ b

    def torch_run() -> None:
        for _ in range(20):
            ta @ tb

    seconds = timed({"numpy": numpy_run, "torch": torch_run}, max(repeats, 3), pauses)
    return {pause: {name: flops / s / 1e9 for name, s in t.items()} for pause, t in seconds.items()}


# ---------------------------------------------------------------------------------- models
def paper_models(name: str, size: Size) -> tuple[nn.Module, torch.nn.Module]:
    """The paper model ``name`` at the benchmark's width, in minidl and in PyTorch with the same weights."""
    desc = paper_model(name)
    key = "channels" if name == "conv" else "units"
    desc = desc.replace({f"layers[{i}].{key}": size.channels if name == "conv" else size.width
                         for i, layer in enumerate(desc.layers) if hasattr(layer, key)})
    model, twin = build(desc).model, build(desc, backend="torch").model
    copy_weights(model, twin)
    return model, twin


def make_data(size: Size) -> tuple[np.ndarray, np.ndarray]:
    """Dequantised random clips (N, 10, 128) and sparse 0/1 labels (float32)."""
    rng = np.random.default_rng(0)
    x = (rng.integers(0, 256, (size.clips, 10, 128), dtype=np.uint8).astype(np.float32) - 128) / 128
    y = (rng.random((size.clips, 527)) < 0.004).astype(np.float32)
    return x, y


def train_flops(model: nn.Module, name: str, size: Size) -> float:
    """Matrix-product FLOPs of one training epoch: 3 products (forward, two backward) of 2 m n k."""
    per_clip = 0
    for m in model.modules():
        if isinstance(m, nn.Linear):
            per_clip += 2 * m.in_features * m.out_features
        elif isinstance(m, nn.Conv1d):
            per_clip += 2 * m.in_channels * m.out_channels * m.kernel_size[0] * 10
    return 3 * per_clip * size.clips


FRAMEWORKS = {"minidl": (minidl, nn, optim), "torch": (torch, torch.nn, torch.optim)}


def epoch_runner(framework: str, model: object, x: np.ndarray, y: np.ndarray, batch: int,
                 train: bool) -> Callable[[], None]:
    """One epoch over (x, y) in ``framework``: BCE with logits and Adam steps, or forward only."""
    lib, lib_nn, lib_optim = FRAMEWORKS[framework]
    loss_fn = lib_nn.BCEWithLogitsLoss()
    opt = lib_optim.Adam(model.parameters(), lr=1e-4)

    def run() -> None:
        for i in range(0, len(x), batch):
            xb, yb = lib.from_numpy(x[i:i + batch]), lib.from_numpy(y[i:i + batch])
            if train:
                opt.zero_grad()
                loss_fn(model(xb), yb).backward()
                opt.step()
            else:
                with lib.no_grad():
                    model(xb)

    return run


@dataclass
class ModelTimes:
    """Epoch timings of one paper model, and the matrix-product FLOPs of its training epoch."""

    flops: float
    train: Timings
    infer: Timings


def bench_model(name: str, size: Size, pauses: list[float]) -> ModelTimes:
    """Epoch times (training and inference) of one paper model in both frameworks, under each pause."""
    model, twin = paper_models(name, size)
    x, y = make_data(size)

    def epochs(train: bool) -> Timings:
        return timed({"minidl": epoch_runner("minidl", model, x, y, size.batch, train),
                      "torch": epoch_runner("torch", twin, x, y, size.batch, train)}, size.repeats, pauses)

    return ModelTimes(train_flops(model, name, size), epochs(True), epochs(False))


def peak_memory(framework: str, name: str, size: Size) -> float:
    """MiB of peak RSS above the baseline, for one training epoch in a fresh process."""
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import run; "
            f"run.memory_child({framework!r}, {name!r}, {json.dumps(size.__dict__)!r})")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def memory_child(framework: str, name: str, size_json: str) -> None:
    """Run in a subprocess: one training epoch; print the peak RSS increase in MiB."""
    torch.set_num_threads(THREADS)
    size = Size(**json.loads(size_json))
    model, twin = paper_models(name, size)
    x, y = make_data(size)
    run = epoch_runner(framework, twin if framework == "torch" else model, x, y, size.batch, True)
    base = reset_peak_rss()
    run()
    print((_status_kib("VmHWM") - base) / 1024)


def _status_kib(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak_rss() -> int:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux clear_refs) and return it in KiB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS")


# --------------------------------------------------------------------------- small pieces
def op_chain(size: Size, pauses: list[float]) -> Timings:
    """A chain of ``size.chain`` small elementwise ops on 16 values, forward and backward."""

    def chain(x: object) -> object:
        y = x
        for _ in range(size.chain // 4):
            y = ((y * 1.001 + 0.5).tanh() - 0.1)
        return y.sum()

    def ours() -> None:
        chain(minidl.randn(16, requires_grad=True)).backward()

    def theirs() -> None:
        chain(torch.randn(16, requires_grad=True)).backward()

    return timed({"minidl": ours, "torch": theirs}, max(size.repeats, 5), pauses)


def conv_cases(tiny: bool, pauses: list[float]) -> list[tuple[str, Timings]]:
    """(label, timings) for bench_conv's cases: forward + backward into input and weights."""
    rng = np.random.default_rng(0)
    rows = []
    for label, dims, shape, layers, input_grad in bench_conv.CASES[:2] if tiny else bench_conv.CASES:
        shape = (8, *shape[1:]) if tiny else shape
        ours, theirs = bench_conv.build(dims, layers)
        x = rng.standard_normal(shape, dtype=np.float32)
        with torch.no_grad():
            gy = rng.standard_normal(tuple(theirs(torch.from_numpy(x)).shape), dtype=np.float32)
        t = timed({"minidl": bench_conv.step(ours, minidl, x, gy, False, input_grad),
                   "torch": bench_conv.step(theirs, torch, x, gy, False, input_grad)}, 1 if tiny else 7, pauses)
        rows.append((label, t))
    return rows


def adam_step(repeats: int, pauses: list[float]) -> Timings:
    """Seconds per Adam step over the fc model's parameters (1280-1024-1024-527), both frameworks.

    Each timed run is 20 steps, so that waking the thread pools after a pause is not counted.
    """
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) * 0.05 for s in bench_optim.SHAPES]
    grads = [rng.standard_normal(s).astype(np.float32) * 1e-3 for s in bench_optim.SHAPES]
    steps = {"minidl": bench_optim.minidl_step("Adam", arrays, grads),
             "torch": bench_optim.torch_step("Adam", arrays, grads, foreach=True)}
    runs = {name: (lambda step=step: [step() for _ in range(20)]) for name, step in steps.items()}
    return {pause: {name: s / 20 for name, s in t.items()}
            for pause, t in timed(runs, max(repeats, 5), pauses).items()}


# ----------------------------------------------------------------------------- table cells
def machine() -> list[str]:
    """Markdown bullets: CPU, cores, Python, NumPy's BLAS, PyTorch's threads, minidl's version."""
    cpu = platform.processor() or "unknown"
    if Path("/proc/cpuinfo").exists():
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    blas = np.__config__.CONFIG.get("Build Dependencies", {}).get("blas", {})
    return [f"- CPU: {cpu}, {os.cpu_count()} cores; Python {platform.python_version()}",
            f"- NumPy {np.__version__} with {blas.get('name', '?')} {blas.get('version', '')}; "
            f"PyTorch {torch.__version__} with {torch.get_num_threads()} threads; minidl {minidl.__version__}"]


def pause_label(pause: float) -> str:
    """'0.25 s pause' or 'no pause'."""
    return f"{pause:g} s pause" if pause > 0 else "no pause"


def ratio(t: dict[str, float]) -> float:
    """minidl / PyTorch of one pause's timings (NaN where PyTorch took no time)."""
    return t["minidl"] / t["torch"] if t["torch"] > 0 else math.nan


def row(cells: list[str]) -> str:
    """One markdown table row."""
    return "| " + " | ".join(cells) + " |"


def rule(columns: int) -> str:
    """The markdown rule under a header of ``columns`` cells."""
    return "|" + "---|" * columns


def table_head(first: list[str], pauses: list[float], last: tuple[str, ...] = ()) -> list[str]:
    """Header and rule of a table with minidl, PyTorch and ratio columns for each pause."""
    cells = [*first, *(f"{what} ({pause_label(p)})" for p in pauses for what in ("minidl", "PyTorch", "ratio")),
             *last]
    return [row(cells), rule(len(cells))]


def timing_cells(t: Timings, unit: float = 1.0, fmt: str = "{:.3f} s") -> list[str]:
    """minidl, PyTorch and ratio cells for each pause, in the order of ``t``."""
    return [cell for r in t.values()
            for cell in (fmt.format(r["minidl"] * unit), fmt.format(r["torch"] * unit), f"{ratio(r):.2f}")]


@dataclass
class Check:
    """One target of issue 15: its key in ``TARGETS``, a label and the measured ratio per pause.

    ``ratios`` is one figure where the measurement has no pause (peak memory).
    """

    key: str
    what: str
    ratios: dict[float, float] | float


def met(check: Check, pauses: list[float]) -> str:
    """Under which pauses the check's target is met: 'both'/'all', 'X only', 'NO' (or 'yes' without pauses)."""
    limit = TARGETS[check.key]
    if not isinstance(check.ratios, dict):
        return "yes" if check.ratios <= limit else "NO"
    ok = [p for p in pauses if check.ratios[p] <= limit]
    if not ok:
        return "NO"
    if len(ok) == len(pauses):
        return {1: "yes", 2: "both"}.get(len(ok), "all")
    return " and ".join(pause_label(p) for p in ok) + " only"


# -------------------------------------------------------------------------------- sections
def header(tiny: bool, pauses: list[float], rate: Timings) -> list[str]:
    """Title, how the file was made, the machine and the matmul rate under each pause."""
    command = "python benchmarks/run.py" + (" --tiny" if tiny else "")
    command += "" if tuple(pauses) == PAUSES else " --pauses " + " ".join(f"{p:g}" for p in pauses)
    rates = "; ".join(f"NumPy {r['numpy']:.0f}, PyTorch {r['torch']:.0f} ({pause_label(p)})" for p, r in rate.items())
    return ["# minidl vs PyTorch", "",
            f"Generated by `{command}`. Ratios are minidl / PyTorch (lower is better). Every timing is taken "
            "once under each of these pauses (sleep before each timed run): "
            + ", ".join(pause_label(p) for p in pauses) + ". A pause lets the BLAS and OpenMP worker threads "
            "go idle; with no pause the runs follow each other back to back, as a user's training loop does.", "",
            *machine(), "",
            f"- float32 matmul rate (256x1280 @ 1280x1024), GFLOP/s: {rates}", ""]


def model_section(models: list[str], size: Size, pauses: list[float], rate: Timings) -> tuple[list[str], list[Check]]:
    """The epoch-time table of the paper's models, and the checks of those with a target."""
    best = max(r["numpy"] for r in rate.values())
    lines = [f"## The paper's models: one epoch of {size.clips:,} clips, batch {size.batch}, BCE with logits, Adam",
             "", *table_head(["model", "mode"], pauses, ("floor (matmul FLOPs / best NumPy rate)",))]
    checks = []
    for name in models:
        r = bench_model(name, size, pauses)
        print(f"{name}: train {r.train}, infer {r.infer}", flush=True)
        for label, t, flops in (("training", r.train, r.flops), ("inference", r.infer, r.flops / 3)):
            lines.append(row([name, label, *timing_cells(t), f"{flops / (best * 1e9):.3f} s"]))
            if f"{name} {label}" in TARGETS:
                checks.append(Check(f"{name} {label}", f"{name} {label} epoch",
                                    {p: ratio(x) for p, x in t.items()}))
    return lines + [""], checks


def memory_section(models: list[str], size: Size) -> tuple[list[str], list[Check]]:
    """Peak training memory of each model in a fresh process per framework (no pause dimension)."""
    lines = ["## Peak memory of a training epoch (RSS above baseline, fresh process each; no pause)", "",
             "| model | minidl | PyTorch | ratio |", "|---|---|---|---|"]
    checks = []
    for name in models:
        ours, theirs = peak_memory("minidl", name, size), peak_memory("torch", name, size)
        got = ours / theirs if theirs > 0 else math.nan
        print(f"{name} memory: minidl {ours:.0f} MiB, torch {theirs:.0f} MiB", flush=True)
        lines.append(row([name, f"{ours:.0f} MiB", f"{theirs:.0f} MiB", f"{got:.2f}"]))
        checks.append(Check("memory", f"{name} peak training memory", got))
    return lines + [""], checks


def chain_section(size: Size, pauses: list[float]) -> tuple[list[str], list[Check]]:
    """Per-op overhead: the op chain's table and its check."""
    t = op_chain(size, pauses)
    print(f"chain: {t}", flush=True)
    lines = [f"## Per-op overhead: a chain of {size.chain} small ops, forward and backward", "",
             *table_head([""], pauses), row([f"{size.chain} ops", *timing_cells(t, 1e3, "{:.2f} ms")]), ""]
    return lines, [Check("chain", f"chain of {size.chain} small ops", {p: ratio(x) for p, x in t.items()})]


def conv_section(tiny: bool, pauses: list[float]) -> list[str]:
    """Convolution forward + backward for bench_conv's cases (the first two with ``tiny``)."""
    rows = [row([label, *timing_cells(t, 1e3, "{:.2f} ms")]) for label, t in conv_cases(tiny, pauses)]
    print("conv cases done", flush=True)
    return ["## Convolution forward + backward (float32; cases of `benchmarks/bench_conv.py`)", "",
            *table_head(["case"], pauses), *rows, ""]


def adam_section(repeats: int, pauses: list[float]) -> list[str]:
    """Adam's step alone over the fc model's parameters."""
    t = adam_step(repeats, pauses)
    print(f"adam: {t}", flush=True)
    return ["## Adam step alone (fc model parameters; PyTorch foreach=True)", "",
            *table_head([""], pauses), row(["Adam.step()", *timing_cells(t, 1e3, "{:.2f} ms")]), ""]


def targets_section(checks: list[Check], pauses: list[float]) -> list[str]:
    """Issue 15's targets: the measured ratio under each pause and under which pauses each is met."""
    checks = sorted(checks, key=lambda c: list(TARGETS).index(c.key))
    lines = ["## Targets (issue 15)", "",
             row(["what", "target ratio", *(f"ratio ({pause_label(p)})" for p in pauses), "met"]),
             rule(len(pauses) + 3)]
    for c in checks:
        got = c.ratios if isinstance(c.ratios, dict) else dict.fromkeys(pauses, c.ratios)
        lines.append(row([c.what, f"<= {TARGETS[c.key]:.2f}", *(f"{got[p]:.3f}" for p in pauses),
                          met(c, pauses)]))
    return lines + ["", "Ratios to three places, so that one just above its target does not read as met. Peak "
                    "memory has no pause: its one measured ratio stands in each column. fc and residual inference "
                    "have no target in issue 15 (their figures are in the models' table).", ""]


def scaling_section() -> list[str]:
    """The scaling plot and its crossover points, from ``scaling.py``'s last full run (if there is one)."""
    table = HERE / "scaling.md"
    if not table.exists() or not (HERE / "scaling.png").exists():
        return []
    crossovers = table.read_text().split("## Crossover points", 1)[-1].splitlines()[1:]
    return ["## Scaling: step time against width and batch (`benchmarks/scaling.py`, table in `scaling.md`)", "",
            "![minidl and PyTorch training step time against hidden width and batch, with the matmul floor]"
            "(scaling.png)", "", "Crossover points (smallest value with minidl / PyTorch <= 1.0):",
            *[line for line in crossovers if line.strip()], ""]


def closing(tiny: bool) -> list[str]:
    """The scaling picture and the hand-written analysis (full runs only), and the GPU note."""
    analysis = HERE / "analysis.md"  # hand-written: why a target is missed (kept beside the generator)
    lines = [*scaling_section(), analysis.read_text().strip(), ""] if analysis.exists() and not tiny else []
    return lines + ["## GPU", "", "Not measured: no GPU was lent to the session that wrote this file, so no CuPy or "
                    "CUDA figure is claimed. `python -m pytest --device cuda` runs the test suite on CuPy where a GPU "
                    "exists."]


def write_atomic(path: Path, lines: list[str]) -> None:
    """Write ``lines`` to ``path`` through a temporary file: a reader never sees half a report."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)


def parse_args() -> argparse.Namespace:
    """The command line: --tiny, --out, --models, --pauses."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny sizes, to check that the script runs")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--models", nargs="*", default=list(PAPER_MODELS))
    parser.add_argument("--pauses", nargs="+", type=float, default=list(PAUSES), metavar="SECONDS",
                        help="seconds of sleep before each timed run; every timing is taken under each "
                             "(default: %(default)s)")
    args = parser.parse_args()
    if any(p < 0 for p in args.pauses):
        parser.error("--pauses must be >= 0")
    args.pauses = list(dict.fromkeys(args.pauses))  # without repeats, in the order given
    return args


def main() -> None:
    """Measure everything under each pause and write the report."""
    args = parse_args()
    torch.set_num_threads(THREADS)
    size, pauses = (TINY if args.tiny else Size()), args.pauses
    rate = matmul_rate(size.repeats, pauses)
    print(f"matmul GFLOP/s: {rate}", flush=True)
    lines = header(args.tiny, pauses, rate)
    model_lines, checks = model_section(args.models, size, pauses, rate)
    memory_lines, memory_checks = memory_section(args.models, size)
    chain_lines, chain_checks = chain_section(size, pauses)
    lines += [*model_lines, *memory_lines, *chain_lines, *conv_section(args.tiny, pauses),
              *adam_section(size.repeats, pauses), *targets_section(checks + memory_checks + chain_checks, pauses),
              *closing(args.tiny)]
    write_atomic(args.out, lines)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
