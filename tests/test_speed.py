"""The speed settings (minidl/speed.py): applied by ``import minidl``, reported, and never changing a result."""

import subprocess
import sys

import pytest

import minidl
from minidl import speed


def test_import_applies_the_settings_and_reports_them():
    expected = sys.platform.startswith("linux")
    assert speed.settings() == {"keep_freed_memory": expected} == speed.apply()


def test_keep_freed_memory_can_be_turned_off():
    code = "import minidl; print(minidl.speed.settings())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"MINIDL_KEEP_FREED_MEMORY": "0", "PATH": ""}).stdout
    assert out.strip() == "{'keep_freed_memory': False}"


def test_num_threads_sets_blas_threads_as_torch_does():
    before = minidl.get_num_threads()
    try:
        minidl.set_num_threads(1)
        assert minidl.get_num_threads() == 1
    finally:
        minidl.set_num_threads(before)
    assert minidl.get_num_threads() == before


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_num_threads_must_be_a_positive_int(bad):
    with pytest.raises(ValueError, match="set_num_threads: expected a positive number of threads"):
        minidl.set_num_threads(bad)
