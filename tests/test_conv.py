"""F.conv1d / F.conv2d (im2col + one matrix product per group) and nn.Conv1d / nn.Conv2d against PyTorch."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import DEVICE, DTYPES, check_grad, check_parity, md, rng, to_np

import minidl
import minidl.functional as F
from minidl import nn

# torch warns that it copies the input for 'same' padding with an even kernel; minidl never does
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
# (input shape, weight shape, keyword arguments): strides with remainders, int/tuple/'same'/'valid'
# padding (odd and even kernels), dilation, groups, unbatched inputs, padding wider than the kernel.
CONV1D = [
    ((2, 3, 8), (4, 3, 3), {}),
    ((2, 3, 9), (4, 3, 3), {"stride": 2, "padding": 1}),
    ((2, 2, 7), (3, 2, 2), {"stride": (3,), "padding": (2,)}),
    ((2, 3, 7), (2, 3, 3), {"padding": "same"}),
    ((2, 3, 7), (2, 3, 4), {"padding": "same", "dilation": 1}),
    ((1, 2, 8), (3, 2, 2), {"padding": "same", "dilation": 3}),
    ((2, 3, 6), (2, 3, 2), {"padding": "valid", "stride": 2}),
    ((2, 2, 11), (3, 2, 3), {"dilation": 2, "stride": 2, "padding": 1}),
    ((2, 4, 7), (6, 2, 3), {"groups": 2, "stride": 2, "padding": 1}),
    ((2, 3, 6), (3, 1, 3), {"groups": 3, "padding": 1}),
    ((3, 7), (4, 3, 3), {"padding": 1}),
    ((2, 3, 5), (2, 3, 5), {}),
    ((2, 2, 4), (3, 2, 3), {"padding": 4, "stride": 3}),
]
CONV2D = [
    ((2, 3, 6, 5), (4, 3, 3, 3), {}),
    ((2, 3, 7, 6), (4, 3, 3, 2), {"stride": 2, "padding": 1}),
    ((2, 2, 7, 8), (3, 2, 2, 3), {"stride": (2, 3), "padding": (1, 2)}),
    ((1, 2, 5, 6), (3, 2, 3, 4), {"padding": "same"}),
    ((1, 2, 6, 7), (2, 2, 2, 3), {"padding": "same", "dilation": (3, 2)}),
    ((2, 2, 5, 5), (2, 2, 3, 3), {"padding": "valid"}),
    ((1, 2, 9, 8), (3, 2, 3, 2), {"dilation": (2, 3), "stride": (1, 2), "padding": (2, 1)}),
    ((2, 4, 5, 6), (4, 2, 3, 3), {"groups": 2, "padding": 1, "stride": 2}),
    ((3, 5, 4), (2, 3, 2, 2), {"padding": (0, 1)}),
]


def _ids(cases: list) -> list[str]:
    return [f"{x}-{w}-{kw}" for x, w, kw in cases]


def _arrays(x_shape: tuple, w_shape: tuple, bias: bool, seed: int = 0) -> list[np.ndarray]:
    r = rng(seed)
    arrays = [r.standard_normal(x_shape), r.standard_normal(w_shape)]
    return arrays + [r.standard_normal(w_shape[0])] if bias else arrays


def _conv(fn: Any, kw: dict) -> Any:
    return lambda x, w, b=None: fn(x, w, b, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape,w_shape,kw", CONV1D, ids=_ids(CONV1D))
def test_conv1d_parity(x_shape: tuple, w_shape: tuple, kw: dict, bias: bool, dtype: type) -> None:
    check_parity(_conv(F.conv1d, kw), _conv(TF.conv1d, kw), _arrays(x_shape, w_shape, bias), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape,w_shape,kw", CONV2D, ids=_ids(CONV2D))
def test_conv2d_parity(x_shape: tuple, w_shape: tuple, kw: dict, bias: bool, dtype: type) -> None:
    check_parity(_conv(F.conv2d, kw), _conv(TF.conv2d, kw), _arrays(x_shape, w_shape, bias), dtype)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape,w_shape,kw", CONV1D, ids=_ids(CONV1D))
def test_conv1d_gradcheck(x_shape: tuple, w_shape: tuple, kw: dict, bias: bool) -> None:
    check_grad(_conv(F.conv1d, kw), _arrays(x_shape, w_shape, bias, seed=1))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape,w_shape,kw", CONV2D, ids=_ids(CONV2D))
def test_conv2d_gradcheck(x_shape: tuple, w_shape: tuple, kw: dict, bias: bool) -> None:
    check_grad(_conv(F.conv2d, kw), _arrays(x_shape, w_shape, bias, seed=1))


def test_paper_conv_stack_float32_parity() -> None:
    """The paper's conv model shape (channels reduced): conv1d k3 p1 -> relu -> conv1d k3 p1, float32."""
    r = rng(5)
    arrays = [r.standard_normal((16, 32, 10)), 0.2 * r.standard_normal((48, 32, 3)), r.standard_normal(48),
              0.2 * r.standard_normal((48, 48, 3)), r.standard_normal(48)]

    def stack(f: Any, relu: Any) -> Any:
        return lambda x, w1, b1, w2, b2: f(relu(f(x, w1, b1, padding=1)), w2, b2, padding=1)

    check_parity(stack(F.conv1d, minidl.relu), stack(TF.conv1d, torch.relu), arrays, np.float32)


