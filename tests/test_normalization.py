"""Batch norm (training, running statistics, inference) and layer norm against PyTorch; modules."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import DEVICE, DTYPES, TOL, assert_close, check_grad, check_parity, md, rng, th, to_np

import minidl
import minidl.functional as F
from minidl import nn

BN_SHAPES = [(6, 3), (4, 3, 5), (3, 2, 4, 5), (2, 1, 3)]


def _stats(channels: int, dtype: type, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    r = rng(seed)
    return r.standard_normal(channels).astype(dtype), r.uniform(0.5, 2.0, channels).astype(dtype)


# ------------------------------------------------------------------------------- batch norm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_training_parity_and_running_stats(shape: tuple[int, ...], affine: str, dtype: type) -> None:
    r = rng(11)
    c = shape[1]
    arrays = [r.standard_normal(shape) * 2 + 1]
    if affine != "none":
        arrays.append(r.standard_normal(c))
    if affine == "both":
        arrays.append(r.standard_normal(c))
    mean, var = _stats(c, dtype)
    m_stats, t_stats = (md(mean), md(var)), (th(mean), th(var))

    def run(fn: Any, stats: tuple[Any, Any]) -> Any:
        return lambda x, *wb: fn(x, *stats, *wb, training=True, momentum=0.3, eps=1e-3)

    check_parity(run(F.batch_norm, m_stats), run(TF.batch_norm, t_stats), arrays, dtype)
    for m, t in zip(m_stats, t_stats):
        assert_close(m, t, dtype, "running statistics")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_inference_parity(shape: tuple[int, ...], dtype: type) -> None:
    r = rng(2)
    c = shape[1]
    mean, var = _stats(c, dtype)
    arrays = [r.standard_normal(shape), r.standard_normal(c), r.standard_normal(c)]
    check_parity(lambda x, w, b: F.batch_norm(x, md(mean), md(var), w, b, eps=1e-3),
                 lambda x, w, b: TF.batch_norm(x, th(mean), th(var), w, b, eps=1e-3), arrays, dtype)


@pytest.mark.parametrize("shape", BN_SHAPES[:3])
def test_batch_norm_gradcheck(shape: tuple[int, ...]) -> None:
    r = rng(3)
    c = shape[1]
    arrays = [r.standard_normal(shape), r.standard_normal(c), r.standard_normal(c)]
    check_grad(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), arrays)
    mean, var = _stats(c, np.float64)
    check_grad(lambda x, w, b: F.batch_norm(x, md(mean), md(var), w, b), arrays)


def test_batch_norm_running_var_is_unbiased_and_float32_stays_float32() -> None:
    x = md(np.array([[1.0], [3.0]], np.float32))
    mean, var = md(np.zeros(1, np.float32)), md(np.ones(1, np.float32))
    y = F.batch_norm(x, mean, var, training=True, momentum=1.0, eps=0.0)
    # batch mean 2; biased variance 1 normalises (y = -1, 1); the unbiased variance 2 is tracked
    np.testing.assert_allclose(to_np(y)[:, 0], [-1.0, 1.0])
    np.testing.assert_allclose(to_np(mean), [2.0])
    np.testing.assert_allclose(to_np(var), [2.0])
    assert y.dtype == mean.dtype == var.dtype == minidl.float32


@pytest.mark.parametrize("make,error,match", [
    (lambda: F.batch_norm(md(np.ones((1, 3))), None, None, training=True), ValueError, "more than 1 value"),
    (lambda: F.batch_norm(md(np.ones((2, 3))), None, None), RuntimeError, "evaluation mode"),
    (lambda: F.batch_norm(md(np.ones((2, 3))), md(np.zeros(4)), md(np.ones(4))), RuntimeError,
     r"running_mean of shape \(3,\)"),
    (lambda: F.batch_norm(md(np.ones((2, 3))), None, None, md(np.ones(2)), training=True), RuntimeError,
     r"weight of shape \(3,\)"),
    (lambda: F.batch_norm(md(np.ones((2, 3), np.float32)), md(np.zeros(3)), md(np.ones(3))), TypeError,
     "running_mean has dtype minidl.float64"),
    (lambda: F.batch_norm(md(np.ones(3)), None, None, training=True), ValueError, r"\(N, C, \*\)"),
])
def test_batch_norm_errors(make: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        make()


# ------------------------------------------------------------------------------- layer norm
LN_CASES = [((4, 5), (5,)), ((2, 3, 4), (4,)), ((2, 3, 4), (3, 4)), ((7,), (7,)), ((2, 3, 2, 5), (2, 5))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape,normalized", LN_CASES)
def test_layer_norm_parity(shape: tuple[int, ...], normalized: tuple[int, ...], affine: bool, dtype: type) -> None:
    r = rng(4)
    arrays = [r.standard_normal(shape) * 3 - 1]
    if affine:
        arrays += [r.standard_normal(normalized), r.standard_normal(normalized)]
    check_parity(lambda x, *wb: F.layer_norm(x, normalized, *wb, eps=1e-4),
                 lambda x, *wb: TF.layer_norm(x, normalized, *wb, eps=1e-4), arrays, dtype)


@pytest.mark.parametrize("shape,normalized", LN_CASES[:3])
def test_layer_norm_gradcheck(shape: tuple[int, ...], normalized: tuple[int, ...]) -> None:
    r = rng(5)
    arrays = [r.standard_normal(shape), r.standard_normal(normalized), r.standard_normal(normalized)]
    check_grad(lambda x, w, b: F.layer_norm(x, normalized, w, b), arrays)
    check_grad(lambda x: F.layer_norm(x, normalized), arrays[:1])


def test_layer_norm_over_one_element_gives_bias_and_zero_input_gradient() -> None:
    """x - mean(x) = 0 exactly, so y = b and dL/dx = 0 (PyTorch float32 shows ~1e-6 rounding noise here)."""
    r = rng(12)
    x = md(r.standard_normal((3, 1)).astype(np.float32), requires_grad=True)
    w, b = md(np.array([1.5], np.float32), requires_grad=True), md(np.array([0.25], np.float32))
    y = F.layer_norm(x, (1,), w, b)
    y.backward(md(r.standard_normal((3, 1)).astype(np.float32)))
    np.testing.assert_array_equal(to_np(y), np.full((3, 1), 0.25, np.float32))
    np.testing.assert_array_equal(to_np(x.grad), np.zeros((3, 1), np.float32))
    np.testing.assert_array_equal(to_np(w.grad), [0.0])


def test_layer_norm_errors() -> None:
    with pytest.raises(RuntimeError, match=r"normalized_shape=\[3\].*size \[2, 4\]"):
        F.layer_norm(md(np.ones((2, 4))), (3,))
    with pytest.raises(RuntimeError, match=r"weight of shape \(4,\)"):
        F.layer_norm(md(np.ones((2, 4))), 4, md(np.ones(3)))


# ---------------------------------------------------------------------------------- modules
def _copy_state(module: Any, ref: torch.nn.Module) -> None:
    ref.load_state_dict({k: torch.from_numpy(to_np(v).copy()) for k, v in module.state_dict().items()})


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (8, 3)), ("BatchNorm1d", (8, 3, 5)),
                                       ("BatchNorm2d", (4, 3, 2, 5))])
def test_batch_norm_module_matches_torch_over_steps(cls: str, shape: tuple[int, ...], momentum: Any) -> None:
    layer, ref = getattr(nn, cls)(3, momentum=momentum, device=DEVICE), getattr(torch.nn, cls)(3, momentum=momentum)
    _copy_state(layer, ref)
    r = rng(6)
    for step in range(4):
        x = (r.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        assert_close(layer(md(x)), ref(th(x)), np.float32, f"train output {step}")
    for key, value in ref.state_dict().items():
        assert_close(layer.state_dict()[key], value, np.float32, key)
    assert to_np(layer.num_batches_tracked).dtype == np.int64 and int(layer.num_batches_tracked.item()) == 4
    layer.eval()
    ref.eval()
    x = r.standard_normal(shape).astype(np.float32)
    assert_close(layer(md(x)), ref(th(x)), np.float32, "eval output")


def test_batch_norm_module_structure_and_options() -> None:
    for kwargs in [{}, {"affine": False}, {"track_running_stats": False}, {"bias": False}, {"eps": 1e-3}]:
        layer, ref = nn.BatchNorm1d(4, device=DEVICE, **kwargs), torch.nn.BatchNorm1d(4, **kwargs)
        assert repr(layer) == repr(ref)
        assert list(layer.state_dict()) == list(ref.state_dict())
        x = rng(7).standard_normal((5, 4)).astype(np.float32)
        assert_close(layer(md(x)), ref(th(x)), np.float32, f"output with {kwargs}")
    assert repr(nn.BatchNorm2d(2)) == repr(torch.nn.BatchNorm2d(2))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.BatchNorm1d(3)(md(np.ones((2, 3, 4, 5), np.float32)))
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(md(np.ones((2, 3), np.float32)))


def test_batch_norm_module_without_tracking_uses_batch_stats_in_eval() -> None:
    layer = nn.BatchNorm1d(3, track_running_stats=False, device=DEVICE).eval()
    ref = torch.nn.BatchNorm1d(3, track_running_stats=False)
    ref.eval()
    x = rng(8).standard_normal((6, 3)).astype(np.float32)
    assert_close(layer(md(x)), ref(th(x)), np.float32)


@pytest.mark.parametrize("kwargs", [{}, {"elementwise_affine": False}, {"bias": False}, {"eps": 1e-3}])
def test_layer_norm_module(kwargs: dict) -> None:
    layer, ref = nn.LayerNorm((3, 4), device=DEVICE, **kwargs), torch.nn.LayerNorm((3, 4), **kwargs)
    assert repr(layer) == repr(ref)
    assert list(layer.state_dict()) == list(ref.state_dict())
    with torch.no_grad():
        for p in ref.parameters():
            p.uniform_(-1, 1)
    _copy_state(layer, ref)
    x = rng(9).standard_normal((2, 3, 4)).astype(np.float32)
    y, y_ref = layer(md(x)), ref(th(x))
    assert_close(y, y_ref, np.float32)
    assert repr(nn.LayerNorm(5)) == repr(torch.nn.LayerNorm(5))


def test_tolerances_are_the_shared_ones() -> None:
    assert TOL[np.float64] == 1e-10 and TOL[np.float32] == 1e-5
