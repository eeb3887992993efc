"""Adam step time: minidl vs ``torch.optim.Adam`` (foreach=False and foreach=True) on the fc model.

The parameters have the shapes of the paper's fc model (1280-1024-1024-527): an optimizer step
is pure memory traffic over ~2.9 M floats, so this measures how many passes each implementation
makes.  Run: ``python benchmarks/bench_optim.py [--steps 50] [--threads N]``.  Prints the median
step time of each and the ratios minidl / torch (a script, not a test: timings vary by machine).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

import minidl
from minidl import optim

SHAPES = [(1024, 1280), (1024,), (1024, 1024), (1024,), (527, 1024), (527,)]


def median_step_time(step: Callable[[], None], steps: int) -> float:
    """Median wall time of ``step()`` in seconds, after three warm-up steps."""
    for _ in range(3):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def minidl_adam(arrays: list[np.ndarray], grads: list[np.ndarray], **kwargs: object) -> Callable[[], None]:
    params = [minidl.tensor(a, requires_grad=True) for a in arrays]
    for p, g in zip(params, grads):
        p.grad = minidl.tensor(g)
    return optim.Adam(params, lr=1e-3, **kwargs).step


def torch_adam(arrays: list[np.ndarray], grads: list[np.ndarray], foreach: bool,
               **kwargs: object) -> Callable[[], None]:
    params = [torch.tensor(a, requires_grad=True) for a in arrays]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    return torch.optim.Adam(params, lr=1e-3, foreach=foreach, **kwargs).step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) * 0.05 for s in SHAPES]
    grads = [rng.standard_normal(s).astype(np.float32) * 1e-3 for s in SHAPES]
    print(f"Adam step on {sum(a.size for a in arrays) / 1e6:.2f} M float32 parameters "
          f"(torch threads: {torch.get_num_threads()})")
    for label, kwargs in [("default", {}), ("weight_decay=1e-4", {"weight_decay": 1e-4}),
                          ("amsgrad", {"amsgrad": True})]:
        ours = median_step_time(minidl_adam(arrays, grads, **kwargs), args.steps)
        loop = median_step_time(torch_adam(arrays, grads, False, **kwargs), args.steps)
        fused = median_step_time(torch_adam(arrays, grads, True, **kwargs), args.steps)
        print(f"{label:>18}: minidl {ours * 1e3:6.2f} ms | torch foreach=False {loop * 1e3:6.2f} ms "
              f"(ratio {ours / loop:4.2f}) | torch foreach=True {fused * 1e3:6.2f} ms (ratio {ours / fused:4.2f})")


if __name__ == "__main__":
    main()
