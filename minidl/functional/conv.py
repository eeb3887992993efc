"""``conv1d`` and ``conv2d``, as in ``torch.nn.functional``: argument checks, then one fused node
(:class:`~minidl.ops.conv.Convolution`, im2col + one matrix product per group)."""

from __future__ import annotations

from typing import Any

from minidl.autograd.tensor import Tensor
from minidl.functional._checks import check_floating, check_like, expand_param
from minidl.ops.conv import Convolution, padding_pairs


def conv_padding(op: str, padding: str | int | tuple[int, ...], nd: int,
                 stride: tuple[int, ...]) -> str | tuple[int, ...]:
    """``padding`` checked: 'valid', 'same' (stride 1 only) or an int or tuple of ``nd`` ints >= 0."""
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"{op}: invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
        if padding == "same" and any(s != 1 for s in stride):
            raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride={stride})")
        return padding
    return expand_param(op, "padding", padding, nd, minimum=0)


def _check_operands(op: str, nd: int, input: Tensor, weight: Tensor, bias: Tensor | None, groups: int) -> None:
    """Ranks, dtypes, devices, channel counts and the bias shape, with PyTorch's rules."""
    check_floating(op, input)
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
    """The checks shared by :func:`conv1d` and :func:`conv2d`."""
    _check_operands(op, nd, input, weight, bias, groups)
    kernel = tuple(weight.shape[2:])
    stride = expand_param(op, "stride", stride, nd, minimum=1)
    dilation = expand_param(op, "dilation", dilation, nd, minimum=1)
    padding = conv_padding(op, padding, nd, stride)
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(input.shape[-nd:], padding_pairs(padding, kernel, dilation)))
    reach = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if any(p < r for p, r in zip(padded, reach)):
        raise RuntimeError(f"{op}: calculated padded input size per channel: {padded}; kernel size "
                           f"(dilated): {reach}; kernel size can't be greater than actual input size "
                           f"(input shape {tuple(input.shape)}, weight shape {tuple(weight.shape)})")
    return Convolution.apply(input, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)


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
