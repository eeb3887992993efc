"""``minidl bench``: the benchmarks, side by side with PyTorch when it is installed.

With PyTorch importable and the repository's ``benchmarks/run.py`` beside the shipped experiments,
this runs that script (minidl next to PyTorch, alternating, ratios minidl / PyTorch) in a subprocess
of the same interpreter and streams its output.  Without PyTorch (or without the script, as in an
installed wheel), it times one training step of each paper model in minidl alone and prints a
markdown table, with no ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from minidl.spec import PAPER_MODELS, build, experiments_dir, paper_model

#: (clips per batch, timed steps) of the minidl-only timing: --tiny, and the full run (None: the description's batch)
TINY_BATCH, TINY_STEPS = 32, 3
FULL_STEPS = 10


def register(commands: Any) -> None:
    """Add the ``bench`` command to the ``minidl`` parser."""
    command = commands.add_parser(
        "bench", help="the benchmarks, side by side with PyTorch when it is installed",
        description="With PyTorch installed, run the repository's benchmarks/run.py (minidl next to PyTorch: "
                    "the paper's models, per-op overhead, convolutions, Adam; ratios minidl / PyTorch) and stream "
                    "its output; it writes its report to --out (default benchmarks/RESULTS.md; with --tiny a "
                    "temporary file). Without "
                    "PyTorch, time one training step of each paper model in minidl alone (random clips, the "
                    "description's loss and optimizer, median of a few steps) and print a markdown table.")
    command.add_argument("--tiny", action="store_true",
                         help="tiny sizes: seconds, to check that the benchmarks run")
    command.add_argument("--out", type=Path, default=None,
                         help="write the report (markdown) to this file")
    command.add_argument("--models", nargs="+", choices=PAPER_MODELS, default=list(PAPER_MODELS), metavar="MODEL",
                         help=f"paper models to time (default: {' '.join(PAPER_MODELS)})")
    command.set_defaults(run=run_bench)


def torch_installed() -> bool:
    """Whether ``import torch`` would find PyTorch (without importing it)."""
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def benchmark_script() -> Path | None:
    """The repository's ``benchmarks/run.py`` (beside ``experiments/``), or None where there is none."""
    try:
        script = experiments_dir().parent / "benchmarks" / "run.py"
    except FileNotFoundError:
        return None
    return script if script.is_file() else None


def run_bench(args: argparse.Namespace) -> int:
    script = benchmark_script()
    if torch_installed() and script is not None:
        return run_script(script, args)
    why = ("PyTorch is not installed" if not torch_installed()
           else "the repository's benchmarks/run.py was not found")
    report = minidl_only(args.models, args.tiny, why)
    print(report, end="")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
        print(f"wrote {args.out}")
    return 0


def run_script(script: Path, args: argparse.Namespace) -> int:
    """``python benchmarks/run.py [--tiny] [--out FILE] --models ...`` with this interpreter, output streamed."""
    out = args.out or (Path(tempfile.gettempdir()) / "minidl-RESULTS-tiny.md" if args.tiny else None)  # keep the
    command = [sys.executable, str(script), *(["--tiny"] if args.tiny else []),      # committed results intact
               *(["--out", str(out.resolve())] if out is not None else []), "--models", *args.models]
    print(f"$ {' '.join(command)}", flush=True)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
    return proc.returncode


# ------------------------------------------------------------------------------ minidl alone
def time_training_step(name: str, batch: int | None, steps: int) -> tuple[int, float]:
    """(batch, median seconds) of one training step of paper model ``name``: forward, loss, backward, update."""
    import minidl

    desc = paper_model(name)
    batch = batch or desc.training.batch_size
    model, loss_fn, optimizer = build(desc)
    rng = np.random.default_rng(0)
    x = minidl.from_numpy(rng.standard_normal((batch, *desc.input.shape), dtype=np.float32))
    y = minidl.from_numpy((rng.random((batch, desc.output.units)) < 0.01).astype(np.float32))
    times = []
    for _ in range(steps + 1):  # the first step (allocations, lazy state) is not counted
        start = time.perf_counter()
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return batch, statistics.median(times[1:])


def minidl_only(models: list[str], tiny: bool, why: str) -> str:
    """The markdown report of the minidl-only timing."""
    lines = ["# minidl training step (minidl alone)", "",
             f"Note: {why}, so no minidl / PyTorch ratio is shown (install torch to run benchmarks/run.py "
             "side by side). One step: forward, the description's loss, backward and optimizer update on "
             "random float32 clips; the median of "
             f"{TINY_STEPS if tiny else FULL_STEPS} steps after one warm-up step.", "",
             "| model | batch | ms/step | clips/s |", "|---|---|---|---|"]
    for name in models:
        batch, seconds = time_training_step(name, TINY_BATCH if tiny else None, TINY_STEPS if tiny else FULL_STEPS)
        lines.append(f"| {name} | {batch} | {seconds * 1e3:.1f} | {batch / seconds:,.0f} |")
    return "\n".join(lines) + "\n"
