"""Shape ops (reshape/view, transpose/permute/.T, squeeze/unsqueeze, expand, flatten, indexing,
cat/stack, pad): gradcheck in float64 and parity with PyTorch in float32 and float64."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import DTYPES, check_grad, check_parity, md, rng, to_np

import minidl

X = rng(1).standard_normal((2, 3, 4))
ONES = rng(2).standard_normal((2, 1, 3, 1))


def same(fn: Callable[..., Any]) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The same call on both frameworks (methods and operators named alike)."""
    return fn, fn


# name -> ((minidl function, torch function), inputs); index arrays and masks are extra inputs
CASES = {
    "reshape": (same(lambda x: x.reshape(6, 4)), [X]),
    "reshape_tuple_infer": (same(lambda x: x.reshape((4, -1, 2))), [X]),
    "reshape_function": ((lambda x: minidl.reshape(x, (-1,)), lambda x: torch.reshape(x, (-1,))), [X]),
    "view": (same(lambda x: x.view(3, 8)), [X]),
    "view_as": (same(lambda x, y: x.view_as(y) * y), [X, X.reshape(4, 6)]),
    "transpose": (same(lambda x: x.transpose(0, 2)), [X]),
    "transpose_negative": ((lambda x: minidl.transpose(x, -1, -2), lambda x: torch.transpose(x, -1, -2)), [X]),
    "permute": (same(lambda x: x.permute(2, 0, 1)), [X]),
    "permute_tuple_negative": ((lambda x: minidl.permute(x, (-1, 0, -2)), lambda x: torch.permute(x, (-1, 0, -2))),
                               [X]),
    "T_matrix": (same(lambda x: x.T), [X[0]]),
    "squeeze_all": (same(lambda x: x.squeeze()), [ONES]),
    "squeeze_dim": (same(lambda x: x.squeeze(1)), [ONES]),
    "squeeze_negative": (same(lambda x: x.squeeze(-1)), [ONES]),
    "squeeze_tuple": ((lambda x: minidl.squeeze(x, (1, 3)), lambda x: torch.squeeze(x, (1, 3))), [ONES]),
    "squeeze_not_one": (same(lambda x: x.squeeze(0)), [ONES]),
    "unsqueeze_front": (same(lambda x: x.unsqueeze(0)), [X]),
    "unsqueeze_middle": ((lambda x: minidl.unsqueeze(x, 2), lambda x: torch.unsqueeze(x, 2)), [X]),
    "unsqueeze_end": (same(lambda x: x.unsqueeze(-1)), [X]),
    "expand": (same(lambda x: x.expand(2, 3, 4)), [rng(3).standard_normal((3, 1))]),
    "expand_keep": (same(lambda x: x.expand(-1, 5)), [rng(4).standard_normal((3, 1))]),
    "expand_function_new_dims": ((lambda x: minidl.expand(x, (2, 2, 3, 4)), lambda x: x.expand(2, 2, 3, 4)),
                                 [rng(5).standard_normal((1, 4))]),
    "expand_as": (same(lambda x, y: x.expand_as(y) * y), [rng(6).standard_normal((4,)), X]),
    "flatten": (same(lambda x: x.flatten()), [X]),
    "flatten_from_1": (same(lambda x: x.flatten(1)), [X]),
    "flatten_range": ((lambda x: minidl.flatten(x, 0, 1), lambda x: torch.flatten(x, 0, 1)), [X]),
    "flatten_negative": (same(lambda x: x.flatten(-2, -1)), [X]),
    "flatten_scalar": (same(lambda x: x.flatten()), [np.array(1.5)]),
    # basic indexing
    "index_int": (same(lambda x: x[1]), [X]),
    "index_negative_int": (same(lambda x: x[-1, :, 0]), [X]),
    "index_slices": (same(lambda x: x[:, 1:3, ::2]), [X]),
    "index_none": (same(lambda x: x[None, 1, None]), [X]),
    "index_ellipsis": (same(lambda x: x[..., 1]), [X]),
    "index_ellipsis_mixed": (same(lambda x: x[0, ..., None, 1:]), [X]),
    # PyTorch has no negative steps: compare with flip
    "index_negative_step": ((lambda x: x[:, ::-2], lambda x: torch.flip(x, [1])[:, ::2]), [X]),
    "index_reverse": ((lambda x: x[::-1, :, 3:0:-1], lambda x: torch.flip(x, [0, 2])[:, :, 0:3]), [X]),
    # integer arrays with repeats: the gradient is a scatter-add
    "index_array_repeats": (same(lambda x, i: x[i]), [X, np.array([1, 0, 1, 1])]),
    "index_array_dim1": (same(lambda x, i: x[:, i]), [X, np.array([2, 0, 2, 2])]),
    "index_array_2d": (same(lambda x, i: x[i]), [X[0], np.array([[0, 2], [2, 2]])]),
    "index_array_pairs": (same(lambda x, i, j: x[i, j]), [X[0], np.array([0, 1, 1, 1]), np.array([3, 3, 0, 3])]),
    "index_array_after_ellipsis": (same(lambda x, i: x[..., i]), [X, np.array([3, 3, -1])]),
    "index_list": (same(lambda x: x[[0, 0, 1]]), [X]),
    # boolean masks
    "index_mask_full": (same(lambda x, m: x[m]), [X, rng(7).random((2, 3, 4)) > 0.5]),
    "index_mask_rows": (same(lambda x, m: x[m]), [X, np.array([True, False])]),
    "index_mask_columns": (same(lambda x, m: x[:, m]), [X, np.array([True, False, True])]),
}