def test_time_major_input_and_empty_batch_match_torch() -> None:
    """The paper feeds (N, 10, 128) clips transposed to (N, 128, 10): a non-contiguous view."""
    r = rng(6)
    arrays = [r.standard_normal((4, 10, 6)), r.standard_normal((5, 6, 3)), r.standard_normal(5)]
    check_parity(lambda x, w, b: F.conv1d(x.transpose(1, 2), w, b, padding=1),
                 lambda x, w, b: TF.conv1d(x.transpose(1, 2), w, b, padding=1), arrays, np.float32)
    arrays[0] = np.zeros((0, 6, 7))
    check_parity(lambda x, w, b: F.conv1d(x, w, b, stride=2), lambda x, w, b: TF.conv1d(x, w, b, stride=2),
                 arrays, np.float64)


def test_float32_stays_float32_and_unneeded_gradients_are_skipped() -> None:
    r = rng(3)
    x = md(r.standard_normal((2, 3, 6)).astype(np.float32))
    w = md(r.standard_normal((4, 3, 3)).astype(np.float32), requires_grad=True)
    b = md(r.standard_normal(4).astype(np.float32), requires_grad=True)
    y = F.conv1d(x, w, b, padding=1)
    y.sum().backward()
    assert y.dtype == minidl.float32 and w.grad.dtype == minidl.float32 and b.grad.dtype == minidl.float32
    assert x.grad is None
    np.testing.assert_allclose(to_np(b.grad), np.full(4, 12.0, np.float32))  # N * L_out ones per channel


def _x(*shape: int, dtype: Any = np.float64) -> minidl.Tensor:
    return md(np.ones(shape, dtype))


@pytest.mark.parametrize("make,error,match", [
    (lambda: F.conv1d(_x(2, 3, 5, 1), _x(4, 3, 3)), RuntimeError, r"2D \(unbatched\) or 3D.*\(2, 3, 5, 1\)"),
    (lambda: F.conv2d(_x(2, 3, 5), _x(4, 3, 3)), RuntimeError, r"4D weight.*\(4, 3, 3\)"),
    (lambda: F.conv1d(_x(2, 2, 5), _x(4, 3, 3)), RuntimeError, r"to have 3 channels, but got 2 channels"),
    (lambda: F.conv1d(_x(2, 4, 5), _x(3, 2, 3), groups=2), RuntimeError, "divisible by 2 at dimension 0"),
    (lambda: F.conv1d(_x(2, 3, 5), _x(4, 1, 3), groups=2), RuntimeError, "to have 2 channels, but got 3"),
    (lambda: F.conv1d(_x(2, 3, 5), _x(4, 3, 3), groups=0), ValueError, "groups must be a positive"),
    (lambda: F.conv1d(_x(2, 3, 2), _x(4, 3, 3)), RuntimeError, r"padded input size.*\(2,\).*\(3,\)"),
    (lambda: F.conv2d(_x(1, 1, 5, 5), _x(1, 1, 3, 3), dilation=3), RuntimeError, r"kernel size \(dilated\)"),
    (lambda: F.conv1d(_x(2, 3, 5), _x(4, 3, 3), padding="full"), ValueError, "invalid padding string 'full'"),
    (lambda: F.conv1d(_x(2, 3, 5), _x(4, 3, 3), padding="same", stride=2), ValueError, "strided"),
    (lambda: F.conv1d(_x(2, 3, 5), _x(4, 3, 3), padding=-1), ValueError, "padding must be >= 0"),
    (lambda: F.conv2d(_x(1, 1, 5, 5), _x(1, 1, 3, 3), stride=(1, 2, 3)), ValueError, "tuple of 2 ints"),
    (lambda: F.conv1d(_x(2, 3, 5), _x(4, 3, 3), stride=0), ValueError, "stride must be >= 1"),
    (lambda: F.conv1d(_x(2, 3, 5), _x(4, 3, 3), _x(3)), RuntimeError, r"bias of shape \(4,\)"),
    (lambda: F.conv1d(_x(2, 3, 5, dtype=np.float32), _x(4, 3, 3)), TypeError, "weight has dtype minidl.float64"),
    (lambda: F.conv1d(_x(2, 3, 5, dtype=np.int64), _x(4, 3, 3)), TypeError, "floating point"),
])
def test_conv_errors(make: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        make()


# ---------------------------------------------------------------------------------- modules
def _copy_to_torch(layer: nn.Module, ref: torch.nn.Module) -> None:
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(to_np(layer.weight)))
        if layer.bias is not None:
            ref.bias.copy_(torch.from_numpy(to_np(layer.bias)))


