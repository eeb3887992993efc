"""Convolution forward + backward: minidl (im2col + BLAS) vs PyTorch, in one process, alternating.

Cases: the paper's conv model (input (256, 128, 10) -> Conv1d 128->256 k3 p1 -> Conv1d 256->256
k3 p1, float32, weights copied into torch; the input needs no gradient, as in training), its two
layers alone (with the input gradient), and a few other conv1d/conv2d shapes (strides, groups,
larger images).  A run is a forward and a backward with a random upstream gradient.

Each timing is the median of ``--repeats`` runs taken in turns (minidl, torch, ...) with a short
pause before each (``timing.alternate``: BLAS and OpenMP worker threads keep spinning after a call
and would otherwise take the cores from the other framework's next run); the table prints
minidl / torch (below 1: minidl is faster).  minidl keeps freed memory for reuse
(``minidl.speed.keep_freed_memory``); run with ``MINIDL_KEEP_FREED_MEMORY=0`` to see the cost of
page-faulting every large array in afresh.

    python benchmarks/bench_conv.py [--repeats 15] [--threads 2] [--forward-only]

A script, not a test: timings vary by machine and load.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from timing import alternate

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--forward-only", action="store_true", help="time the forward pass alone (no_grad)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    minidl.manual_seed(0)
    rng = np.random.default_rng(0)
    mode = "forward" if args.forward_only else "forward + backward"
    print(f"{mode}, float32, torch threads {torch.get_num_threads()}, median of {args.repeats} alternated runs"
          f"{'' if minidl.speed.settings().get('keep_freed_memory') else ' (MINIDL_KEEP_FREED_MEMORY=0)'}")
    print(f"{'case':<34} {'minidl ms':>10} {'torch ms':>10} {'ratio':>7}")
    for label, dims, shape, layers, input_grad in CASES:
        ours, theirs = build(dims, layers)
        x = rng.standard_normal(shape, dtype=np.float32)
        with torch.no_grad():
            gy = rng.standard_normal(tuple(theirs(torch.from_numpy(x)).shape), dtype=np.float32)
        grad = input_grad and not args.forward_only
        t = alternate({"minidl": step(ours, minidl, x, gy, args.forward_only, grad),
                       "torch": step(theirs, torch, x, gy, args.forward_only, grad)}, args.repeats)
        print(f"{label:<34} {t['minidl'] * 1e3:10.2f} {t['torch'] * 1e3:10.2f} {t['minidl'] / t['torch']:7.2f}",
              flush=True)


if __name__ == "__main__":
    main()
