"""Convolution forward + backward: minidl (im2col + BLAS) vs PyTorch, in one process, alternating.

Cases: the paper's conv model (input (256, 128, 10) -> Conv1d 128->256 k3 p1 -> Conv1d 256->256
k3 p1, float32, weights copied into torch; the input needs no gradient, as in training), its two
layers alone (with the input gradient), and a few other conv1d/conv2d shapes (strides, groups,
larger images).  A run is a forward and a backward with a random upstream gradient.

The frameworks alternate in blocks: a block is one untimed warm-up run and ``--per-block`` timed
runs of one framework, then the same for the other, ``--blocks`` times; the table gives the median
of all timed runs, the ratio minidl / torch (below 1: minidl is faster) and the page faults per
run.  Blocks rather than run-by-run alternation because OpenBLAS's worker threads keep spinning
for a while after a NumPy matrix product and take the cores from a PyTorch run that follows
immediately (that made PyTorch look ~2x slower on the paper's model here).

``--keep-freed-memory`` first tells glibc's malloc to keep freed memory (no mmap for large blocks,
no trimming of the heap), as PyTorch's caching allocator does; by default each large NumPy array
is mapped afresh and page-faulted in again: thousands of faults per run.

    python benchmarks/bench_conv.py [--blocks 5] [--per-block 4] [--threads 2] [--forward-only]
                                    [--keep-freed-memory]

A script, not a test: timings vary by machine and load.
"""

from __future__ import annotations

import argparse
import ctypes
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import minidl
from minidl import nn

P1 = {"padding": 1}
# (label, conv dims, input shape, layers as (in, out, kernel, keyword arguments), input needs a gradient)
CASES = [
    ("paper conv model (2 layers)", 1, (256, 128, 10), [(128, 256, 3, P1), (256, 256, 3, P1)], False),
    ("paper layer 1: 128->256 k3 p1", 1, (256, 128, 10), [(128, 256, 3, P1)], True),
    ("paper layer 2: 256->256 k3 p1", 1, (256, 256, 10), [(256, 256, 3, P1)], True),
    ("conv1d 64->64 L100 k5 s2 p2", 1, (32, 64, 100), [(64, 64, 5, {"stride": 2, "padding": 2})], True),
    ("conv1d 64->64 L100 k3 'same' g4", 1, (32, 64, 100), [(64, 64, 3, {"padding": "same", "groups": 4})], True),
    ("conv2d 16->32 28x28 k3 p1", 2, (32, 16, 28, 28), [(16, 32, 3, P1)], True),
    ("conv2d 32->64 32x32 k3 s2 p1", 2, (16, 32, 32, 32), [(32, 64, 3, {"stride": 2, "padding": 1})], True),
    ("conv2d 3->16 64x64 k5 p2", 2, (16, 3, 64, 64), [(3, 16, 5, {"padding": 2})], True),
]


def build(dims: int, layers: list[tuple[int, int, int, dict[str, Any]]]) -> tuple[nn.Module, torch.nn.Module]:
    """The minidl stack and its torch twin with the same weights."""
    ours = nn.Sequential(*[(nn.Conv1d if dims == 1 else nn.Conv2d)(i, o, k, **kw) for i, o, k, kw in layers])
    theirs = torch.nn.Sequential(*[(torch.nn.Conv1d if dims == 1 else torch.nn.Conv2d)(i, o, k, **kw)
                                   for i, o, k, kw in layers])
    with torch.no_grad():
        for p, q in zip(ours.parameters(), theirs.parameters()):
            q.copy_(torch.from_numpy(p.detach().numpy()))
    return ours, theirs


def step(model: Any, lib: Any, x: np.ndarray, gy: np.ndarray, forward_only: bool,
         input_grad: bool) -> Callable[[], None]:
    """One forward (and backward with upstream gradient ``gy``) of ``model`` in library ``lib``."""
    wrap = minidl.tensor if lib is minidl else torch.tensor

    def run() -> None:
        for p in model.parameters():
            p.grad = None
        xi = wrap(x, requires_grad=input_grad)
        if forward_only:
            with lib.no_grad():
                model(xi)
        else:
            model(xi).backward(wrap(gy))

    return run


def keep_freed_memory() -> None:
    """glibc only: never mmap large blocks and never trim the heap, so freed arrays are reused."""
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 1 << 30)
    libc.mallopt(m_trim_threshold, 1 << 30)


def alternate_blocks(runs: dict[str, Callable[[], None]], blocks: int,
                     per_block: int) -> dict[str, tuple[float, float]]:
    """(median seconds, page faults per run) of each callable, timed in alternating blocks."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    faults = dict.fromkeys(runs, 0)
    for _ in range(blocks):
        for name, run in runs.items():
            run()  # warm-up after the switch
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            for _ in range(per_block):
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
            faults[name] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    return {name: (statistics.median(t), faults[name] / len(t)) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--per-block", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--forward-only", action="store_true", help="time the forward pass alone (no_grad)")
    parser.add_argument("--keep-freed-memory", action="store_true", help="glibc mallopt first (see above)")
    args = parser.parse_args()
    if args.keep_freed_memory:
        keep_freed_memory()
    torch.set_num_threads(args.threads)
    minidl.manual_seed(0)
    rng = np.random.default_rng(0)
    mode = "forward" if args.forward_only else "forward + backward"
    print(f"{mode}, float32, torch threads {torch.get_num_threads()}, median of {args.blocks * args.per_block} "
          f"runs in alternating blocks{', keep-freed-memory' if args.keep_freed_memory else ''}")
    print(f"{'case':<34} {'minidl ms':>10} {'torch ms':>10} {'ratio':>7} {'faults/run minidl torch':>24}")
    for label, dims, shape, layers, input_grad in CASES:
        ours, theirs = build(dims, layers)
        x = rng.standard_normal(shape, dtype=np.float32)
        with torch.no_grad():
            gy = rng.standard_normal(tuple(theirs(torch.from_numpy(x)).shape), dtype=np.float32)
        grad = input_grad and not args.forward_only
        t = alternate_blocks({"minidl": step(ours, minidl, x, gy, args.forward_only, grad),
                              "torch": step(theirs, torch, x, gy, args.forward_only, grad)},
                             args.blocks, args.per_block)
        (ours_s, ours_faults), (theirs_s, theirs_faults) = t["minidl"], t["torch"]
        print(f"{label:<34} {ours_s * 1e3:10.2f} {theirs_s * 1e3:10.2f} {ours_s / theirs_s:7.2f} "
              f"{ours_faults:17.0f} {theirs_faults:6.0f}", flush=True)


if __name__ == "__main__":
    main()
