"""Max, average and adaptive average pooling (functional and modules) against PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import DTYPES, check_grad, check_parity, md, rng, to_np

import minidl
import minidl.functional as F
from minidl import nn

# (function name, input shape, keyword arguments): padding, strides with remainders, dilation,
# ceil_mode (incl. a last window that starts in the input but runs past the padding), unbatched.
MAX = [
    ("max_pool1d", (2, 3, 8), {"kernel_size": 2}),
    ("max_pool1d", (2, 3, 9), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ("max_pool1d", (2, 2, 10), {"kernel_size": 3, "stride": 3, "ceil_mode": True}),
    ("max_pool1d", (2, 2, 11), {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 2, "ceil_mode": True}),
    ("max_pool1d", (3, 7), {"kernel_size": (4,), "stride": (1,), "padding": (2,)}),
    ("max_pool2d", (2, 3, 6, 7), {"kernel_size": 2}),
    ("max_pool2d", (2, 2, 7, 9), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    ("max_pool2d", (1, 2, 9, 8), {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 1), "dilation": (2, 3)}),
    ("max_pool2d", (2, 5, 6), {"kernel_size": (2, 3), "stride": (2, 2), "ceil_mode": True}),
]
AVG = [
    ("avg_pool1d", (2, 3, 8), {"kernel_size": 2}),
    ("avg_pool1d", (2, 3, 9), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ("avg_pool1d", (2, 3, 9), {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}),
    ("avg_pool1d", (2, 2, 10), {"kernel_size": 4, "stride": 3, "padding": 2, "ceil_mode": True}),
    ("avg_pool1d", (2, 2, 10), {"kernel_size": 4, "stride": 3, "padding": 2, "ceil_mode": True,
                                "count_include_pad": False}),
    ("avg_pool1d", (3, 7), {"kernel_size": (3,), "stride": (1,), "padding": (1,)}),
    ("avg_pool2d", (2, 3, 6, 7), {"kernel_size": 2}),
    ("avg_pool2d", (2, 2, 7, 9), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    ("avg_pool2d", (2, 2, 7, 9), {"kernel_size": (3, 2), "stride": (2, 3), "padding": (1, 1), "ceil_mode": True,
                                  "count_include_pad": False}),
    ("avg_pool2d", (2, 2, 6, 5), {"kernel_size": 3, "padding": 1, "stride": 1, "divisor_override": 5}),
    ("avg_pool2d", (2, 5, 6), {"kernel_size": (2, 3), "stride": 2}),
]
ADAPTIVE = [
    ("adaptive_avg_pool1d", (2, 3, 10), {"output_size": 1}),
    ("adaptive_avg_pool1d", (2, 3, 10), {"output_size": 3}),
    ("adaptive_avg_pool1d", (2, 3, 5), {"output_size": 7}),
    ("adaptive_avg_pool1d", (3, 10), {"output_size": (4,)}),
    ("adaptive_avg_pool2d", (2, 3, 7, 9), {"output_size": 1}),
    ("adaptive_avg_pool2d", (2, 3, 7, 9), {"output_size": (3, 4)}),
    ("adaptive_avg_pool2d", (2, 3, 7, 5), {"output_size": (None, 2)}),
    ("adaptive_avg_pool2d", (3, 4, 5), {"output_size": (6, 3)}),
]
CASES = MAX + AVG + ADAPTIVE


def _ids(cases: list) -> list[str]:
    return [f"{name}-{shape}-{kw}" for name, shape, kw in cases]


def _fns(name: str, kw: dict) -> tuple[Any, Any]:
    return (lambda x: getattr(F, name)(x, **kw)), (lambda x: getattr(TF, name)(x, **kw))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,shape,kw", CASES, ids=_ids(CASES))
def test_pool_parity(name: str, shape: tuple, kw: dict, dtype: type) -> None:
    m, t = _fns(name, kw)
    check_parity(m, t, [rng(0).standard_normal(shape)], dtype)


@pytest.mark.parametrize("name,shape,kw", CASES, ids=_ids(CASES))
def test_pool_gradcheck(name: str, shape: tuple, kw: dict) -> None:
    check_grad(_fns(name, kw)[0], [rng(1).standard_normal(shape)])


@pytest.mark.parametrize("values", [
    np.ones((1, 2, 7, 7)),                                       # every window a tie
    np.repeat(np.array([0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0]), 7).reshape(1, 1, 7, 7),  # ties across rows
    np.full((1, 1, 7, 7), -np.inf),                              # nothing beats -inf: the first real element
])
def test_max_pool_ties_follow_torch(values: np.ndarray) -> None:
    """Equal maxima: the gradient goes where torch sends it (first in scan order), incl. padded and
    overlapping windows."""
    for kw in [{"kernel_size": 3, "stride": 2, "padding": 1}, {"kernel_size": 3, "stride": 1, "ceil_mode": True},
               {"kernel_size": (2, 3), "stride": 2, "padding": 1, "dilation": 2}]:
        m, t = _fns("max_pool2d", kw)
        check_parity(m, t, [values], np.float64)
        m1, t1 = _fns("max_pool1d", kw | {"kernel_size": 3})
        check_parity(m1, t1, [values[0, :, 0]], np.float64)


def test_max_pool_nan_propagates_like_torch() -> None:
    x = rng(2).standard_normal((1, 2, 9))
    x[0, 0, [2, 3]] = np.nan  # two NaNs in one window
    x[0, 1, 5] = np.nan
    m, t = _fns("max_pool1d", {"kernel_size": 3, "stride": 2, "padding": 1})
    check_parity(m, t, [x], np.float64)


def test_empty_batch_matches_torch() -> None:
    for name, kw in [("max_pool1d", {"kernel_size": 2}), ("avg_pool1d", {"kernel_size": 3, "padding": 1}),
                     ("adaptive_avg_pool1d", {"output_size": 2})]:
        m, t = _fns(name, kw)
        check_parity(m, t, [np.zeros((0, 3, 6))], np.float64)


def test_global_average_pooling_over_time_is_the_mean() -> None:
    x = rng(3).standard_normal((4, 6, 10)).astype(np.float32)
    y = F.adaptive_avg_pool1d(md(x), 1)
    assert y.shape == (4, 6, 1) and y.dtype == minidl.float32
    np.testing.assert_allclose(to_np(y)[..., 0], x.mean(axis=2), rtol=1e-6, atol=1e-6)


def test_pool_keeps_float32() -> None:
    x = md(rng(4).standard_normal((2, 3, 8, 8)).astype(np.float32), requires_grad=True)
    for f in [lambda t: F.max_pool2d(t, 2), lambda t: F.avg_pool2d(t, 3, 2, 1),
              lambda t: F.adaptive_avg_pool2d(t, (3, 2))]:
        x.grad = None
        y = f(x)
        y.sum().backward()
        assert y.dtype == minidl.float32 and x.grad.dtype == minidl.float32


def _x(*shape: int, dtype: Any = np.float64) -> minidl.Tensor:
    return md(np.ones(shape, dtype))


@pytest.mark.parametrize("make,error,match", [
    (lambda: F.max_pool1d(_x(5), 2), RuntimeError, r"2D \(unbatched\) or 3D \(batched\).*\(5,\)"),
    (lambda: F.max_pool2d(_x(2, 3, 4, 4, 4), 2), RuntimeError, r"3D \(unbatched\) or 4D"),
    (lambda: F.avg_pool1d(_x(2, 3, 0), 1), RuntimeError, "non-zero"),
    (lambda: F.max_pool1d(_x(2, 3, 5), 3, padding=2), RuntimeError, "at most half of kernel size"),
    (lambda: F.avg_pool2d(_x(2, 3, 5, 5), 2, padding=(0, 2)), RuntimeError, "at most half of kernel size"),
    (lambda: F.max_pool1d(_x(2, 3, 5), 7), RuntimeError, r"output size \(0,\) is too small"),
    (lambda: F.max_pool2d(_x(2, 3, 5, 5), 3, dilation=3), RuntimeError, "too small"),
    (lambda: F.max_pool1d(_x(2, 3, 5), (2, 3)), ValueError, "kernel_size must be an int or a tuple of 1"),
    (lambda: F.max_pool1d(_x(2, 3, 5), 2, stride=0), ValueError, "stride must be >= 1"),
    (lambda: F.avg_pool2d(_x(2, 3, 5, 5), 2, divisor_override=0), ValueError, "divisor_override"),
    (lambda: F.adaptive_avg_pool1d(_x(2, 3, 5), (2, 2)), ValueError, "output_size"),
    (lambda: F.adaptive_avg_pool2d(_x(2, 3, 5, 5), -1), ValueError, "output_size"),
    (lambda: F.adaptive_avg_pool1d(_x(5), 2), RuntimeError, "2D"),
    (lambda: F.max_pool1d(_x(2, 3, 5, dtype=np.int64), 2), TypeError, "floating point"),
])
def test_pool_errors(make: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        make()


# ---------------------------------------------------------------------------------- modules
MODULES = [
    ("MaxPool1d", (3,), {}, (2, 3, 10)),
    ("MaxPool1d", (3, 2, 1), {"dilation": 2, "ceil_mode": True}, (2, 3, 10)),
    ("MaxPool2d", ((2, 3),), {"stride": 1, "padding": 1}, (2, 2, 5, 6)),
    ("AvgPool1d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}, (2, 3, 10)),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}, (2, 2, 7, 6)),
    ("AvgPool2d", (2,), {"divisor_override": 3}, (2, 2, 4, 6)),
    ("AdaptiveAvgPool1d", (1,), {}, (2, 3, 10)),
    ("AdaptiveAvgPool2d", ((None, 2),), {}, (2, 3, 4, 5)),
]


@pytest.mark.parametrize("name,args,kw,shape", MODULES)
def test_pool_modules_match_torch(name: str, args: tuple, kw: dict, shape: tuple) -> None:
    layer, ref = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(layer) == repr(ref)
    check_parity(layer, ref, [rng(6).standard_normal(shape)], np.float32)


def test_max_pool_return_indices_is_refused() -> None:
    with pytest.raises(NotImplementedError, match="return_indices"):
        nn.MaxPool1d(2, return_indices=True)