MODULES = [
    (nn.Conv1d, torch.nn.Conv1d, (4, 6, 3), {"padding": 1}, (3, 4, 10)),
    (nn.Conv1d, torch.nn.Conv1d, (4, 6, 4), {"padding": "same", "bias": False}, (2, 4, 9)),
    (nn.Conv1d, torch.nn.Conv1d, (4, 6, 3), {"stride": 2, "padding": 2, "padding_mode": "reflect"}, (2, 4, 9)),
    (nn.Conv1d, torch.nn.Conv1d, (4, 4, 3), {"padding": "same", "padding_mode": "circular", "groups": 2},
     (2, 4, 7)),
    (nn.Conv2d, torch.nn.Conv2d, (2, 4, (3, 2)), {"stride": (2, 1), "dilation": 2, "padding": (2, 1)},
     (2, 2, 9, 7)),
    (nn.Conv2d, torch.nn.Conv2d, (2, 4, 3), {"padding": 1, "padding_mode": "replicate"}, (2, 2, 5, 6)),
]


@pytest.mark.parametrize("cls,ref_cls,args,kw,x_shape", MODULES)
def test_module_matches_torch_with_copied_weights(cls: type, ref_cls: type, args: tuple, kw: dict,
                                                  x_shape: tuple) -> None:
    layer, ref = cls(*args, **kw, device=DEVICE), ref_cls(*args, **kw)
    _copy_to_torch(layer, ref)
    assert repr(layer) == repr(ref)
    x = rng(4).standard_normal(x_shape).astype(np.float32)
    y, y_ref = layer(md(x)), ref(torch.from_numpy(x))
    upstream = rng(5).standard_normal(tuple(y_ref.shape)).astype(np.float32)
    y.backward(md(upstream))
    y_ref.backward(torch.from_numpy(upstream))
    pairs = [(y, y_ref), (layer.weight.grad, ref.weight.grad)]
    if layer.bias is not None:
        pairs.append((layer.bias.grad, ref.bias.grad))
    for a, b in pairs:
        np.testing.assert_allclose(to_np(a), to_np(b), rtol=1e-5, atol=1e-5)


def test_paper_model_repr_and_parameter_shapes_like_torch() -> None:
    for args, kw in [((128, 256, 3), {"padding": 1}), ((256, 256, 3), {"padding": 1}),
                     ((3, 8, (3, 5)), {"stride": 2, "groups": 1, "bias": False})]:
        cls, ref_cls = (nn.Conv1d, torch.nn.Conv1d) if isinstance(args[2], int) else (nn.Conv2d, torch.nn.Conv2d)
        layer, ref = cls(*args, **kw), ref_cls(*args, **kw)
        assert repr(layer) == repr(ref)
        assert [(n, tuple(p.shape)) for n, p in layer.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in ref.named_parameters()]
    assert repr(nn.Conv1d(128, 256, 3, padding=1)) == "Conv1d(128, 256, kernel_size=(3,), stride=(1,), padding=(1,))"


def test_default_init_is_torch_uniform_bound() -> None:
    """kaiming_uniform_(a=sqrt(5)) gives U(-b, b) with b = 1/sqrt(fan_in), fan_in = in/groups * prod(kernel)."""
    layer = nn.Conv1d(128, 256, 3, groups=2, device=DEVICE)
    bound = 1 / math.sqrt(64 * 3)
    w, b = to_np(layer.weight), to_np(layer.bias)
    assert w.shape == (256, 64, 3) and w.dtype == np.float32 and b.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound and np.abs(w).max() > 0.99 * bound
    ref = torch.nn.Conv1d(128, 256, 3, groups=2).weight.detach().numpy()
    assert abs(w.std() - ref.std()) < 0.02 * bound
    assert nn.Conv2d(2, 4, 3, dtype=minidl.float64).weight.dtype == minidl.float64


@pytest.mark.parametrize("make,match", [
    (lambda: nn.Conv1d(3, 4, 3, groups=2), "in_channels must be divisible by groups"),
    (lambda: nn.Conv1d(4, 3, 3, groups=2), "out_channels must be divisible by groups"),
    (lambda: nn.Conv1d(4, 4, 3, padding_mode="mirror"), "padding_mode must be one of"),
    (lambda: nn.Conv1d(4, 4, 3, padding="same", stride=2), "strided"),
    (lambda: nn.Conv2d(4, 4, (3, 3, 3)), "kernel_size must be an int or a tuple of 2 ints"),
])
def test_module_errors(make: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()
