"""Pooling over the spatial dimensions of x (N, C, *in) or (C, *in): max, average, adaptive average.

Max and average pooling loop over the kernel offsets (as im2col does, with the same window
arithmetic, :func:`~minidl.ops.conv.kernel_windows`), each step one strided slice operation on
the whole batch.  The padding is never materialised: an offset only touches the outputs whose
input position lies inside the input.  Adaptive average pooling is a product with a small
averaging matrix per spatial dimension.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

from minidl import backend
from minidl.autograd.function import Function
from minidl.ops.conv import Padding, Span, batched, in_slices, kernel_windows, out_slices, unbatched

Array = backend.Array


def _windows(pool: Function, in_size: tuple[int, ...]) -> Iterator[tuple[tuple[int, ...], tuple[Span, ...]]]:
    """The kernel windows of a pooling node (its ``kernel``, ``stride``, ``padding``, ``dilation``, ``out_size``)."""
    return kernel_windows(in_size, pool.out_size, pool.kernel, pool.stride, pool.padding, pool.dilation)


def _window_starts(xp: ModuleType, out: int, stride: int, before: int, axis: int, nd: int) -> Array:
    """p * stride - before (window starts in input coordinates) for the outputs p along ``axis``,
    shaped to broadcast over an output grid of ``nd`` dimensions."""
    return (xp.arange(out, dtype=backend.int64) * stride - before).reshape((out,) + (1,) * (nd - axis - 1))


def _first_valid_offsets(xp: ModuleType, pool: Function) -> Array:
    """For each output position, the scan-order index of the first kernel offset inside the input.

    PyTorch starts each window's running max there (its argmax when no element beats -inf).
    Per dimension the first valid kernel index is ceil(max(0, -start) / dilation).
    """
    nd, flat = len(pool.kernel), 0
    for axis, (o, k, s, (before, _), d) in enumerate(zip(pool.out_size, pool.kernel, pool.stride,
                                                         pool.padding, pool.dilation)):
        start = _window_starts(xp, o, s, before, axis, nd)
        flat = flat * k - xp.minimum(start, 0) // d  # -(min(start, 0) // d) = ceil(max(0, -start) / d)
    return flat


class MaxPool(Function):
    """y[n, c, p] = max over the window of x_pad[n, c, p * stride + k * dilation] (padding is -inf).

    dx = dy routed to the position of each window's max (the argmax, saved by forward).  Ties
    and NaN follow PyTorch's scan: offsets are visited in row-major order and a value replaces
    the running max when it is greater or NaN, so the first of equal maxima wins and a NaN
    propagates (the last NaN in the window gets the gradient).

    Parameters: ``kernel``, ``stride``, ``padding`` ((before, after) per dimension), ``dilation``,
    ``out_size`` (tuples).
    """

    def forward(self, x: Array) -> Array:
        xp = backend.xp_of(x)
        self.in_shape = x.shape
        x = batched(x, len(self.kernel))
        self.x_shape = x.shape
        y = xp.full((*x.shape[:2], *self.out_size), -xp.inf, dtype=x.dtype)
        argmax = xp.empty(y.shape, dtype=backend.int64)
        argmax[...] = _first_valid_offsets(xp, self)
        for flat, (_, spans) in enumerate(_windows(self, x.shape[2:])):
            value, best, where = x[in_slices(spans)], y[out_slices(spans)], argmax[out_slices(spans)]
            take = value > best
            take |= xp.isnan(value)
            xp.copyto(best, value, where=take)
            xp.copyto(where, flat, where=take)
        self.argmax = argmax
        return unbatched(y, len(self.in_shape), len(self.kernel))

    def backward(self, gy: Array) -> Array:
        gy = batched(gy, len(self.kernel))
        gx = backend.xp_of(gy).zeros(self.x_shape, dtype=gy.dtype)
        for flat, (_, spans) in enumerate(_windows(self, self.x_shape[2:])):
            out = out_slices(spans)
            gx[in_slices(spans)] += gy[out] * (self.argmax[out] == flat)
        return gx.reshape(self.in_shape)


def avg_divisor(xp: ModuleType, dtype: Any, in_size: tuple[int, ...], out_size: tuple[int, ...],
                kernel: tuple[int, ...], stride: tuple[int, ...], padding: Padding,
                count_include_pad: bool) -> Array:
    """The number each window sum is divided by, shape ``out_size`` (PyTorch's rule).

    Per dimension the window is [p * stride - before, + kernel) clipped to the padded input
    (count_include_pad=True), or to the input itself (False); the count is the product over
    dimensions.
    """
    count = xp.ones((), dtype=dtype)
    for axis, (n, o, k, s, (before, after)) in enumerate(zip(in_size, out_size, kernel, stride, padding)):
        start = _window_starts(xp, o, s, before, axis, len(out_size))
        end = xp.minimum(start + k, n + after)
        if not count_include_pad:
            start, end = xp.maximum(start, 0), xp.minimum(end, n)
        count = count * (end - start).astype(dtype)
    return count


class AvgPool(Function):
    """y[n, c, p] = (sum over the window of x_pad[n, c, p * stride + k]) / divisor[p] (padding is 0).

    dx[n, c, i] = sum over the windows containing i of dy[n, c, p] / divisor[p].

    Parameters: ``kernel``, ``stride``, ``padding``, ``dilation`` (ones), ``out_size`` and
    ``divisor`` (an array of shape ``out_size`` from :func:`avg_divisor`, or the int
    ``divisor_override``).
    """

    def forward(self, x: Array) -> Array:
        self.in_shape = x.shape
        x = batched(x, len(self.kernel))
        self.x_shape = x.shape
        y = backend.xp_of(x).zeros((*x.shape[:2], *self.out_size), dtype=x.dtype)
        for _, spans in _windows(self, x.shape[2:]):
            y[out_slices(spans)] += x[in_slices(spans)]
        y /= self.divisor
        return unbatched(y, len(self.in_shape), len(self.kernel))

    def backward(self, gy: Array) -> Array:
        gy = batched(gy, len(self.kernel)) / self.divisor
        gx = backend.xp_of(gy).zeros(self.x_shape, dtype=gy.dtype)
        for _, spans in _windows(self, self.x_shape[2:]):
            gx[in_slices(spans)] += gy[out_slices(spans)]
        return gx.reshape(self.in_shape)


def adaptive_matrix(xp: ModuleType, dtype: Any, size: int, out: int) -> Array:
    """A (size, out): column p averages the inputs [floor(p * size / out), ceil((p + 1) * size / out))."""
    p = xp.arange(out, dtype=backend.int64)
    start, end = (p * size) // out, ((p + 1) * size + out - 1) // out
    i = xp.arange(size, dtype=backend.int64)[:, None]
    inside = (i >= start) & (i < end)
    return inside.astype(dtype) / (end - start).astype(dtype)


class AdaptiveAvgPool(Function):
    """Adaptive average pooling over the last one or two dimensions, as products with averaging matrices.

    1-D: y = x @ A_w (x (..., L), A_w (L, L_out)); dx = dy @ A_w^T.
    2-D: y = A_h^T @ x @ A_w (per (n, c) plane); dx = A_h @ dy @ A_w^T.
    Parameter: ``mats``, the matrices (A_w,) or (A_h, A_w) from :func:`adaptive_matrix`.
    """

    def forward(self, x: Array) -> Array:
        a_w = self.mats[-1]
        y = (x.reshape(-1, x.shape[-1]) @ a_w).reshape(*x.shape[:-1], a_w.shape[1])
        return self.mats[0].T @ y if len(self.mats) == 2 else y

    def backward(self, gy: Array) -> Array:
        if len(self.mats) == 2:
            gy = self.mats[0] @ gy
        a_w = self.mats[-1]
        return (gy.reshape(-1, gy.shape[-1]) @ a_w.T).reshape(*gy.shape[:-1], a_w.shape[0])
