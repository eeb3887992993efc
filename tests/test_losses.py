"""Losses against PyTorch: every reduction, weights, extreme logits, gradcheck, errors, modules."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import DTYPES, assert_close, check_grad, check_parity, md, rng, th, to_np

import minidl
import minidl.functional as F
from minidl import nn

REDUCTIONS = ["mean", "sum", "none"]
SHAPES = [(5,), (4, 7), (2, 3, 4)]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _weights(kind: str, shape: tuple[int, ...], dtype: type) -> dict[str, np.ndarray]:
    """No weights, a per-element weight broadcast over the last dimension, or pos_weight too."""
    r = rng(20)
    if kind == "none":
        return {}
    out = {"weight": r.uniform(0.2, 2.0, shape[-1:]).astype(dtype)}
    if kind == "both":
        out["pos_weight"] = r.uniform(0.2, 3.0, shape[-1:]).astype(dtype)
    return out


def _bcel(lib: Any, weights: dict[str, np.ndarray], reduction: str) -> Any:
    """x, t -> binary_cross_entropy_with_logits of ``lib`` (minidl or torch) with constant weights."""
    make = md if lib is F else th
    kw = {k: make(v) for k, v in weights.items()}
    return lambda x, t: lib.binary_cross_entropy_with_logits(x, t, reduction=reduction, **kw)


# ------------------------------------------------------------------------ BCE with logits
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weights", ["none", "weight", "both"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_bce_with_logits_parity(shape: tuple[int, ...], reduction: str, weights: str, dtype: type) -> None:
    r = rng(21)
    w = _weights(weights, shape, dtype)
    check_parity(_bcel(F, w, reduction), _bcel(TF, w, reduction),
                 [r.standard_normal(shape) * 4, r.random(shape)], dtype)


@pytest.mark.parametrize("weights", ["none", "weight", "both"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_gradcheck_input_and_target(reduction: str, weights: str) -> None:
    r = rng(22)
    check_grad(_bcel(F, _weights(weights, (3, 4), np.float64), reduction),
               [r.standard_normal((3, 4)) * 3, r.random((3, 4))])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weights", ["none", "both"])
def test_bce_with_logits_extreme_logits_are_finite_and_match_torch(weights: str, dtype: type) -> None:
    x = np.array([[-1e4, -100.0, -20.0, 0.0, 20.0, 100.0, 1e4]] * 3)
    t = np.array([[0.0] * 7, [1.0] * 7, [0.3] * 7])
    w = _weights(weights, x.shape, dtype)
    for reduction in REDUCTIONS:
        m_x, m_t = md(x.astype(dtype), requires_grad=True), md(t.astype(dtype), requires_grad=True)
        loss = _bcel(F, w, reduction)(m_x, m_t)
        assert np.isfinite(to_np(loss)).all()
        check_parity(_bcel(F, w, reduction), _bcel(TF, w, reduction), [x, t], dtype)


# ------------------------------------------------------------------------------------ BCE
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_bce_parity(shape: tuple[int, ...], reduction: str, weighted: bool, dtype: type) -> None:
    r = rng(23)
    w = _weights("weight" if weighted else "none", shape, dtype).get("weight")
    kw = {} if w is None else {"weight": w}
    check_parity(lambda x, t: F.binary_cross_entropy(x, t, reduction=reduction, **{k: md(v) for k, v in kw.items()}),
                 lambda x, t: TF.binary_cross_entropy(x, t, reduction=reduction, **{k: th(v) for k, v in kw.items()}),
                 [_sigmoid(r.standard_normal(shape) * 2), r.random(shape)], dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_gradcheck_input_and_target(reduction: str) -> None:
    r = rng(24)
    check_grad(lambda x, t: F.binary_cross_entropy(x, t, reduction=reduction),
               [r.uniform(0.1, 0.9, (3, 4)), r.random((3, 4))])


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_at_zero_and_one_clamps_like_torch(dtype: type) -> None:
    x = np.array([0.0, 1.0, 0.0, 1.0, 1e-30, 0.5])
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.5])
    check_parity(lambda x, t: F.binary_cross_entropy(x, t, reduction="none"),
                 lambda x, t: TF.binary_cross_entropy(x, t, reduction="none"), [x, t], dtype)
    loss = F.binary_cross_entropy(md(x.astype(dtype)), md(t.astype(dtype)), reduction="none")
    np.testing.assert_array_equal(to_np(loss)[:4], [100.0, 100.0, 0.0, 0.0])


# ------------------------------------------------------------------------------------ MSE
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES + [()])
def test_mse_parity_and_gradcheck(shape: tuple[int, ...], reduction: str, dtype: type) -> None:
    r = rng(25)
    arrays = [r.standard_normal(shape), r.standard_normal(shape)]
    check_parity(lambda x, t: F.mse_loss(x, t, reduction=reduction),
                 lambda x, t: TF.mse_loss(x, t, reduction=reduction), arrays, dtype)
    if dtype == np.float64:
        check_grad(lambda x, t: F.mse_loss(x, t, reduction=reduction), arrays)


# -------------------------------------------------------------------------- cross entropy
CE_CASES = [((6, 5), (6,)), ((3, 4, 5), (3, 5)), ((2, 3, 2, 2), (2, 2, 2)), ((4,), ())]


def _class_targets(target_shape: tuple[int, ...], n_classes: int, ignore: bool) -> np.ndarray:
    t = rng(26).integers(0, n_classes, target_shape)
    if ignore and t.size > 1:
        t.reshape(-1)[::3] = -100
    return t


def _ce(lib: Any, reduction: str, weight: np.ndarray | None, smoothing: float) -> Any:
    make = md if lib is F else th
    kw = {} if weight is None else {"weight": make(weight)}
    return lambda x, t: lib.cross_entropy(x, t, reduction=reduction, label_smoothing=smoothing, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,target_shape", CE_CASES)
def test_cross_entropy_class_indices_parity(shape: tuple[int, ...], target_shape: tuple[int, ...], reduction: str,
                                            ignore: bool, weighted: bool, smoothing: float, dtype: type) -> None:
    n_classes = shape[0] if len(shape) == 1 else shape[1]
    weight = rng(27).uniform(0.2, 2.0, n_classes).astype(dtype) if weighted else None
    x = rng(28).standard_normal(shape) * 3
    check_parity(_ce(F, reduction, weight, smoothing), _ce(TF, reduction, weight, smoothing),
                 [x, _class_targets(target_shape, n_classes, ignore)], dtype)


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,target_shape", CE_CASES[:2])
def test_cross_entropy_gradcheck(shape: tuple[int, ...], target_shape: tuple[int, ...], reduction: str,
                                 smoothing: float) -> None:
    weight = rng(29).uniform(0.2, 2.0, shape[1])
    check_grad(_ce(F, reduction, weight, smoothing),
               [rng(30).standard_normal(shape), _class_targets(target_shape, shape[1], True)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (3,)])
def test_cross_entropy_probabilities_parity(shape: tuple[int, ...], reduction: str, weighted: bool,
                                            smoothing: float, dtype: type) -> None:
    n_classes = shape[0] if len(shape) == 1 else shape[1]
    weight = rng(31).uniform(0.2, 2.0, n_classes).astype(dtype) if weighted else None
    probs = rng(32).random(shape)
    probs /= probs.sum(axis=0 if len(shape) == 1 else 1, keepdims=True)
    check_parity(_ce(F, reduction, weight, smoothing), _ce(TF, reduction, weight, smoothing),
                 [rng(33).standard_normal(shape), probs], dtype)
    if dtype == np.float64 and len(shape) > 1:
        check_grad(_ce(F, reduction, weight, smoothing), [rng(33).standard_normal(shape), probs])


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_extreme_logits_and_all_ignored(dtype: type) -> None:
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0], [0.0, 0.0, -1e4]])
    t = np.array([1, 1, 2])
    for smoothing in [0.0, 0.1]:
        loss = F.cross_entropy(md(x.astype(dtype)), md(t), label_smoothing=smoothing)
        assert np.isfinite(to_np(loss)).all()
        check_parity(_ce(F, "none", None, smoothing), _ce(TF, "none", None, smoothing), [x, t], dtype)
    ignored = np.full(3, -100)
    m = F.cross_entropy(md(x.astype(dtype)), md(ignored))
    assert np.isnan(to_np(m)) and np.isnan(TF.cross_entropy(th(x.astype(dtype)), th(ignored)).item())


def test_float32_losses_stay_float32() -> None:
    x = md(rng(34).standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    t = md(rng(35).random((4, 3)).astype(np.float32))
    for loss in [F.binary_cross_entropy_with_logits(x, t), F.mse_loss(x, t), F.cross_entropy(x, t),
                 F.cross_entropy(x, md(np.array([0, 2, 1, 1]))), F.binary_cross_entropy(minidl.sigmoid(x), t)]:
        x.grad = None
        loss.backward()
        assert loss.dtype == minidl.float32 and x.grad.dtype == minidl.float32


# --------------------------------------------------------------------------------- errors
X32, T32 = np.zeros((2, 3), np.float32), np.full((2, 3), 0.5, np.float32)


@pytest.mark.parametrize("make,error,match", [
    (lambda: F.binary_cross_entropy_with_logits(md(X32), md(np.zeros((2, 4), np.float32))), ValueError,
     r"binary_cross_entropy_with_logits: target size \(2, 4\) must be the same as input size \(2, 3\)"),
    (lambda: F.binary_cross_entropy_with_logits(md(X32), md(T32.astype(np.int64))), TypeError,
     "target has dtype minidl.int64 but input has dtype minidl.float32"),
    (lambda: F.binary_cross_entropy_with_logits(md(X32), md(T32), reduction="avg"), ValueError,
     "avg is not a valid value for reduction"),
    (lambda: F.binary_cross_entropy_with_logits(md(X32), md(T32), pos_weight=md(np.ones(4, np.float32))),
     ValueError, r"pos_weight of shape \(4,\) does not broadcast"),
    (lambda: F.binary_cross_entropy_with_logits(md(X32), md(T32), md(np.ones(3, np.float32), True)),
     RuntimeError, "not differentiable with respect to weight"),
    (lambda: F.binary_cross_entropy(md(X32 + 2), md(T32)), RuntimeError, "between 0 and 1"),
    (lambda: F.binary_cross_entropy(md(X32), md(T32[:1])), ValueError, "binary_cross_entropy: target size"),
    (lambda: F.mse_loss(md(X32), md(T32[0])), ValueError, r"mse_loss: target size \(3,\)"),
    (lambda: F.mse_loss(md(X32), T32), TypeError, "mse_loss: target must be a Tensor, got ndarray"),
    (lambda: F.cross_entropy(md(X32), md(np.array([0, 3]))), IndexError, "Target 3 is out of bounds"),
    (lambda: F.cross_entropy(md(X32), md(np.array([0, -1]))), IndexError, "Target -1 is out of bounds"),
    (lambda: F.cross_entropy(md(X32), md(np.array([0, 1, 2]))), ValueError, r"expected target of shape \(2,\)"),
    (lambda: F.cross_entropy(md(X32), md(np.array([0, 1], np.int32))), TypeError, "int64"),
    (lambda: F.cross_entropy(md(X32), md(np.array([0, 1])), md(np.ones(2, np.float32))), ValueError,
     r"one entry per class, \(3,\)"),
    (lambda: F.cross_entropy(md(X32), md(np.array([0, 1])), label_smoothing=1.5), ValueError, "label_smoothing"),
    (lambda: F.cross_entropy(md(X32), md(T32.astype(np.float64))), TypeError, "target has dtype minidl.float64"),
])
def test_errors(make: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        make()


# -------------------------------------------------------------------------------- modules
def test_loss_modules_match_functional_and_torch() -> None:
    r = rng(36)
    x, t = r.standard_normal((4, 3)).astype(np.float32), r.random((4, 3)).astype(np.float32)
    w, pw = r.uniform(0.5, 2, 3).astype(np.float32), r.uniform(0.5, 2, 3).astype(np.float32)
    labels = np.array([0, 2, 1, 1])
    pairs = [
        (nn.BCEWithLogitsLoss(md(w), pos_weight=md(pw)), torch.nn.BCEWithLogitsLoss(th(w), pos_weight=th(pw)), x, t),
        (nn.BCEWithLogitsLoss(reduction="sum"), torch.nn.BCEWithLogitsLoss(reduction="sum"), x, t),
        (nn.BCELoss(md(w)), torch.nn.BCELoss(th(w)), _sigmoid(x), t),
        (nn.MSELoss(reduction="none"), torch.nn.MSELoss(reduction="none"), x, t),
        (nn.CrossEntropyLoss(md(w), ignore_index=2, label_smoothing=0.1),
         torch.nn.CrossEntropyLoss(th(w), ignore_index=2, label_smoothing=0.1), x, labels),
    ]
    for module, ref, a, b in pairs:
        assert repr(module) == repr(ref)
        assert list(module.state_dict()) == list(ref.state_dict())
        assert_close(module(md(a), md(b)), ref(th(a), th(b)), np.float32, type(module).__name__)
