"""``minidl gradcheck`` (every primitive's float64 gradient check, as a table) and ``minidl bench``."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import numpy as np
import pytest

import minidl
import minidl.ops
from minidl.autograd.function import Function
from minidl.cli.gradcheck import check_case
from minidl.cli.gradcheck_cases import CASES, Case, concrete_ops, normal
from minidl.cli.main import main
from minidl.ops.elementwise import Exp, Sqrt


def _rows(printed: str) -> list[list[str]]:
    """The table rows of ``minidl gradcheck`` (header, rule and summary left out), split on 2+ spaces."""
    lines = printed.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    rows = []
    for line in lines[rule + 1:]:
        if not line.strip():
            break
        rows.append([cell.strip() for cell in line.split("  ") if cell.strip()])
    return rows


# ------------------------------------------------------------------------------------ gradcheck
def _ops_functions() -> set[type[Function]]:
    """Every Function subclass defined in a minidl.ops module with its own forward, found independently."""
    for info in pkgutil.iter_modules(minidl.ops.__path__):
        importlib.import_module(f"minidl.ops.{info.name}")
    found: set[type[Function]] = set()

    def walk(cls: type[Function]) -> None:
        for sub in cls.__subclasses__():
            if sub.__module__.split(".")[:2] == ["minidl", "ops"] and "forward" in {
                    k for c in sub.__mro__ if c is not Function for k in vars(c)}:
                found.add(sub)
            walk(sub)

    walk(Function)
    return found


def test_catalogue_covers_every_primitive_of_minidl_ops() -> None:
    primitives = _ops_functions()
    assert {"Convolution", "Dropout", "CrossEntropy", "BatchNorm", "Maximum", "ConstantPad"} <= {
        cls.__name__ for cls in primitives}
    missing = primitives - {case.op for case in CASES}
    assert not missing, f"no gradcheck case for {sorted(cls.__name__ for cls in missing)}: add one to CASES"
    assert set(concrete_ops()) == primitives  # the command's own list agrees (no abstract bases, nothing left out)


def test_every_primitive_passes_with_a_row_per_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gradcheck"]) == 0
    printed = capsys.readouterr().out
    rows = _rows(printed)
    assert len(rows) == len(CASES)
    assert [row[0] for row in rows] == [case.name for case in CASES]
    assert all(row[-1] == "ok" and float(row[-2]) < 1e-4 for row in rows), printed
    ops = len({case.op for case in CASES})
    assert f"{len(CASES)} cases of {ops} ops: {len(CASES)} passed, 0 failed" in printed


def test_op_filter_and_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gradcheck", "--op", "conv"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert {row[0] for row in rows} == {"Convolution"} and len(rows) == sum(c.name == "Convolution" for c in CASES)
    assert main(["gradcheck", "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == len(CASES) and listed[0].split()[0] == CASES[0].name
    assert main(["gradcheck", "--op", "no-such-op"]) == 2
    assert "minidl: error: gradcheck: no op matches 'no-such-op'" in capsys.readouterr().err


def test_a_wrong_backward_fails_in_its_row(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    correct = Exp.backward
    monkeypatch.setattr(Exp, "backward", lambda self, gz: correct(self, gz) * 1.01)
    assert main(["gradcheck"]) == 1
    printed = capsys.readouterr().out
    rows = _rows(printed)
    assert {row[0] for row in rows if row[-1] == "FAIL"} == {"Exp"}, printed
    exp_rows = [row for row in rows if row[0] == "Exp"]
    assert exp_rows and all(row[-1] == "FAIL" and float(row[-2]) > 1e-4 for row in exp_rows)
    assert f"{len(exp_rows)} failed" in printed


def test_a_crashing_backward_is_a_failed_row(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    def broken(self: Function, gz: np.ndarray) -> np.ndarray:
        raise ArithmeticError("sqrt backward exploded")

    monkeypatch.setattr(Sqrt, "backward", broken)
    assert main(["gradcheck", "--op", "sqrt"]) == 1
    printed = capsys.readouterr().out
    assert "FAIL  (ArithmeticError: sqrt backward exploded)" in printed


def test_a_case_that_does_not_reach_its_op_fails() -> None:
    result = check_case(Case(Exp, "x * x claims to check exp", lambda x: x * x, normal(3)))
    assert not result.passed and "does not reach Exp (built: Mul)" in result.note
    assert check_case(Case(Exp, "exp", minidl.exp, normal(3))).passed


# ---------------------------------------------------------------------------------------- bench
WITHOUT_TORCH = """
import sys

class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoTorch())
from minidl.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_bench_without_torch_times_minidl_alone(tmp_path) -> None:
    out = tmp_path / "alone.md"
    done = subprocess.run([sys.executable, "-c", WITHOUT_TORCH, "bench", "--tiny", "--out", str(out)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "torch" not in done.stderr
    printed = done.stdout
    assert "PyTorch is not installed, so no minidl / PyTorch ratio is shown" in printed
    assert "| model | batch | ms/step | clips/s |" in printed
    for name in ("fc", "residual", "conv"):
        row = next(line for line in printed.splitlines() if line.startswith(f"| {name} |"))
        _, _, batch, ms, clips, _ = (cell.strip() for cell in row.split("|"))
        assert batch == "32" and float(ms) > 0 and float(clips.replace(",", "")) > 0
    assert out.read_text() in printed and f"wrote {out}" in printed


def test_bench_with_torch_runs_the_side_by_side_script(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch  # noqa: F401 - a test dependency: this fails (never skips) where PyTorch is missing

    out = tmp_path / "tmp" / "R.md"
    out.parent.mkdir()
    assert main(["bench", "--tiny", "--out", str(out), "--models", "fc"]) == 0
    printed = capsys.readouterr().out
    assert "benchmarks/run.py --tiny --out" in printed and f"wrote {out}" in printed
    report = out.read_text()
    assert report.startswith("# minidl vs PyTorch") and "| fc | training |" in report
    assert "| conv | training |" not in report  # --models reached the script
