"""``minidl gradcheck``: the float64 gradient check of every differentiable primitive, as one table.

Each case of :mod:`minidl.cli.gradcheck_cases` is checked as :func:`minidl.gradcheck` does: the
analytic Jacobian (one backward pass per output element) against central differences, input by
input, then one backward pass with a random dense upstream gradient against v^T J_num.  Unlike
``minidl.gradcheck``, which stops at the first mismatch, this reports the worst |analytic - numerical|
of each case and whether every element is within ``atol + rtol * |numerical|``.  A case must also
really build a node of the primitive it claims to check.  Exit status 1 if any case fails.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, NamedTuple

import numpy as np

from minidl.autograd.function import Function
from minidl.autograd.gradcheck import analytic_jacobian, numerical_jacobian, outputs, vjp
from minidl.autograd.tensor import Tensor
from minidl.cli.gradcheck_cases import CASES, Case


class Result(NamedTuple):
    case: Case
    shapes: str
    max_error: float
    passed: bool
    note: str = ""


def register(commands: Any) -> None:
    """Add the ``gradcheck`` command to the ``minidl`` parser."""
    command = commands.add_parser(
        "gradcheck", help="gradient-check every differentiable primitive in float64; print a table",
        description="Run the float64 gradient check (analytic Jacobian and a random vector-Jacobian product "
                    "against central differences) of every differentiable primitive of minidl.ops on small "
                    "random inputs, and print per case the op, the input shapes, the worst |analytic - "
                    "numerical| and whether it passed. Exit status 1 if any case fails.")
    command.add_argument("--op", metavar="NAME", default=None,
                         help="only the cases whose op (or description) contains NAME, case-insensitive")
    command.add_argument("--list", action="store_true", help="list the cases without running them")
    command.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    command.set_defaults(run=run_gradcheck)


def select(name: str | None) -> list[Case]:
    """The cases whose op class name or label contains ``name`` (all when None)."""
    if name is None:
        return list(CASES)
    wanted = name.lower()
    cases = [c for c in CASES if wanted in c.name.lower() or wanted in c.label.lower()]
    if not cases:
        raise ValueError(f"gradcheck: no op matches {name!r}; `minidl gradcheck --list` lists them")
    return cases


def run_gradcheck(args: argparse.Namespace) -> int:
    cases = select(args.op)
    if args.list:
        width = max(len(c.name) for c in cases)
        for c in cases:
            print(f"{c.name:<{width}}  {c.label}")
        return 0
    start = time.perf_counter()
    results = [check_case(case, args.seed) for case in cases]
    print(format_table(results))
    failed = sum(not r.passed for r in results)
    ops = len({r.case.op for r in results})
    print(f"\n{_plural(len(results), 'case')} of {_plural(ops, 'op')}: {len(results) - failed} passed, "
          f"{failed} failed ({time.perf_counter() - start:.1f} s)")
    return 1 if failed else 0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ------------------------------------------------------------------------------------ checking
def make_inputs(case: Case, seed: int) -> tuple[Any, ...]:
    """The case's inputs: floating NumPy arrays become float64 tensors that require grad."""
    made = case.make(np.random.default_rng(seed))
    return tuple(Tensor(np.asarray(a, dtype=np.float64), requires_grad=True)
                 if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in made)


def check_case(case: Case, seed: int = 0) -> Result:
    """Check one case; never raises (an exception is a failed case, with its message as the note)."""
    inputs = make_inputs(case, seed)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    shapes = ", ".join(str(tuple(inputs[i].shape)) for i in wrt)
    try:
        reached = graph_ops(outputs(case.func, inputs))
        if case.op not in reached:
            names = ", ".join(sorted(cls.__name__ for cls in reached)) or "no node"
            return Result(case, shapes, float("nan"), False, f"does not reach {case.name} (built: {names})")
        worst, passed = 0.0, True
        for i in wrt:
            error, ok = compare(analytic_jacobian(case.func, inputs, i),
                                numerical_jacobian(case.func, inputs, i, case.eps), case.atol, case.rtol)
            worst, passed = max(worst, error), passed and ok
        error, ok = _random_vjp_check(case, inputs, wrt, np.random.default_rng(seed + 1))
        worst, passed = max(worst, error), passed and ok
    except Exception as err:  # noqa: BLE001 - a crashing backward is a failed check, reported in its row
        return Result(case, shapes, float("nan"), False, f"{type(err).__name__}: {err}")
    return Result(case, shapes, worst, passed)


def compare(analytic: np.ndarray, numerical: np.ndarray, atol: float, rtol: float) -> tuple[float, bool]:
    """(max |a - n|, whether |a - n| <= atol + rtol |n| everywhere); NaN fails."""
    if analytic.size == 0:
        return 0.0, True
    diff = np.abs(analytic - numerical)
    worst = float(diff.max()) if not np.isnan(diff).any() else float("nan")
    return worst, bool(np.all(diff <= atol + rtol * np.abs(numerical)))


def graph_ops(outputs: list[Tensor]) -> set[type[Function]]:
    """The classes of every node of the graph that produced ``outputs``."""
    seen: set[int] = set()
    found: set[type[Function]] = set()
    todo = [o.grad_fn for o in outputs if o.grad_fn is not None]
    while todo:
        fn = todo.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        found.add(type(fn))
        todo.extend(t.grad_fn for t in fn.inputs or () if t is not None and t.grad_fn is not None)
    return found


def _random_vjp_check(case: Case, inputs: tuple[Any, ...], wrt: list[int],
                      rng: np.random.Generator) -> tuple[float, bool]:
    """One backward pass with a random dense upstream gradient v, against v^T J_num per input."""
    n_out = sum(o.numel() for o in outputs(case.func, inputs))
    upstream = rng.uniform(0.5, 1.5, n_out) * rng.choice([-1.0, 1.0], n_out)
    worst, passed = 0.0, True
    for i, got in zip(wrt, vjp(case.func, inputs, upstream, wrt), strict=True):
        expected = upstream @ numerical_jacobian(case.func, inputs, i, case.eps)
        error, ok = compare(got[None], expected[None], case.atol, case.rtol)
        worst, passed = max(worst, error), passed and ok
    return worst, passed


# ------------------------------------------------------------------------------------- report
def format_table(results: list[Result]) -> str:
    """A plain-text table: op, case, input shapes, max error, ok/FAIL (and why, for a crash)."""
    header = ("op", "case", "inputs", "max error", "result")
    rows = [(r.case.name, r.case.label, r.shapes, f"{r.max_error:.2e}", "ok" if r.passed else "FAIL")
            for r in results]
    widths = [max(len(row[k]) for row in [header, *rows]) for k in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(header, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    for r, row in zip(results, rows):
        line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
        lines.append(f"{line}  ({r.note})" if r.note else line)
    return "\n".join(lines)
