"""Test configuration: ``pytest --device cuda`` runs the whole suite on CuPy (needs a GPU)."""

import os

import pytest

# TensorFlow and the `tfrecord` package (the data tests' independent TFRecord writer) each register
# TensorFlow's example.proto messages in protobuf's default pool, so one process cannot import both:
# the keras tests run in a process of their own (tests/test_keras_suite.py starts it).
collect_ignore = [] if os.environ.get("MINIDL_KERAS_SUITE") else ["keras"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--device", default=os.environ.get("MINIDL_TEST_DEVICE", "cpu"),
                     choices=["cpu", "cuda"], help="device the minidl side of every test runs on")


def pytest_configure(config: pytest.Config) -> None:
    os.environ["MINIDL_TEST_DEVICE"] = config.getoption("--device")


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Every test starts from the same minidl seed."""
    import minidl

    minidl.manual_seed(0)
