"""PyTorch-style programs (tests/programs/) run under torch and under minidl with only the import changed.

Each program is run twice in a fresh interpreter: as written (``import torch``), and with that one
line replaced by ``import minidl as torch``.  Every number it prints must agree within 1e-5
(relative, float32 rounding; an absolute 1e-6 floor for values near zero).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

PROGRAMS = sorted((Path(__file__).parent / "programs").glob("*.py"))
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def run(source: str, path: Path) -> str:
    path.write_text(source)
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{path.name} failed:\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.stem)
def test_program_prints_the_same_numbers_under_torch_and_minidl(program: Path, tmp_path: Path) -> None:
    source = program.read_text()
    assert source.count("\nimport torch\n") == 1, "a program imports torch once, on a line of its own"
    as_minidl = source.replace("\nimport torch\n", "\nimport minidl as torch\n")
    torch_out, minidl_out = run(source, tmp_path / "under_torch.py"), run(as_minidl, tmp_path / "under_minidl.py")
    torch_numbers, minidl_numbers = NUMBER.findall(torch_out), NUMBER.findall(minidl_out)
    assert len(torch_numbers) == len(minidl_numbers) > 0, f"torch printed\n{torch_out}\nminidl printed\n{minidl_out}"
    assert NUMBER.sub("#", torch_out) == NUMBER.sub("#", minidl_out), "the printed text differs"
    for i, (a, b) in enumerate(zip(minidl_numbers, torch_numbers)):
        assert abs(float(a) - float(b)) <= 1e-6 + 1e-5 * abs(float(b)), \
            f"number {i}: minidl {a}, torch {b}\ntorch printed\n{torch_out}\nminidl printed\n{minidl_out}"
