"""F.linear (the fused Linear node) and nn.Linear against PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import DEVICE, DTYPES, check_grad, check_parity, md, rng, to_np

import minidl
import minidl.functional as F
from minidl import nn

SHAPES = [((4, 3), 5), ((3,), 2), ((2, 3, 4), 5), ((7, 1), 1), ((0, 3), 2)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape,out", SHAPES)
def test_linear_parity(x_shape: tuple[int, ...], out: int, bias: bool, dtype: type) -> None:
    r = rng(11)
    arrays = [r.standard_normal(x_shape), r.standard_normal((out, x_shape[-1]))]
    if bias:
        arrays.append(r.standard_normal(out))
    check_parity(F.linear, TF.linear, arrays, dtype)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape,out", SHAPES[:4])
def test_linear_gradcheck(x_shape: tuple[int, ...], out: int, bias: bool) -> None:
    r = rng(2)
    arrays = [r.standard_normal(x_shape), r.standard_normal((out, x_shape[-1]))]
    check_grad(F.linear, arrays + ([r.standard_normal(out)] if bias else []))


def test_linear_keeps_float32_and_skips_unneeded_gradients() -> None:
    r = rng(3)
    x = md(r.standard_normal((5, 3)).astype(np.float32))
    w = md(r.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
    b = md(r.standard_normal(2).astype(np.float32), requires_grad=True)
    y = F.linear(x, w, b)
    y.sum().backward()
    assert y.dtype == minidl.float32 and w.grad.dtype == minidl.float32 and b.grad.dtype == minidl.float32
    assert x.grad is None
    np.testing.assert_allclose(to_np(b.grad), np.full(2, 5.0, np.float32))


@pytest.mark.parametrize("make,match", [
    (lambda: F.linear(md(np.ones((2, 4))), md(np.ones((3, 5)))), "cannot be multiplied"),
    (lambda: F.linear(md(np.ones((2, 4))), md(np.ones(4))), "cannot be multiplied"),
    (lambda: F.linear(md(np.ones((2, 4))), md(np.ones((3, 4))), md(np.ones(4))), "bias of shape"),
    (lambda: F.linear(md(np.ones((2, 4), np.float32)), md(np.ones((3, 4)))), "dtype minidl.float64"),
    (lambda: F.linear(md(np.ones((2, 4), np.int64)), md(np.ones((3, 4)))), "floating"),
])
def test_linear_errors(make: object, match: str) -> None:
    with pytest.raises((RuntimeError, TypeError), match=match):
        make()


# ------------------------------------------------------------------------------- nn.Linear
def test_module_matches_torch_with_copied_weights() -> None:
    layer = nn.Linear(6, 4, device=DEVICE)
    ref = torch.nn.Linear(6, 4)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(to_np(layer.weight)))
        ref.bias.copy_(torch.from_numpy(to_np(layer.bias)))
    x = rng(4).standard_normal((8, 6)).astype(np.float32)
    y, y_ref = layer(md(x)), ref(torch.from_numpy(x))
    y.sum().backward()
    y_ref.sum().backward()
    for a, b in [(y, y_ref), (layer.weight.grad, ref.weight.grad), (layer.bias.grad, ref.bias.grad)]:
        np.testing.assert_allclose(to_np(a), to_np(b), rtol=1e-5, atol=1e-6)


def test_module_structure_and_repr_like_torch() -> None:
    for args in [(3, 5), (3, 5, False)]:
        layer, ref = nn.Linear(*args), torch.nn.Linear(*args)
        assert repr(layer) == repr(ref)
        assert [(n, tuple(p.shape)) for n, p in layer.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in ref.named_parameters()]
    assert nn.Linear(3, 5, bias=False).bias is None


def test_default_init_is_torch_uniform_bound() -> None:
    """kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(in), 1/sqrt(in)) for weight; bias has the same bound."""
    in_features = 400
    layer = nn.Linear(in_features, 300, device=DEVICE)
    bound = 1 / math.sqrt(in_features)
    w, b = to_np(layer.weight), to_np(layer.bias)
    assert w.dtype == np.float32 and b.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound  # std of U(-c, c) is c / sqrt(3)
    assert abs(w.mean()) < 0.01 * bound and np.abs(w).max() > 0.99 * bound
    ref = torch.nn.Linear(in_features, 300).weight.detach().numpy()
    assert abs(w.std() - ref.std()) < 0.02 * bound


def test_init_is_deterministic_under_seed_and_dtype_is_respected() -> None:
    minidl.manual_seed(7)
    a = nn.Linear(5, 3, dtype=minidl.float64)
    minidl.manual_seed(7)
    b = nn.Linear(5, 3, dtype=minidl.float64)
    assert a.weight.dtype == minidl.float64 and a.bias.dtype == minidl.float64
    np.testing.assert_array_equal(to_np(a.weight), to_np(b.weight))
    np.testing.assert_array_equal(to_np(a.bias), to_np(b.bias))
    c = nn.Linear(5, 3)
    assert not np.array_equal(to_np(a.weight), to_np(c.weight).astype(np.float64))
