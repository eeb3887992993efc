"""Pooling, as in ``torch.nn.functional``: ``max_pool1d/2d``, ``avg_pool1d/2d``,
``adaptive_avg_pool1d/2d``.  Argument checks here; the maths and the output sizes in
:mod:`minidl.ops.pool`.
"""

from __future__ import annotations

from typing import Any

from minidl.autograd.tensor import Tensor
from minidl.functional._checks import check_floating, expand_param
from minidl.ops.pool import AdaptiveAvgPool, AvgPool, MaxPool, pool_output_size


def _check_input(op: str, nd: int, input: Tensor) -> None:
    """A floating tensor of rank nd + 1 (unbatched) or nd + 2 with non-empty channel and spatial sizes."""
    check_floating(op, input)
    if input.ndim not in (nd + 1, nd + 2) or 0 in input.shape[-nd - 1:]:
        raise RuntimeError(f"{op}: expected a {nd + 1}D (unbatched) or {nd + 2}D (batched) input with non-zero "
                           f"channel and spatial sizes, got input of shape {tuple(input.shape)}")


def _window_params(op: str, nd: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
                   dilation: Any, ceil_mode: bool) -> dict[str, tuple]:
    """kernel, stride (default: the kernel), padding (at most half the kernel), dilation and
    ceil_mode checked, as the keyword parameters of the pooling nodes."""
    _check_input(op, nd, input)
    kernel = expand_param(op, "kernel_size", kernel_size, nd, minimum=1)
    empty = stride is None or (isinstance(stride, (tuple, list)) and not stride)  # PyTorch: () means default
    stride = kernel if empty else expand_param(op, "stride", stride, nd, minimum=1)
    pads = expand_param(op, "padding", padding, nd, minimum=0)
    dilation = expand_param(op, "dilation", dilation, nd, minimum=1)
    if any(p > k // 2 for p, k in zip(pads, kernel)):
        raise RuntimeError(f"{op}: padding should be at most half of kernel size, but got padding={pads} "
                           f"and kernel_size={kernel}")
    in_size = tuple(input.shape[-nd:])
    out_size = tuple(pool_output_size(n, k, s, p, d, ceil_mode)
                     for n, k, s, p, d in zip(in_size, kernel, stride, pads, dilation))
    if any(o < 1 for o in out_size):
        raise RuntimeError(f"{op}: given input of shape {tuple(input.shape)}, kernel_size={kernel}, "
                           f"stride={stride}, padding={pads}, dilation={dilation}: calculated output size "
                           f"{out_size} is too small")
    return {"kernel": kernel, "stride": stride, "padding": pads, "dilation": dilation, "ceil_mode": ceil_mode}


def _max_pool(op: str, nd: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
              ceil_mode: bool) -> Tensor:
    return MaxPool.apply(input, **_window_params(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode))


def _avg_pool(op: str, nd: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool,
              count_include_pad: bool, divisor_override: int | None) -> Tensor:
    params = _window_params(op, nd, input, kernel_size, stride, padding, 1, ceil_mode)
    del params["dilation"]
    if divisor_override is not None and (not isinstance(divisor_override, int) or divisor_override == 0):
        raise ValueError(f"{op}: divisor_override must be a non-zero int, got {divisor_override!r}")
    return AvgPool.apply(input, count_include_pad=count_include_pad, divisor_override=divisor_override, **params)


def max_pool1d(input: Tensor, kernel_size: int | tuple[int], stride: int | tuple[int] | None = None,
               padding: int | tuple[int] = 0, dilation: int | tuple[int] = 1, ceil_mode: bool = False) -> Tensor:
    """Max over windows of length ``kernel_size`` along L: (N, C, L) or (C, L) -> (N, C, L_out).

    Padding (at most half the kernel) counts as -inf; the gradient goes to each window's
    maximum, the first one in scan order on ties (PyTorch's choice).
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d(input: Tensor, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0, dilation: int | tuple[int, int] = 1,
               ceil_mode: bool = False) -> Tensor:
    """Max over (kH, kW) windows: (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out); as :func:`max_pool1d`."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode)


def avg_pool1d(input: Tensor, kernel_size: int | tuple[int], stride: int | tuple[int] | None = None,
               padding: int | tuple[int] = 0, ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """Mean over windows along L: (N, C, L) or (C, L) -> (N, C, L_out).

    Padding counts as zeros.  Each window sum is divided by the window length clipped to the
    padded input (``count_include_pad=True``) or by the number of real inputs in it (False).
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input: Tensor, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over (kH, kW) windows: (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out); as
    :func:`avg_pool1d`, and ``divisor_override`` (when given) replaces every window's divisor."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def _adaptive_avg_pool(op: str, nd: int, input: Tensor, output_size: Any) -> Tensor:
    _check_input(op, nd, input)
    sizes = (output_size,) * nd if isinstance(output_size, int) or output_size is None else tuple(output_size)
    if len(sizes) != nd or not all(s is None or (isinstance(s, int) and s >= 0) for s in sizes):
        raise ValueError(f"{op}: output_size must be an int >= 0 or a tuple of {nd} such ints (or None), "
                         f"got {output_size!r}")
    return AdaptiveAvgPool.apply(input, output_size=sizes)


def adaptive_avg_pool1d(input: Tensor, output_size: int | tuple[int]) -> Tensor:
    """Average pooling to ``output_size`` positions: (N, C, L) or (C, L) -> (N, C, output_size).

    Output p averages inputs [floor(p * L / out), ceil((p + 1) * L / out)); output_size=1 is
    the global mean over L.
    """
    return _adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """Adaptive average pooling over H and W separately (as :func:`adaptive_avg_pool1d` per
    dimension; None keeps that size): (N, C, H, W) or (C, H, W) -> (N, C, out_H, out_W)."""
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)
