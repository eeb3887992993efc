"""Test configuration: ``pytest --device cuda`` runs the whole suite on CuPy (needs a GPU).

``MINIDL_FAKE_CUPY=1 pytest --device cuda`` runs it on the strict CuPy stand-in in
tests/fake_cupy instead (no GPU needed; see docs/cupy.md).
"""

import os
import sys
from pathlib import Path

import pytest

FAKE_CUPY = Path(__file__).resolve().parent / "fake_cupy"

# TensorFlow and the `tfrecord` package (the data tests' independent TFRecord writer) each register
# TensorFlow's example.proto messages in protobuf's default pool, so one process cannot import both:
# the keras tests run in a process of their own (tests/test_keras_suite.py starts it).
collect_ignore = [] if os.environ.get("MINIDL_KERAS_SUITE") else ["keras"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--device", default=os.environ.get("MINIDL_TEST_DEVICE", "cpu"),
                     choices=["cpu", "cuda"], help="device the minidl side of every test runs on")


def pytest_configure(config: pytest.Config) -> None:
    os.environ["MINIDL_TEST_DEVICE"] = config.getoption("--device")
    if config.getoption("--device") == "cuda":
        # TF32 matmuls/convolutions (about 1e-3 relative error) would break float32 parity at 1e-5.
        os.environ["CUPY_TF32"] = "0"
    if use_fake_cupy():
        assert "minidl" not in sys.modules and "cupy" not in sys.modules, \
            "MINIDL_FAKE_CUPY=1: minidl or cupy was imported before tests/conftest.py could install the fake"
        sys.path.insert(0, str(FAKE_CUPY))
        # subprocesses started by tests (the CLI tests) find the fake as well
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FAKE_CUPY), os.environ.get("PYTHONPATH")]))


def use_fake_cupy() -> bool:
    """True when ``MINIDL_FAKE_CUPY=1`` selects the CuPy stand-in of tests/fake_cupy."""
    return os.environ.get("MINIDL_FAKE_CUPY", "0") not in ("", "0")


#: tests that assert this machine has no GPU: under the stand-in there is one.  (They fail on a real
#: GPU machine too; their owners should guard them with ``minidl.cuda.is_available()``.)
#: test ids that made at least one device array (fake CuPy only), and all tests run
_DEVICE_TESTS: set[str] = set()
_ALL_TESTS: set[str] = set()


@pytest.fixture(autouse=True)
def _count_device_arrays(request: pytest.FixtureRequest):
    """Under the fake CuPy, note whether the test put arrays on the device (reported at the end)."""
    if not use_fake_cupy():
        yield
        return
    import cupy

    before = cupy.ARRAYS_MADE
    yield
    _ALL_TESTS.add(request.node.nodeid)
    if before < cupy.ARRAYS_MADE:
        _DEVICE_TESTS.add(request.node.nodeid)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if use_fake_cupy():
        terminalreporter.write_line(f"fake cupy: {len(_DEVICE_TESTS)} of {len(_ALL_TESTS)} tests put arrays on "
                                    f"the device (--device {config.getoption('--device')})")


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Every test starts from the same minidl seed."""
    import minidl

    minidl.manual_seed(0)
