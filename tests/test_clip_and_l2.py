"""Gradient clipping against torch.nn.utils, and the explicit L2 penalty against weight_decay."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from helpers import (
    DTYPES,
    assert_close,
    check_grad,
    check_parity,
    md,
    mlp_loss,
    mlp_problem,
    rel_err,
    rng,
    th,
    to_np,
    train_steps,
)

import minidl
from minidl import optim
from minidl.nn.utils import clip_grad_norm_, clip_grad_value_, l2_penalty

SHAPES = [(4, 3), (5,), (2, 3, 2), (1,)]


def with_grads(make: Any, grads: list[np.ndarray], none_at: int | None = None) -> list[Any]:
    """Parameters (values irrelevant) carrying the given gradients; one without grad if asked."""
    params = [make(np.zeros_like(g), True) for g in grads]
    for i, (p, g) in enumerate(zip(params, grads)):
        if i != none_at:
            p.grad = make(g)
    return params


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])  # clipping, and a bound above the norm (coef clamped to 1)
def test_clip_grad_norm_matches_torch(dtype: Any, norm_type: Any, max_norm: float) -> None:
    grads = [rng(i).standard_normal(s).astype(dtype) for i, s in enumerate(SHAPES)]
    m_params, t_params = with_grads(md, grads, none_at=2), with_grads(th, grads, none_at=2)
    norm_type = float(norm_type)
    m_norm = clip_grad_norm_(m_params, max_norm, norm_type)
    t_norm = torch.nn.utils.clip_grad_norm_(t_params, max_norm, norm_type)
    assert isinstance(m_norm, minidl.Tensor) and m_norm.shape == ()
    assert_close(m_norm, t_norm, dtype, "total norm")
    for i, (m, t) in enumerate(zip(m_params, t_params)):
        assert (m.grad is None) == (t.grad is None)
        if t.grad is not None:
            assert_close(m.grad, t.grad, dtype, f"clipped grad {i}")
    if max_norm < float(t_norm):
        clipped = clip_grad_norm_(m_params, 1e9, norm_type)
        assert float(clipped) == pytest.approx(max_norm, rel=1e-4)  # the clipped norm is max_norm


def test_clip_grad_norm_of_a_single_tensor_and_of_nothing() -> None:
    g = np.array([3.0, 4.0], np.float32)
    p = md(np.zeros(2, np.float32), True)
    p.grad = md(g)
    assert float(clip_grad_norm_(p, 1.0)) == 5.0
    np.testing.assert_allclose(to_np(p.grad), g / (5.0 + 1e-6), rtol=1e-6)
    empty = clip_grad_norm_([md(np.zeros(2), True)], 1.0)
    assert float(empty) == 0.0 and empty.dtype == np.float32  # torch returns tensor(0.)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf * 0 -> nan, on purpose
def test_clip_grad_norm_non_finite() -> None:
    grads = [np.array([1.0, np.inf]), np.array([2.0])]
    m_params, t_params = with_grads(md, grads), with_grads(th, grads)
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(m_params, 1.0, error_if_nonfinite=True)
    m_norm = clip_grad_norm_(m_params, 1.0)
    t_norm = torch.nn.utils.clip_grad_norm_(t_params, 1.0)
    assert float(m_norm) == float(t_norm) == math.inf
    for m, t in zip(m_params, t_params):
        np.testing.assert_array_equal(to_np(m.grad), to_np(t.grad))  # inf * 0 = nan, as in torch


@pytest.mark.parametrize(("args", "error", "message"), [
    ((1.0, 0.0), ValueError, "norm_type must be > 0"),
    ((1.0, -2.0), ValueError, "norm_type must be > 0"),
])
def test_clip_grad_norm_bad_norm_type(args: tuple[float, float], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        clip_grad_norm_([md(np.ones(2), True)], *args)


def test_clip_grad_norm_rejects_non_tensors() -> None:
    with pytest.raises(TypeError, match="item 0 is a ndarray"):
        clip_grad_norm_([np.ones(2)], 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_grad_value_matches_torch(dtype: Any) -> None:
    grads = [rng(i).standard_normal(s).astype(dtype) for i, s in enumerate(SHAPES)]
    m_params, t_params = with_grads(md, grads, none_at=0), with_grads(th, grads, none_at=0)
    clip_grad_value_(m_params, 0.7)
    torch.nn.utils.clip_grad_value_(t_params, 0.7)
    for m, t in zip(m_params[1:], t_params[1:]):
        assert m.grad.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(to_np(m.grad), to_np(t.grad))


# --------------------------------------------------------------------------------- L2 penalty
@pytest.mark.parametrize("dtype", DTYPES)
def test_l2_penalty_value_and_gradient_match_torch(dtype: Any) -> None:
    arrays = [rng(i).standard_normal(s) for i, s in enumerate(SHAPES)]
    check_parity(lambda *ws: l2_penalty(ws, 0.01), lambda *ws: 0.01 / 2 * sum(w.pow(2).sum() for w in ws),
                 arrays, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_l2_penalty_is_half_wd_sum_of_squares_with_gradient_wd_w(dtype: Any) -> None:
    ws = [md(rng(i).standard_normal(s).astype(dtype), True) for i, s in enumerate(SHAPES)]
    penalty = l2_penalty(ws, 0.2)
    assert penalty.dtype == np.dtype(dtype) and penalty.shape == ()
    expected = 0.1 * sum(float(np.sum(to_np(w).astype(np.float64) ** 2)) for w in ws)
    assert float(penalty) == pytest.approx(expected, rel=1e-6)
    penalty.backward()
    for w in ws:
        assert w.grad.dtype == np.dtype(dtype)
        np.testing.assert_allclose(to_np(w.grad), 0.2 * to_np(w), rtol=1e-6)


def test_l2_penalty_gradcheck() -> None:
    check_grad(lambda a, b: l2_penalty([a, b], 0.3), [rng(0).standard_normal((3, 4)), rng(1).standard_normal(2)])


def test_l2_penalty_bad_arguments() -> None:
    with pytest.raises(ValueError, match="empty list"):
        l2_penalty([], 0.1)
    with pytest.raises(ValueError, match="weight_decay must be >= 0, got -0.1"):
        l2_penalty([md(np.ones(2), True)], -0.1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "kwargs"), [("SGD", {"lr": 0.1}), ("SGD", {"lr": 0.05, "momentum": 0.9}),
                                              ("Adam", {"lr": 0.01}), ("RMSprop", {"lr": 0.003})])
def test_penalty_in_the_loss_equals_weight_decay(name: str, kwargs: dict[str, Any], dtype: Any) -> None:
    """(wd/2)||w||^2 added to the loss trains exactly as the optimizer's weight_decay=wd (L2)."""
    wd = 0.05
    weights, data = mlp_problem(dtype)
    batches = [(md(x), md(y)) for x, y in data]
    decayed = [md(w, True) for w in weights]
    penalized = [md(w, True) for w in weights]
    train_steps(getattr(optim, name)(decayed, weight_decay=wd, **kwargs), decayed, batches, 100)
    train_steps(getattr(optim, name)(penalized, **kwargs), penalized, batches, 100,
                loss_fn=lambda ps, x, y: mlp_loss(ps, x, y) + l2_penalty(ps, wd))
    plain = [md(w, True) for w in weights]
    train_steps(getattr(optim, name)(plain, **kwargs), plain, batches, 100)
    for i, (a, b, c) in enumerate(zip(penalized, decayed, plain)):
        assert_close(a, b, dtype, f"parameter {i}", tol=1e-5 if dtype == np.float32 else 1e-12)
        assert rel_err(c, b) > 1e-3, "the decay should visibly change the run"
