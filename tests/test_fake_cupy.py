"""The strict CuPy stand-in of tests/fake_cupy tests itself: strict where CuPy is strict, CuPy-like
where NumPy differs, and made only of names the real CuPy 14.2.0 wheel exposes.

These tests import the stand-in directly (by path), so they run in every suite, with or
without ``MINIDL_FAKE_CUPY=1``.
"""

import importlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

FAKE = Path(__file__).resolve().parent / "fake_cupy"
NAMES = json.loads((FAKE / "cupy_names.json").read_text())["names"]


def _load(name):
    sys.path.insert(0, str(FAKE))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(FAKE))


@pytest.fixture(scope="module")
def cp():
    """The stand-in's ``cupy``: the one already imported under MINIDL_FAKE_CUPY=1, else loaded for
    this module only (and taken out of ``sys.modules`` afterwards)."""
    module = sys.modules.get("cupy")
    if module is not None:
        if not getattr(module, "__fake__", False):
            pytest.skip("the real CuPy is imported in this process")
        yield module
        return
    module = _load("cupy")
    yield module
    for name in [n for n in sys.modules if n.split(".")[0] in ("cupy", "cupyx")]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def cpx(cp):
    _load("cupyx.scipy.special")
    return sys.modules["cupyx"]


def test_name_list_is_the_real_wheels():
    assert json.loads((FAKE / "cupy_names.json").read_text())["cupy_version"] == "14.2.0"
    assert "errstate" not in NAMES["cupy"] and "errstate" in NAMES["cupyx"]
    assert {"asarray", "asnumpy", "ndarray", "float32", "exp", "where"} <= set(NAMES["cupy"])
    assert "get_state" not in NAMES["cupy.random.Generator"] and "bit_generator" not in NAMES["cupy.random.Generator"]


def test_the_array_is_not_a_numpy_array(cp):
    a = cp.asarray(np.arange(3.0))
    assert isinstance(a, cp.ndarray) and not isinstance(a, np.ndarray)
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        np.asarray(a)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.array(a)


@pytest.mark.parametrize("host", [np.ones(3), np.array(1.0)], ids=["1-d", "0-d"])
def test_host_arrays_are_refused(cp, host):
    a = cp.asarray(np.arange(3.0))
    for operation in (lambda: a + host, lambda: host + a, lambda: a * host, lambda: cp.add(a, host),
                      lambda: cp.maximum(host, a), lambda: np.add(a, host), lambda: cp.where(a > 0, host, a)):
        with pytest.raises(TypeError, match="Unsupported type"):
            operation()
    with pytest.raises(TypeError):
        a += host
    with pytest.raises(TypeError):
        a[...] = host
    with pytest.raises(TypeError):
        a[0] = host
    with pytest.raises(TypeError):
        cp.multiply(a, 2.0, out=np.empty(3))
    with pytest.raises(TypeError):
        np.add.at(a, cp.asarray([0]), 1.0)


def test_scalars_are_accepted(cp):
    a = cp.asarray(np.arange(3.0, dtype=np.float32))
    assert (a + np.float32(1)).dtype == np.float32 and (a * 0.5).dtype == np.float32
    a[0] = np.float64(7.0)
    a += 1
    assert a.get().tolist() == [8.0, 2.0, 3.0]


def test_cupy_like_results(cp):
    a = cp.asarray(np.arange(6.0).reshape(2, 3))
    total = a.sum()
    assert isinstance(total, cp.ndarray) and total.shape == () and float(total) == 15.0
    assert isinstance(a[0, 1], cp.ndarray) and isinstance(cp.max(a), cp.ndarray)
    assert a[cp.asarray([0, 2, -1])].get().tolist() == [[0, 1, 2], [0, 1, 2], [3, 4, 5]]  # 2 wraps to 0
    assert a[:, np.array([4])].get().ravel().tolist() == [1.0, 4.0]  # 4 wraps to 1
    host = cp.asnumpy(a)
    host[0, 0] = 99
    assert float(a[0, 0]) == 0 and a.get() is not a.get()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isinf(cp.asnumpy(cp.asarray(np.ones(2)) / 0)).all()  # no RuntimeWarning
        cp.log(cp.asarray(np.zeros(1)))


def test_only_real_names(cp, cpx):
    with pytest.raises(AttributeError, match="not in CuPy"):
        cp.errstate  # noqa: B018
    with pytest.raises(AttributeError):
        cp.random.default_rng(0).bit_generator  # noqa: B018
    with pytest.raises(AttributeError):
        cp.asarray(np.ones(2)).__array_interface__  # noqa: B018
    assert cp.float32 is np.float32 and cp.inf == np.inf
    special = sys.modules["cupyx.scipy.special"]
    assert float(special.erf(cp.asarray(np.array(0.0)))) == 0.0


def test_random_streams_are_its_own(cp):
    draws = cp.random.default_rng(0).random((4,), dtype=np.float32)
    assert isinstance(draws, cp.ndarray) and draws.dtype == np.float32
    assert not np.array_equal(draws.get(), np.random.default_rng(0).random(4, dtype=np.float32))
    assert np.array_equal(draws.get(), cp.random.default_rng(0).random((4,), dtype=np.float32).get())


def test_scatter_add_accumulates(cp, cpx):
    g = cp.zeros(3)
    cpx.scatter_add(g, cp.asarray([0, 0, 2]), 1.0)
    assert g.get().tolist() == [2.0, 0.0, 1.0]


def test_device_count_and_counter(cp):
    assert cp.cuda.runtime.getDeviceCount() == 1
    before = cp.ARRAYS_MADE
    cp.zeros(2)
    assert before < cp.ARRAYS_MADE
