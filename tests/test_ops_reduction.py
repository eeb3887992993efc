"""Reductions: sum, mean, var, max, min, amax, amin, argmax, argmin.

Gradcheck in float64 and parity with PyTorch over dim None / int / negative / tuple, keepdim,
var's correction, and PyTorch's tie rules: a full reduction (``max()``, ``amax``) splits the
gradient evenly among tied extrema; ``max(dim)`` gives it all to the index it returns.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import DTYPES, check_grad, check_parity, md, rng, th, to_np

import minidl

X = rng(1).standard_normal((2, 3, 4))  # distinct values: no ties unless a test makes them
X_ONES = rng(2).standard_normal((1, 3, 2))  # a size-1 dimension (never reduced alone: var would be nan)

#: every form of ``dim``: all (None, and the empty tuple as PyTorch), int, negative, tuples
DIMS = [None, (), 1, -1, (0, 2), (-1, 0), (0, 1, 2)]


SUM_LIKE = {
    "sum": (minidl.sum, torch.sum),
    "mean": (minidl.mean, torch.mean),
    "amax": (lambda x, **kw: minidl.amax(x, **kw), lambda x, **kw: torch.amax(x, **kw)),
    "amin": (lambda x, **kw: minidl.amin(x, **kw), lambda x, **kw: torch.amin(x, **kw)),
    "var": (minidl.var, torch.var),
    "var_correction_0": (lambda x, **kw: minidl.var(x, correction=0, **kw),
                         lambda x, **kw: torch.var(x, correction=0, **kw)),
    "var_unbiased_false": (lambda x, **kw: x.var(unbiased=False, **kw),
                           lambda x, **kw: x.var(unbiased=False, **kw)),
}


@pytest.mark.parametrize("x", [X, X_ONES], ids=["2x3x4", "1x3x2"])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("name", SUM_LIKE)
def test_gradcheck(name: str, dim: int | tuple | None, keepdim: bool, x: np.ndarray) -> None:
    fn, _ = SUM_LIKE[name]
    check_grad(lambda t: fn(t, dim=dim, keepdim=keepdim), [x])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("name", SUM_LIKE)
def test_parity(name: str, dim: int | tuple | None, keepdim: bool, dtype: type) -> None:
    fn, th_fn = SUM_LIKE[name]
    # torch 2.13's var backward with dim=() divides by 1 - correction (inf gradients); its dim=None is
    # the same reduction, computed right
    th_dim = None if name.startswith("var") and dim == () else dim
    check_parity(lambda x: fn(x, dim=dim, keepdim=keepdim), lambda x: th_fn(x, dim=th_dim, keepdim=keepdim),
                 [X], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_methods_and_positional_dims(dtype: type) -> None:
    check_parity(lambda x: x.sum(1), lambda x: x.sum(1), [X], dtype)
    check_parity(lambda x: x.mean((0, 2), True), lambda x: x.mean((0, 2), True), [X], dtype)
    check_parity(lambda x: x.var(2), lambda x: x.var(2), [X], dtype)
    check_parity(lambda x: x.sum(), lambda x: x.sum(), [X[0, 0]], dtype)
    check_parity(lambda x: x.amax(0), lambda x: x.amax(0), [X], dtype)


@pytest.mark.parametrize("values, correction", [([1.5], 1), ([1.0, 2.0], 2), ([1.0, 2.0], 3), ([2.0, 2.0], 2)])
def test_var_without_degrees_of_freedom_matches_torch(values: list, correction: int) -> None:
    """n - correction <= 0: PyTorch divides by 0 (inf, or nan for a zero sum) and warns."""
    with np.errstate(invalid="ignore"):
        got = minidl.var(md(np.array(values)), correction=correction)
    with pytest.warns(UserWarning, match="degrees of freedom"):
        expected = torch.var(th(np.array(values)), correction=correction)
    np.testing.assert_array_equal(to_np(got), to_np(expected))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_of_integers_and_bools_is_int64(dtype: type) -> None:
    for a in [np.array([[1, 2], [3, 4]]), np.array([[True, False], [True, True]])]:
        got, expected = minidl.sum(md(a), 0), torch.sum(th(a), 0)
        assert got.dtype == minidl.int64 and expected.dtype == torch.int64
        np.testing.assert_array_equal(to_np(got), to_np(expected))


# ----------------------------------------------------------------------- max / min, full
@pytest.mark.parametrize("name", ["max", "min"])
def test_full_max_min_gradcheck(name: str) -> None:
    check_grad(getattr(minidl, name), [X])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["max", "min"])
def test_full_max_min_ties_split_evenly(name: str, dtype: type) -> None:
    """Three tied maxima (minima) each receive a third of the gradient, as in PyTorch."""
    a = np.array([[1.0, 3.0, -2.0], [3.0, 0.5, 3.0]]) * (1 if name == "max" else -1)
    check_parity(getattr(minidl, name), getattr(torch, name), [a], dtype)
    check_parity(lambda x: getattr(x, name)(), lambda x: getattr(x, name)(), [X], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_amin_ties_split_evenly_per_slice(name: str, dtype: type) -> None:
    a = np.array([[[1.0, 1.0], [0.0, -1.0]], [[2.0, 2.0], [2.0, 2.0]], [[-1.0, -1.0], [-1.0, -5.0]]])
    a = a if name == "amax" else -a
    for kwargs in [{}, {"dim": 1}, {"dim": (1, 2)}, {"dim": (0, 2), "keepdim": True}]:
        check_parity(lambda x, kw=kwargs: getattr(minidl, name)(x, **kw),
                     lambda x, kw=kwargs: getattr(torch, name)(x, **kw), [a], dtype)


# ------------------------------------------------------------------- max / min along a dim
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("name", ["max", "min"])
def test_along_dim_gradcheck(name: str, dim: int, keepdim: bool) -> None:
    check_grad(lambda x: getattr(minidl, name)(x, dim, keepdim=keepdim).values, [X])


def _ties_along_dims() -> np.ndarray:
    """Repeated values along every dimension, so ties decide both the index and the gradient."""
    return np.array([[[2.0, 2.0, 1.0], [2.0, 0.0, 2.0]], [[-1.0, 3.0, 3.0], [3.0, 3.0, -1.0]]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("ties", [False, True])
def test_along_dim_values_indices_and_gradient(name: str, dim: int, keepdim: bool, dtype: type, ties: bool) -> None:
    """Values, indices (int64, torch's choice among ties) and the gradient sent to that index."""
    a = _ties_along_dims() if ties else X
    a = a if name == "max" or not ties else -a
    check_parity(lambda x: getattr(minidl, name)(x, dim, keepdim).values,
                 lambda x: getattr(torch, name)(x, dim, keepdim).values, [a], dtype)
    got = getattr(md(a.astype(dtype)), name)(dim=dim, keepdim=keepdim)
    expected = getattr(th(a.astype(dtype)), name)(dim=dim, keepdim=keepdim)
    values, indices = got  # unpacks like torch.return_types.max
    assert indices.dtype == minidl.int64 and not indices.requires_grad
    np.testing.assert_array_equal(to_np(indices), to_np(expected.indices))
    np.testing.assert_array_equal(to_np(values), to_np(expected.values))


def test_along_dim_with_requires_grad_returns_same_indices() -> None:
    a = _ties_along_dims()
    got = minidl.max(md(a, requires_grad=True), 1)
    expected = torch.max(th(a, requires_grad=True), 1)
    np.testing.assert_array_equal(to_np(got.indices), to_np(expected.indices))
    assert got.values.requires_grad


# ------------------------------------------------------------------------- argmax / argmin
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_match_torch(name: str, dim: int | None, keepdim: bool) -> None:
    for a in [X, _ties_along_dims(), np.array([[1, 5, 5], [7, 7, 0]])]:
        got = getattr(minidl, name)(md(a), dim=dim, keepdim=keepdim)
        expected = getattr(torch, name)(th(a), dim=dim, keepdim=keepdim)
        assert got.dtype == minidl.int64 and got.grad_fn is None
        assert got.shape == tuple(expected.shape)
        np.testing.assert_array_equal(to_np(got), to_np(expected))
    method = getattr(md(X, requires_grad=True), name)(1)
    assert not method.requires_grad
