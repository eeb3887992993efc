"""Optimizer step time: minidl's two paths vs ``torch.optim`` (foreach=False and True) on the fc model.

The parameters have the shapes of the paper's fc model (1280-1024-1024-527): an optimizer step
is pure memory traffic over ~2.9 M floats, so this measures how many passes each implementation
makes.  For Adam, SGD with momentum and RMSprop it times minidl's in-place path (the default,
``foreach=None``) and its textbook path (``foreach=False``: the docstring's formula, line for line),
and PyTorch's for-loop and foreach implementations.  Run: ``python benchmarks/bench_optim.py
[--steps 50] [--threads N]``.  Prints median step times and the ratios (a script, not a test).
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


def minidl_step(name: str, arrays: list[np.ndarray], grads: list[np.ndarray], **kwargs: object) -> Callable[[], None]:
    params = [minidl.tensor(a, requires_grad=True) for a in arrays]
    for p, g in zip(params, grads):
        p.grad = minidl.tensor(g)
    return getattr(optim, name)(params, lr=1e-3, **kwargs).step


def torch_step(name: str, arrays: list[np.ndarray], grads: list[np.ndarray], **kwargs: object) -> Callable[[], None]:
    params = [torch.tensor(a, requires_grad=True) for a in arrays]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    return getattr(torch.optim, name)(params, lr=1e-3, **kwargs).step


CASES = [("Adam", {}), ("Adam", {"weight_decay": 1e-4}), ("Adam", {"amsgrad": True}),
         ("SGD", {"momentum": 0.9}), ("RMSprop", {})]


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
    print(f"optimizer step on {sum(a.size for a in arrays) / 1e6:.2f} M float32 parameters "
          f"(torch threads: {torch.get_num_threads()}); median ms of {args.steps} steps\n")
    print("| optimizer | minidl in-place (default) | minidl textbook | in-place / textbook | torch foreach=False "
          "| torch foreach=True | minidl default / torch best |")
    print("|---|---|---|---|---|---|---|")
    for name, kwargs in CASES:
        times = {}
        for _ in range(3):  # alternated rounds; the best of each
            for label, make, foreach in [("in_place", minidl_step, None), ("textbook", minidl_step, False),
                                         ("loop", torch_step, False), ("foreach", torch_step, True)]:
                step = make(name, arrays, grads, foreach=foreach, **kwargs)
                times[label] = min(times.get(label, float("inf")), median_step_time(step, args.steps))
        best_torch = min(times["loop"], times["foreach"])
        print(f"| {name} {kwargs or ''} | {times['in_place'] * 1e3:.2f} | {times['textbook'] * 1e3:.2f} | "
              f"{times['in_place'] / times['textbook']:.2f} | {times['loop'] * 1e3:.2f} | {times['foreach'] * 1e3:.2f} "
              f"| {times['in_place'] / best_torch:.2f} |")


if __name__ == "__main__":
    main()
