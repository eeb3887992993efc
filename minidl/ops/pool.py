"""Pooling over the spatial dimensions of x (N, C, *in) or (C, *in): max, average, adaptive average.

Max and average pooling loop over the kernel offsets (as im2col does, with the same window
arithmetic, :func:`~minidl.ops.conv.kernel_windows`), each step one strided slice operation on
the whole batch.  The padding is never materialised: an offset only touches the outputs whose
input position lies inside the input.  Output size per spatial dimension (PyTorch's rule):

    out = floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1

with ceil instead of floor when ``ceil_mode=True``, except that the last window must start
inside the input or its left padding; such a last window may reach past the right padding.
Adaptive average pooling is a product with a small averaging matrix per spatial dimension.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

from minidl import backend
from minidl.autograd.function import Function
from minidl.autograd.tensor import Tensor
from minidl.ops import reduction
from minidl.ops.conv import (
    Padding,
    Span,
    batched,
    in_slices,
    kernel_offsets,
    kernel_windows,
    out_slices,
    unbatched,
    window,
)
from minidl.ops.shape import cat, pad, stack

Array = backend.Array


def pool_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output size (module docstring)."""
    out = (size + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


class _Pool(Function):
    """The window parameters shared by max and average pooling (tuples, one entry per spatial
    dimension); each subclass also has a ``dilation``."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    ceil_mode: bool

    def _windows(self, x_shape: tuple[int, ...]) -> Iterator[tuple[tuple[int, ...], tuple[Span, ...]]]:
        """Remember the shape and output size of a batched x; the kernel windows over it."""
        self.x_shape = x_shape
        self.out_size = tuple(pool_output_size(*args, self.ceil_mode) for args in zip(
            x_shape[2:], self.kernel, self.stride, self.padding, self.dilation))
        pairs: Padding = tuple((p, p) for p in self.padding)
        return kernel_windows(x_shape[2:], self.out_size, self.kernel, self.stride, pairs, self.dilation)


def _window_starts(xp: ModuleType, out: int, stride: int, before: int, axis: int, nd: int) -> Array:
    """p * stride - before (window starts in input coordinates) for the outputs p along ``axis``,
    shaped to broadcast over an output grid of ``nd`` dimensions."""
    return (xp.arange(out, dtype=backend.int64) * stride - before).reshape((out,) + (1,) * (nd - axis - 1))


def _first_valid_offsets(xp: ModuleType, pool: _Pool) -> Array:
    """For each output position, the scan-order index of the first kernel offset inside the input.

    PyTorch starts each window's running max there (its argmax when no element beats -inf).
    Per dimension the first valid kernel index is ceil(max(0, -start) / dilation).
    """
    nd, flat = len(pool.kernel), 0
    for axis, (o, k, s, p, d) in enumerate(zip(pool.out_size, pool.kernel, pool.stride, pool.padding,
                                               pool.dilation)):
        start = _window_starts(xp, o, s, p, axis, nd)
        flat = flat * k - xp.minimum(start, 0) // d  # -(min(start, 0) // d) = ceil(max(0, -start) / d)
    return flat


def _windows_stacked(x: Tensor, kernel: tuple[int, ...], stride: tuple[int, ...], padding: tuple[int, ...],
                     dilation: tuple[int, ...], ceil_mode: bool, fill: float) -> Tensor:
    """Every window of batched x padded with ``fill``, stacked: (N, C, K, *out) (a reference helper)."""
    out_size = tuple(pool_output_size(*args, ceil_mode) for args in zip(x.shape[2:], kernel, stride, padding, dilation))
    ends = [(o - 1) * s + d * (k - 1) + 1 for o, k, s, d in zip(out_size, kernel, stride, dilation)]  # windows' reach
    widths = [(p, max(p, end - n - p)) for n, p, end in zip(x.shape[2:], padding, ends)]
    x = pad(x, [w for pair in reversed(widths) for w in pair], value=fill)
    return stack([x[window(k, out_size, stride, dilation)] for k in kernel_offsets(kernel)], 2)


def max_pool_reference(x: Tensor, kernel: tuple[int, ...], stride: tuple[int, ...], padding: tuple[int, ...],
                       dilation: tuple[int, ...], ceil_mode: bool) -> Tensor:
    """:class:`MaxPool` from primitives (batched x): the max over the stacked windows of x padded with -inf."""
    return reduction.max(_windows_stacked(x, kernel, stride, padding, dilation, ceil_mode, -float("inf")), 2).values


class MaxPool(_Pool):
    """y[n, c, p] = max over the window of x_pad[n, c, p * stride + k * dilation] (padding is -inf).
    The fused form of :func:`max_pool_reference` (for speed and memory: no stacked copy of x).

    dx = dy routed to the position of each window's max (the argmax, saved by forward).  Ties
    and NaN follow PyTorch's scan: offsets are visited in row-major order and a value replaces
    the running max when it is greater or NaN, so the first of equal maxima wins and a NaN
    propagates (the last NaN in the window gets the gradient).
    """

    dilation: tuple[int, ...]

    def forward(self, x: Array) -> Array:
        xp = backend.xp_of(x)
        self.in_shape = x.shape
        x = batched(x, len(self.kernel))
        windows = self._windows(x.shape)
        y = xp.full((*x.shape[:2], *self.out_size), -xp.inf, dtype=x.dtype)
        argmax = xp.empty(y.shape, dtype=backend.int64)
        argmax[...] = _first_valid_offsets(xp, self)
        for flat, (_, spans) in enumerate(windows):
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
        for flat, (_, spans) in enumerate(self._windows(self.x_shape)):
            out = out_slices(spans)
            gx[in_slices(spans)] += gy[out] * (self.argmax[out] == flat)
        return gx.reshape(self.in_shape)


def avg_divisor(xp: ModuleType, dtype: Any, in_size: tuple[int, ...], out_size: tuple[int, ...],
                kernel: tuple[int, ...], stride: tuple[int, ...], padding: tuple[int, ...],
                count_include_pad: bool) -> Array:
    """The number each window sum is divided by, shape ``out_size`` (PyTorch's rule).

    Per dimension the window is [p * stride - padding, + kernel) clipped to the padded input
    (count_include_pad=True), or to the input itself (False); the count is the product over
    dimensions.
    """
    count = xp.ones((), dtype=dtype)
    for axis, (n, o, k, s, p) in enumerate(zip(in_size, out_size, kernel, stride, padding)):
        start = _window_starts(xp, o, s, p, axis, len(out_size))
        end = xp.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = xp.maximum(start, 0), xp.minimum(end, n)
        count = count * (end - start).astype(dtype)
    return count


def avg_pool_reference(x: Tensor, kernel: tuple[int, ...], stride: tuple[int, ...], padding: tuple[int, ...],
                       ceil_mode: bool, count_include_pad: bool, divisor_override: int | None = None) -> Tensor:
    """:class:`AvgPool` from primitives (batched x): the sum over the stacked windows of x padded
    with 0, divided by the window sizes."""
    ones = (1,) * len(kernel)
    windows = _windows_stacked(x, kernel, stride, padding, ones, ceil_mode, 0.0)
    divisor = divisor_override or Tensor(avg_divisor(backend.xp_of(x.array), x.dtype, tuple(x.shape[2:]),
                                                     tuple(windows.shape[3:]), kernel, stride, padding,
                                                     count_include_pad))
    return windows.sum(2) / divisor


class AvgPool(_Pool):
    """y[n, c, p] = (sum over the window of x_pad[n, c, p * stride + k]) / divisor[p] (padding is 0).
    The fused form of :func:`avg_pool_reference` (for speed and memory: no stacked copy of x).

    dx[n, c, i] = sum over the windows containing i of dy[n, c, p] / divisor[p].  The divisor
    is ``divisor_override`` when given, else :func:`avg_divisor`.
    """

    count_include_pad: bool
    divisor_override: int | None = None

    @property
    def dilation(self) -> tuple[int, ...]:
        """Average pooling windows are contiguous."""
        return (1,) * len(self.kernel)

    def forward(self, x: Array) -> Array:
        xp = backend.xp_of(x)
        self.in_shape = x.shape
        x = batched(x, len(self.kernel))
        windows = self._windows(x.shape)
        y = xp.zeros((*x.shape[:2], *self.out_size), dtype=x.dtype)
        for _, spans in windows:
            y[out_slices(spans)] += x[in_slices(spans)]
        self.divisor = self.divisor_override or avg_divisor(
            xp, x.dtype, x.shape[2:], self.out_size, self.kernel, self.stride, self.padding, self.count_include_pad)
        y /= self.divisor
        return unbatched(y, len(self.in_shape), len(self.kernel))

    def backward(self, gy: Array) -> Array:
        gy = batched(gy, len(self.kernel)) / self.divisor
        gx = backend.xp_of(gy).zeros(self.x_shape, dtype=gy.dtype)
        for _, spans in self._windows(self.x_shape):
            gx[in_slices(spans)] += gy[out_slices(spans)]
        return gx.reshape(self.in_shape)


def adaptive_bounds(size: int, out: int) -> list[tuple[int, int]]:
    """Output p averages the inputs [floor(p * size / out), ceil((p + 1) * size / out))."""
    return [((p * size) // out, ((p + 1) * size + out - 1) // out) for p in range(out)]


def adaptive_matrix(xp: ModuleType, dtype: Any, size: int, out: int) -> Array:
    """A (size, out): column p averages the inputs of :func:`adaptive_bounds`."""
    p = xp.arange(out, dtype=backend.int64)
    start, end = (p * size) // out, ((p + 1) * size + out - 1) // out
    i = xp.arange(size, dtype=backend.int64)[:, None]
    inside = (i >= start) & (i < end)
    return inside.astype(dtype) / (end - start).astype(dtype)


def adaptive_avg_pool_reference(x: Tensor, output_size: tuple[int | None, ...]) -> Tensor:
    """:class:`AdaptiveAvgPool` from primitives: per dimension, the mean of each output's slice."""
    nd = len(output_size)
    for axis, size in enumerate(output_size):
        d = x.ndim - nd + axis
        n = x.shape[d]
        parts = [reduction.mean(x[(slice(None),) * d + (slice(a, b),)], d, keepdim=True)
                 for a, b in adaptive_bounds(n, n if size is None else size)]
        x = cat(parts, d)
    return x


class AdaptiveAvgPool(Function):
    """Adaptive average pooling over the last one or two dimensions, as products with averaging
    matrices (:func:`adaptive_matrix`): the fused form of :func:`adaptive_avg_pool_reference`
    (for speed: one matrix product per dimension instead of one mean per output).

    1-D: y = x @ A_w (x (..., L), A_w (L, L_out)); dx = dy @ A_w^T.
    2-D: y = A_h^T @ x @ A_w (per (n, c) plane); dx = A_h @ dy @ A_w^T.
    """

    #: output size per pooled dimension; None keeps the input's size
    output_size: tuple[int | None, ...]

    def forward(self, x: Array) -> Array:
        xp = backend.xp_of(x)
        sizes = x.shape[x.ndim - len(self.output_size):]
        self.mats = tuple(adaptive_matrix(xp, x.dtype, n, n if s is None else s)
                          for n, s in zip(sizes, self.output_size))
        a_w = self.mats[-1]
        y = (x.reshape(-1, x.shape[-1]) @ a_w).reshape(*x.shape[:-1], a_w.shape[1])
        return self.mats[0].T @ y if len(self.mats) == 2 else y

    def backward(self, gy: Array) -> Array:
        if len(self.mats) == 2:
            gy = self.mats[0] @ gy
        a_w = self.mats[-1]
        return (gy.reshape(-1, gy.shape[-1]) @ a_w.T).reshape(*gy.shape[:-1], a_w.shape[0])