@pytest.mark.parametrize("name", CASES)
def test_gradcheck(name: str) -> None:
    (fn, _), arrays = CASES[name]
    check_grad(fn, arrays)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_parity(name: str, dtype: type) -> None:
    (fn, th_fn), arrays = CASES[name]
    check_parity(fn, th_fn, arrays, dtype)


# ------------------------------------------------------------------------------ cat and stack
def _pieces(dim: int, n: int, stacked: bool) -> list[np.ndarray]:
    """``n`` arrays that fit together along ``dim`` (sizes 1, 2, 3 there for cat)."""
    shape = [2, 3, 2]
    pieces = []
    for k in range(n):
        size = list(shape)
        if not stacked:
            size[dim] = k + 1
        pieces.append(rng(10 + k).standard_normal(size))
    return pieces


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_cat_gradcheck(dim: int, n: int) -> None:
    check_grad(lambda *xs: minidl.cat(xs, dim=dim), _pieces(dim, n, stacked=False))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_cat_parity(dim: int, n: int, dtype: type) -> None:
    check_parity(lambda *xs: minidl.cat(list(xs), dim), lambda *xs: torch.cat(xs, dim),
                 _pieces(dim, n, stacked=False), dtype)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("dim", [0, 1, 2, 3, -1, -4])
def test_stack_gradcheck(dim: int, n: int) -> None:
    check_grad(lambda *xs: minidl.stack(xs, dim=dim), _pieces(0, n, stacked=True))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("dim", [0, 1, 2, 3, -1, -4])
def test_stack_parity(dim: int, n: int, dtype: type) -> None:
    check_parity(lambda *xs: minidl.stack(list(xs), dim), lambda *xs: torch.stack(xs, dim),
                 _pieces(0, n, stacked=True), dtype)


def test_cat_of_the_same_tensor_twice_sums_gradients() -> None:
    check_parity(lambda x: minidl.cat([x, x * 2, x], 1), lambda x: torch.cat([x, x * 2, x], 1), [X], np.float64)


# ------------------------------------------------------------------------------------- pad
PADS = {
    "constant": ((2, 3, 5), (1, 2), {}),
    "constant_two_dims": ((2, 3, 5), (1, 2, 0, 1), {}),
    "constant_three_dims_value": ((2, 3, 4), (1, 0, 2, 1, 0, 1), {"value": 1.5}),
    "constant_negative_crop": ((2, 3, 5), (-1, 2, 1, -2), {"value": -0.5}),
    "constant_crop_only": ((2, 4, 5), (-1, -2, -1, 0), {}),
    "reflect": ((2, 3, 5), (2, 1), {"mode": "reflect"}),
    "reflect_two_dims": ((1, 2, 4, 5), (1, 3, 2, 1), {"mode": "reflect"}),
    "replicate": ((2, 3, 5), (2, 3), {"mode": "replicate"}),
    "replicate_two_dims": ((1, 2, 3, 4), (1, 2, 3, 0), {"mode": "replicate"}),
    "circular": ((2, 3, 5), (2, 3), {"mode": "circular"}),
    "circular_full_wrap": ((1, 2, 4), (4, 1), {"mode": "circular"}),
    "circular_two_dims": ((1, 2, 3, 4), (1, 2, 3, 0), {"mode": "circular"}),
}


@pytest.mark.parametrize("name", PADS)
def test_pad_gradcheck(name: str) -> None:
    shape, widths, kwargs = PADS[name]
    check_grad(lambda x: minidl.pad(x, widths, **kwargs), [rng(20).standard_normal(shape)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", PADS)
def test_pad_parity(name: str, dtype: type) -> None:
    shape, widths, kwargs = PADS[name]
    check_parity(lambda x: minidl.pad(x, widths, **kwargs), lambda x: F.pad(x, widths, **kwargs),
                 [rng(21).standard_normal(shape)], dtype)


# ------------------------------------------------------------------------------ views and aliasing
def test_basic_indexing_result_and_gradient_shapes() -> None:
    x = md(X, requires_grad=True)
    y = x[1, ::2]
    assert y.shape == (2, 4)
    y.sum().backward()
    expected = np.zeros_like(X)
    expected[1, ::2] = 1
    np.testing.assert_array_equal(to_np(x.grad), expected)


def test_iteration_yields_differentiable_rows() -> None:
    x = md(X, requires_grad=True)
    total = None
    for k, row in enumerate(x):
        total = row * (k + 1) if total is None else total + row * (k + 1)
    total.sum().backward()
    np.testing.assert_array_equal(to_np(x.grad), np.broadcast_to(np.arange(1, 3.0)[:, None, None], X.shape))
