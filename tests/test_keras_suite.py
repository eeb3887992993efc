"""Runs tests/keras (the Keras backend of model descriptions) in a process of its own.

TensorFlow and the ``tfrecord`` package used by the data tests both register TensorFlow's
``example.proto`` messages in protobuf's default pool, so they cannot share a process
(see conftest.py).  This test fails when the keras tests fail, or when the ``keras`` extra is missing.
"""

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_the_keras_backend_suite_passes():
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(TESTS / "keras")],
                            capture_output=True, text=True, cwd=TESTS.parent,
                            env={**os.environ, "MINIDL_KERAS_SUITE": "1"})
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout.splitlines()[-1] and "skipped" not in result.stdout.splitlines()[-1]
