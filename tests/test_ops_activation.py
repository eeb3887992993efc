"""Activations and the softmax family: gradcheck in float64, parity with PyTorch in float32 and
float64, and PyTorch's values at the edges (relu'(0) = 0, softplus past its threshold, sigmoid
and log_softmax at +-1e4, logsumexp of all -inf)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import DTYPES, check_grad, check_parity, md, nonzero, rng, to_np

import minidl

#: shapes for the pointwise activations: 0-d, vector, matrix, 3-d
SHAPES = [(), (5,), (3, 4), (2, 3, 2)]

# name -> (minidl function, torch function, input maker shape -> arrays); inputs keep away from kinks
POINTWISE = {
    "relu": (minidl.relu, torch.relu, lambda s: [nonzero(s, 1)]),
    "relu_method": (lambda x: x.relu(), lambda x: x.relu(), lambda s: [nonzero(s, 2)]),
    "leaky_relu": (minidl.leaky_relu, F.leaky_relu, lambda s: [nonzero(s, 3)]),
    "leaky_relu_slope": (lambda x: minidl.leaky_relu(x, 0.2), lambda x: F.leaky_relu(x, 0.2),
                         lambda s: [nonzero(s, 4)]),
    "sigmoid": (minidl.sigmoid, torch.sigmoid, lambda s: [rng(5).standard_normal(s) * 3]),
    "tanh": (lambda x: x.tanh(), torch.tanh, lambda s: [rng(6).standard_normal(s) * 2]),
    "softplus": (minidl.softplus, F.softplus, lambda s: [rng(7).standard_normal(s) * 3]),
    "gelu": (minidl.gelu, F.gelu, lambda s: [rng(8).standard_normal(s) * 2]),
    "gelu_tanh": (lambda x: minidl.gelu(x, approximate="tanh"), lambda x: F.gelu(x, approximate="tanh"),
                  lambda s: [rng(9).standard_normal(s) * 2]),
}


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise_gradcheck(name: str, shape: tuple[int, ...]) -> None:
    fn, _, make = POINTWISE[name]
    check_grad(fn, make(shape))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise_parity(name: str, shape: tuple[int, ...], dtype: type) -> None:
    fn, th_fn, make = POINTWISE[name]
    check_parity(fn, th_fn, make(shape), dtype)


# name -> (minidl function, torch function, inputs): parameters and dims on fixed inputs
CASES = {
    "softplus_beta_threshold": (lambda x: minidl.softplus(x, beta=2.0, threshold=5.0),
                                lambda x: F.softplus(x, beta=2.0, threshold=5.0),
                                [np.array([[-3.0, -0.7, 0.3, 1.9], [2.7, 3.5, -6.0, 4.2]])]),
    "softmax_last": (lambda x: minidl.softmax(x, -1), lambda x: torch.softmax(x, -1),
                     [rng(10).standard_normal((3, 5))]),
    "softmax_dim0": (lambda x: x.softmax(0), lambda x: x.softmax(0), [rng(11).standard_normal((4, 3))]),
    "softmax_middle": (lambda x: minidl.softmax(x, 1), lambda x: torch.softmax(x, 1),
                       [rng(12).standard_normal((2, 3, 4))]),
    "softmax_vector": (lambda x: minidl.softmax(x, 0), lambda x: torch.softmax(x, 0), [rng(21).standard_normal(6)]),
    "softmax_size_one_dim": (lambda x: minidl.softmax(x, 1), lambda x: torch.softmax(x, 1),
                             [rng(22).standard_normal((3, 1))]),
    "log_softmax_vector": (lambda x: minidl.log_softmax(x, -1), lambda x: torch.log_softmax(x, -1),
                           [rng(23).standard_normal(6)]),
    "log_softmax_last": (lambda x: minidl.log_softmax(x, -1), lambda x: torch.log_softmax(x, -1),
                         [rng(13).standard_normal((3, 5))]),
    "log_softmax_dim0": (lambda x: x.log_softmax(0), lambda x: x.log_softmax(0), [rng(14).standard_normal((4, 3))]),
    "log_softmax_middle": (lambda x: minidl.log_softmax(x, 1), lambda x: torch.log_softmax(x, 1),
                           [rng(15).standard_normal((2, 3, 4))]),
    "logsumexp": (lambda x: minidl.logsumexp(x, 1), lambda x: torch.logsumexp(x, 1),
                  [rng(16).standard_normal((3, 5))]),
    "logsumexp_vector": (lambda x: minidl.logsumexp(x, 0), lambda x: torch.logsumexp(x, 0),
                         [rng(24).standard_normal(5)]),
    "logsumexp_keepdim": (lambda x: x.logsumexp(-1, keepdim=True), lambda x: x.logsumexp(-1, keepdim=True),
                          [rng(17).standard_normal((2, 3, 4))]),
    "logsumexp_tuple": (lambda x: minidl.logsumexp(x, (0, 2)), lambda x: torch.logsumexp(x, (0, 2)),
                        [rng(18).standard_normal((2, 3, 4))]),
    "logsumexp_tuple_keepdim": (lambda x: minidl.logsumexp(x, (2, 0), keepdim=True),
                                lambda x: torch.logsumexp(x, (2, 0), keepdim=True),
                                [rng(19).standard_normal((2, 3, 4))]),
    "logsumexp_large": (lambda x: minidl.logsumexp(x, 0), lambda x: torch.logsumexp(x, 0),
                        [rng(20).standard_normal((4, 3)) * 30 + 500]),
}


@pytest.mark.parametrize("name", CASES)
def test_gradcheck(name: str) -> None:
    fn, _, arrays = CASES[name]
    check_grad(fn, arrays)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_parity(name: str, dtype: type) -> None:
    fn, th_fn, arrays = CASES[name]
    check_parity(fn, th_fn, arrays, dtype)


# ------------------------------------------------------------------------------ edge points
EXTREMES = np.array([-1e4, -100.0, -20.0, 0.0, 20.0, 100.0, 1e4])

EDGES = {
    "relu_at_zero_and_infinities": (minidl.relu, torch.relu, [np.array([-np.inf, -1.0, -0.0, 0.0, 2.0, np.inf])]),
    "leaky_relu_at_zero": (lambda x: minidl.leaky_relu(x, 0.1), lambda x: F.leaky_relu(x, 0.1),
                           [np.array([-1.0, 0.0, 1.0])]),
    "sigmoid_extremes": (minidl.sigmoid, torch.sigmoid, [EXTREMES]),
    "tanh_extremes": (minidl.tanh, torch.tanh, [EXTREMES]),
    "softplus_extremes": (minidl.softplus, F.softplus, [EXTREMES]),
    # exactly at the threshold PyTorch still uses the soft formula (the switch is beta x > threshold)
    "softplus_at_threshold": (lambda x: minidl.softplus(x, beta=2.0, threshold=5.0),
                              lambda x: F.softplus(x, beta=2.0, threshold=5.0), [np.array([2.5, 2.4999, 2.5001])]),
    "gelu_extremes": (minidl.gelu, F.gelu, [EXTREMES]),
    "gelu_tanh_extremes": (lambda x: minidl.gelu(x, approximate="tanh"), lambda x: F.gelu(x, approximate="tanh"),
                           [np.array([-100.0, -20.0, 0.0, 20.0, 100.0])]),
    "softmax_extremes": (lambda x: minidl.softmax(x, 1), lambda x: torch.softmax(x, 1),
                         [np.array([[-1e4, 0.0, 1e4], [1e4, 1e4, -1e4]])]),
    "log_softmax_extremes": (lambda x: minidl.log_softmax(x, 1), lambda x: torch.log_softmax(x, 1),
                             [np.array([[-1e4, 0.0, 1e4], [1e4, 1e4, -1e4]])]),
    "logsumexp_extremes": (lambda x: minidl.logsumexp(x, 1), lambda x: torch.logsumexp(x, 1),
                           [np.array([[-1e4, 0.0, 1e4], [1e4, 1e4, -1e4]])]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", EDGES)
def test_edge_points_match_torch(name: str, dtype: type) -> None:
    fn, th_fn, arrays = EDGES[name]
    check_parity(fn, th_fn, arrays, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_and_log_softmax_stay_finite_at_extremes(dtype: type) -> None:
    x = md(np.array([[-1e4, 1e4], [1e4, -1e4]], dtype), requires_grad=True)
    (minidl.sigmoid(x).sum() + minidl.log_softmax(x, 1).sum()).backward()
    assert np.isfinite(to_np(minidl.sigmoid(x))).all()
    assert np.isfinite(to_np(minidl.log_softmax(x, 1))).all()
    assert np.isfinite(to_np(x.grad)).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_of_all_minus_infinity(dtype: type) -> None:
    """A slice that is entirely -inf gives -inf (no nan from inf - inf), as PyTorch; other
    slices are unaffected."""
    a = np.array([[-np.inf, -np.inf, -np.inf], [0.5, -np.inf, 1.5]], dtype)
    x, t = md(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        got = minidl.logsumexp(x, 1)
        expected = torch.logsumexp(t, 1)
        np.testing.assert_array_equal(to_np(got), to_np(expected))
        got.backward(md(np.array([0.5, 2.0], dtype)))
    expected.backward(torch.tensor(np.array([0.5, 2.0], dtype)))
    np.testing.assert_allclose(to_np(x.grad), to_np(t.grad), rtol=1e-6, equal_nan=True)
