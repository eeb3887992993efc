"""The official PyTorch tutorial scripts in tests/programs/tutorials/ run on minidl and print PyTorch's numbers.

Each file is a tutorial as published, with only its import lines changed to minidl (``import minidl as
torch``, ``import minidl.nn.functional as F``, ...).  The test runs it twice in a fresh interpreter: as
saved, and with those import lines turned back to torch.

Both runs start from the same random numbers: a prelude seeds PyTorch (and Python's ``random``), and
in the minidl run it makes minidl's generator draw from PyTorch's (``TorchDraws``), so ``torch.randn``,
``torch.rand`` and the default initialisation of ``Linear``/``Conv2d`` give the same initial values in
both runs (the same values injected; minidl's own streams differ from PyTorch's).  Then every number
printed must agree to float32 rounding (relative 1e-5, absolute 1e-6; measured: at most 1.1e-6
relative, after 2,000 to 30,000 training steps), and the text around the numbers must be the same
once PyTorch's and minidl's names are aligned (``torch.float32``/``minidl.float32``; graph nodes such
as ``<AddmmBackward0 object at 0x...>``/``<LinearBackward>`` are compared as ``<Backward>``: minidl
names nodes after its own primitives).

The one edit beyond imports: basics_buildmodel_tutorial's ``from torchvision import datasets,
transforms`` is commented out (unused there, and torchvision is not installed here).  The Learn the
Basics scripts that need torchvision's datasets (quickstart, data, transforms, optimization,
save/load) are not included.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).parent / "programs" / "tutorials").glob("*.py"))
SLOW = {"dynamic_net"}  # 30,000 steps in each library: about a minute on one core


def _param(program: Path) -> object:
    return pytest.param(program, marks=[pytest.mark.slow] if program.stem in SLOW else [], id=program.stem)
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
IMPORT_LINE = re.compile(r"^(?:import|from) minidl\b.*$", re.M)

SEED = """import random as _random
import torch as _torch
_random.seed(0)
_torch.manual_seed(0)
"""
#: makes minidl's CPU generator draw from PyTorch's, so both runs start from the same random numbers
INJECT = SEED + """import numpy as _numpy
from minidl.autograd import random as _minidl_random


class TorchDraws:
    _DTYPES = {_numpy.dtype("float32"): _torch.float32, _numpy.dtype("float64"): _torch.float64}

    def random(self, size=(), dtype=_numpy.float64):
        return _torch.rand(size, dtype=self._DTYPES[_numpy.dtype(dtype)]).numpy()

    def standard_normal(self, size=(), dtype=_numpy.float64):
        return _torch.randn(size, dtype=self._DTYPES[_numpy.dtype(dtype)]).numpy()

    def integers(self, low, high, size=()):
        return _torch.randint(low, high, size).numpy()

    def permutation(self, n):
        return _torch.randperm(n).numpy()


_minidl_random._State.cpu = TorchDraws()
"""
#: aligns what legitimately differs in the printed text: the library's name (``torch.float32``), and
#: graph nodes, which minidl names after its own primitives (``<LinearBackward>`` for PyTorch's
#: ``<AddmmBackward0 object at 0x7f...>``) and whose fused nodes list their inputs in their own order
#: (minidl's Linear: input, weight, bias; PyTorch's addmm: bias, input, weight.t(), so the tutorial's
#: second ``next_functions[0][0]`` is an ``AccumulateGrad`` there and a ``ReLUBackward`` here)
ALIGN = [(re.compile(r"<(?:\w+Backward\d*|AccumulateGrad)(?: object at 0x[0-9a-f]+)?>"), "<Backward>"),
         (re.compile(r"\bminidl\."), "torch.")]


def as_torch(source: str) -> str:
    """The tutorial as published: its minidl import lines turned back to torch."""
    return IMPORT_LINE.sub(lambda m: m.group(0).replace("minidl as torch", "torch").replace("minidl", "torch"),
                           source)


def run(source: str, path: Path) -> str:
    path.write_text(source)
    # PyTorch here is a CPU build, so both libraries run the tutorial on the CPU: no CuPy stand-in in the child
    env = {k: v for k, v in os.environ.items() if k != "MINIDL_FAKE_CUPY"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                                        if p and "fake_cupy" not in p)
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=600, cwd=path.parent,
                          env=env)
    assert done.returncode == 0, f"{path.name} failed:\n{done.stderr[-3000:]}"
    return done.stdout


def aligned(text: str) -> str:
    for pattern, replacement in ALIGN:
        text = pattern.sub(replacement, text)
    return text


def test_every_tutorial_changes_only_its_imports() -> None:
    for program in TUTORIALS:
        source = program.read_text()
        lines = source.splitlines()
        assert lines[0].startswith("# Source: https://github.com/pytorch/tutorials/blob/"), program.name
        changed = [line for line in lines if "minidl" in line and not line.startswith("#")]
        assert changed and all(IMPORT_LINE.fullmatch(line) for line in changed), program.name


@pytest.mark.parametrize("program", [_param(p) for p in TUTORIALS])
def test_tutorial_prints_pytorchs_numbers(program: Path, tmp_path: Path) -> None:
    source = program.read_text()
    torch_out = aligned(run(SEED + as_torch(source), tmp_path / "under_torch.py"))
    minidl_out = aligned(run(INJECT + source, tmp_path / "under_minidl.py"))
    torch_numbers, minidl_numbers = NUMBER.findall(torch_out), NUMBER.findall(minidl_out)
    assert NUMBER.sub("#", minidl_out) == NUMBER.sub("#", torch_out), \
        f"the printed text differs\ntorch printed\n{torch_out}\nminidl printed\n{minidl_out}"
    for i, (a, b) in enumerate(zip(minidl_numbers, torch_numbers)):
        assert abs(float(a) - float(b)) <= 1e-6 + 1e-5 * abs(float(b)), \
            f"number {i}: minidl {a}, torch {b}\ntorch printed\n{torch_out}\nminidl printed\n{minidl_out}"
