"""Inverted dropout: statistics, determinism under the seed, gradients, edge cases, nn.Dropout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import DTYPES, check_grad, md, rng, to_np

import minidl
import minidl.functional as F
from minidl import nn


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_keep_rate_scale_and_mean(p: float, dtype: type) -> None:
    n = 200_000
    x = rng(100).uniform(0.5, 1.5, n).astype(dtype)  # (rng(0) is the stream minidl's seed 0 draws the mask from)
    y = to_np(F.dropout(md(x), p))
    kept = y != 0
    assert y.dtype == dtype
    assert abs(kept.mean() - (1 - p)) < 4 * np.sqrt(p * (1 - p) / n)  # binomial keep rate, 4 sigma
    np.testing.assert_array_equal(y[kept], x[kept] * dtype(1 / (1 - p)))  # kept values scaled by 1/(1-p)
    # E[y] = x and Var(y_i) = x_i^2 p / (1 - p): the mean is preserved within 4 sigma
    assert abs(y.mean() - x.mean()) < 4 * np.sqrt((x.astype(np.float64) ** 2).mean() * p / ((1 - p) * n))


def test_same_seed_same_mask_other_seed_other_mask() -> None:
    x = md(np.ones((64, 33), np.float32))
    minidl.manual_seed(11)
    a = to_np(F.dropout(x, 0.3))
    minidl.manual_seed(11)
    b = to_np(F.dropout(x, 0.3))
    minidl.manual_seed(12)
    c = to_np(F.dropout(x, 0.3))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, to_np(F.dropout(x, 0.3)))  # the generator advances


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_is_the_scaled_mask(dtype: type) -> None:
    p = 0.4
    r = rng(11)
    x = md(r.uniform(1, 2, (50, 20)).astype(dtype), requires_grad=True)
    g = r.standard_normal((50, 20)).astype(dtype)
    y = F.dropout(x, p)
    y.backward(md(g))
    mask = (to_np(y) != 0) * dtype(1 / (1 - p))
    assert x.grad.dtype == x.dtype
    np.testing.assert_array_equal(to_np(x.grad), g * mask)


def test_gradcheck_with_a_fixed_mask() -> None:
    def fixed_mask_dropout(x: minidl.Tensor) -> minidl.Tensor:
        minidl.manual_seed(3)  # the same mask on every call
        return F.dropout(x, 0.35)

    check_grad(fixed_mask_dropout, [rng(2).standard_normal((4, 7))])


def test_eval_and_p0_return_the_input_p1_gives_zeros() -> None:
    x = md(rng(3).standard_normal((5, 6)).astype(np.float32), requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    t = torch.ones(3, requires_grad=True)
    assert torch.nn.functional.dropout(t, 0.5, training=False) is t and torch.nn.functional.dropout(t, 0.0) is t
    y = F.dropout(x, 1.0)
    y.sum().backward()
    assert not to_np(y).any() and not to_np(x.grad).any()


def test_inplace() -> None:
    x = md(np.ones((40, 40), np.float32))
    minidl.manual_seed(5)
    expected = to_np(F.dropout(x, 0.25))
    minidl.manual_seed(5)
    out = F.dropout(x, 0.25, inplace=True)
    assert out is x
    np.testing.assert_array_equal(to_np(x), expected)
    leaf = md(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place operation"):
        F.dropout(leaf, 0.5, inplace=True)


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_bad_probability(p: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(md(np.ones(3, np.float32)), p)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(p)


def test_integer_input_is_refused() -> None:
    with pytest.raises(TypeError, match="floating"):
        F.dropout(md(np.ones(3, np.int64)), 0.5)


def test_module_train_eval_and_repr() -> None:
    layer = nn.Dropout(0.2)
    assert repr(layer) == repr(torch.nn.Dropout(0.2)) == "Dropout(p=0.2, inplace=False)"
    assert repr(nn.Dropout()) == repr(torch.nn.Dropout())
    x = md(np.ones((100, 100), np.float32))
    assert (to_np(layer(x)) == 0).any()
    layer.eval()
    assert layer(x) is x
