"""``conv1d`` and ``conv2d``, as in ``torch.nn.functional``: argument checks, then one fused node
(:class:`~minidl.ops.conv.Convolution`, im2col + one matrix product per group).

Also :func:`expand_param`, the int-or-tuple argument rule shared with the pooling functions.
"""

from __future__ import annotations

from typing import Any

from minidl import backend
from minidl.autograd.tensor import Tensor
from minidl.functional.linear import check_like
from minidl.ops.conv import Convolution, Padding, output_size


def expand_param(op: str, name: str, value: Any, nd: int, minimum: int) -> tuple[int, ...]:
    """An int, or a tuple/list of 1 or ``nd`` ints, as a tuple of ``nd`` ints each >= ``minimum``."""
    values = (value,) if isinstance(value, int) else tuple(value) if isinstance(value, (tuple, list)) else None
    if values is None or len(values) not in (1, nd) or not all(isinstance(v, int) for v in values):
        raise ValueError(f"{op}: {name} must be an int or a tuple of {nd} ints, got {value!r}")
    values = values * nd if len(values) == 1 else values
    if any(v < minimum for v in values):
        raise ValueError(f"{op}: {name} must be >= {minimum} in every dimension, got {value!r}")
    return values


def conv_padding(op: str, padding: str | int | tuple[int, ...], kernel: tuple[int, ...],
                 stride: tuple[int, ...], dilation: tuple[int, ...]) -> Padding:
    """``padding`` as (before, after) per dimension.

    'valid' is no padding.  'same' (stride 1 only) pads dilation * (kernel - 1) in total, half
    of it before; when that total is odd the extra zero goes after (right/bottom), as PyTorch.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * len(kernel)
        if padding != "same":
            raise ValueError(f"{op}: invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride={stride})")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    return tuple((p, p) for p in expand_param(op, "padding", padding, len(kernel), minimum=0))


def _check_operands(op: str, nd: int, input: Tensor, weight: Tensor, bias: Tensor | None, groups: int) -> None:
    """Ranks, dtypes, devices, channel counts and the bias shape, with PyTorch's rules."""
    if not isinstance(input, Tensor) or not backend.is_floating(input.dtype):
        raise TypeError(f"{op}: input must be a floating point Tensor, got "
                        f"{getattr(input, 'dtype', type(input).__name__)}")
    check_like(op, "weight", weight, input)
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{op}: expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input, got input "
                           f"of shape {tuple(input.shape)}")
    if weight.ndim != nd + 2:
        raise RuntimeError(f"{op}: expected {nd + 2}D weight (out_channels, in_channels/groups, *kernel), "
                           f"got weight of shape {tuple(weight.shape)}")
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups!r}")
    if weight.shape[0] % groups:
        raise RuntimeError(f"{op}: given groups={groups}, expected weight to be divisible by {groups} at "
                           f"dimension 0, but got weight of shape {tuple(weight.shape)}")
    channels = input.shape[-nd - 1]
    if channels != weight.shape[1] * groups:
        raise RuntimeError(f"{op}: given groups={groups}, weight of shape {tuple(weight.shape)}, expected "
                           f"input of shape {tuple(input.shape)} to have {weight.shape[1] * groups} channels, "
                           f"but got {channels} channels instead")
    if bias is not None:
        check_like(op, "bias", bias, input)
        if tuple(bias.shape) != (weight.shape[0],):
            raise RuntimeError(f"{op}: expected bias of shape ({weight.shape[0]},) (out_channels), "
                               f"got {tuple(bias.shape)}")


def _conv(op: str, nd: int, input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any, padding: Any,
          dilation: Any, groups: int) -> Tensor:
    """The checks and output size shared by :func:`conv1d` and :func:`conv2d`."""
    _check_operands(op, nd, input, weight, bias, groups)
    kernel = tuple(weight.shape[2:])
    stride = expand_param(op, "stride", stride, nd, minimum=1)
    dilation = expand_param(op, "dilation", dilation, nd, minimum=1)
    pads = conv_padding(op, padding, kernel, stride, dilation)
    in_size = tuple(input.shape[-nd:])
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(in_size, pads))
    reach = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if any(p < r for p, r in zip(padded, reach)):
        raise RuntimeError(f"{op}: calculated padded input size per channel: {padded}; kernel size "
                           f"(dilated): {reach}; kernel size can't be greater than actual input size "
                           f"(input shape {tuple(input.shape)}, weight shape {tuple(weight.shape)})")
    out_size = tuple(output_size(*args) for args in zip(in_size, kernel, stride, pads, dilation))
    params = {"stride": stride, "padding": pads, "dilation": dilation, "groups": groups, "out_size": out_size}
    if bias is None:
        return Convolution.apply(input, weight, **params)
    return Convolution.apply(input, weight, bias, **params)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int | tuple[int] = 1,
           padding: str | int | tuple[int] = 0, dilation: int | tuple[int] = 1, groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation) over input (N, C_in, L) or (C_in, L).

    weight (C_out, C_in/groups, kernel), bias (C_out,) or None -> (N, C_out, L_out) with
    L_out = floor((L + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1.
    ``padding``: an int, a 1-tuple, 'valid' or 'same' (stride 1 only).
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int | tuple[int, int] = 1,
           padding: str | int | tuple[int, int] = 0, dilation: int | tuple[int, int] = 1,
           groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation) over input (N, C_in, H, W) or (C_in, H, W).

    weight (C_out, C_in/groups, kH, kW), bias (C_out,) or None -> (N, C_out, H_out, W_out), each
    spatial size as in :func:`conv1d`.  ``padding``: an int, a pair, 'valid' or 'same'.
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)
