"""N-dimensional convolution (1-D and 2-D in practice) by im2col and one matrix product per group.

Notation: input x (N, C, *in) with spatial sizes ``in``; weight W (O, C/G, *kernel) with G
groups; output y (N, O, *out).  K = prod(kernel), P = prod(out).  Like PyTorch, "convolution"
means cross-correlation:

    y[n, o, p] = b[o] + sum_{c in group(o), k} W[o, c, k] * x_pad[n, c, p * stride + k * dilation]

where x_pad is x with ``padding = ((before, after), ...)`` zeros on each spatial side.

im2col gathers every input value a kernel position k sees at output p into one column matrix
``cols`` of shape (C*K, N*P) (row = (c, k), column = (n, p)); the convolution is then the single
BLAS product W (O, C*K) @ cols, done per group on the row/column blocks of that group.  The
padding is never materialised: positions that fall into it are zero rows of ``cols``.

The window arithmetic (:func:`kernel_windows`) is shared with the pooling ops.  (Padding x and
slicing the padded copy, as DeZero's ``im2col_array`` does, reads shorter but measured slower here:
forward + backward of the paper's Conv1d, x (64, 128, 10), kernel 3, padding 1, one thread,
medians of 7 alternated runs: 2.62 ms with this arithmetic, 2.70 ms padded.)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import NamedTuple

from minidl import backend
from minidl.autograd.function import Function
from minidl.autograd.tensor import Tensor
from minidl.ops.linalg import matmul
from minidl.ops.shape import cat, pad

Array = backend.Array
Padding = tuple[tuple[int, int], ...]  # (before, after) per spatial dimension


class Span(NamedTuple):
    """Where one kernel offset along one spatial dimension reads and writes.

    ``out`` selects the output positions whose input position p * stride + k * dilation - before
    lies inside the input; ``inp`` selects those input positions (a strided slice).  Both are
    empty when the offset only ever sees padding.
    """

    out: slice
    inp: slice


def output_size(size: int, kernel: int, stride: int, padding: tuple[int, int], dilation: int) -> int:
    """floor((size + before + after - dilation * (kernel - 1) - 1) / stride) + 1."""
    return (size + padding[0] + padding[1] - dilation * (kernel - 1) - 1) // stride + 1


def padding_pairs(padding: str | tuple[int, ...], kernel: tuple[int, ...], dilation: tuple[int, ...]) -> Padding:
    """``padding`` as (before, after) per dimension: ints pad both sides, 'valid' is no padding.

    'same' pads dilation * (kernel - 1) in total, half of it before; when that total is odd the
    extra zero goes after (right/bottom), as PyTorch.
    """
    if padding == "valid":
        return ((0, 0),) * len(kernel)
    if padding == "same":
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    return tuple((p, p) for p in padding)


def _span(k: int, size: int, out: int, stride: int, before: int, dilation: int) -> Span:
    """The :class:`Span` of kernel index ``k`` along one dimension of ``size`` inputs, ``out`` outputs."""
    shift = k * dilation - before  # input position of output 0
    first = max(0, -(shift // stride))  # ceil(-shift / stride), clipped at 0
    last = min(out, (size - 1 - shift) // stride + 1)  # one past the last output inside the input
    if last <= first:
        return Span(slice(0, 0), slice(0, 0))
    start = first * stride + shift
    return Span(slice(first, last), slice(start, start + (last - first - 1) * stride + 1, stride))


def kernel_offsets(kernel: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    """Every kernel offset (k_1, ..., k_d) in row-major scan order."""
    return itertools.product(*(range(k) for k in kernel))


def window(offset: tuple[int, ...], out_size: tuple[int, ...], stride: tuple[int, ...],
           dilation: tuple[int, ...]) -> tuple:
    """The index of x_pad[..., p * stride + offset * dilation] for every output p (strided slices)."""
    return (..., *(slice(k * d, k * d + (o - 1) * s + 1, s) for k, o, s, d in zip(offset, out_size, stride, dilation)))


def kernel_windows(in_size: tuple[int, ...], out_size: tuple[int, ...], kernel: tuple[int, ...],
                   stride: tuple[int, ...], padding: Padding,
                   dilation: tuple[int, ...]) -> Iterator[tuple[tuple[int, ...], tuple[Span, ...]]]:
    """Every kernel offset (k_1, ..., k_d) in row-major scan order with its spans per dimension.

    For offset k, ``x[..., inp]`` holds exactly the inputs that offset multiplies, for the outputs
    ``y[..., out]``; the other outputs see padding at that offset.
    """
    per_dim = [[_span(k, n, o, s, before, d) for k in range(kk)]
               for n, o, kk, s, (before, _), d in zip(in_size, out_size, kernel, stride, padding, dilation)]
    return zip(kernel_offsets(kernel), itertools.product(*per_dim))


def out_slices(spans: tuple[Span, ...]) -> tuple:
    """The index of the outputs an offset touches: ``y[out_slices(spans)]`` (leading dimensions kept)."""
    return (..., *(s.out for s in spans))


def in_slices(spans: tuple[Span, ...]) -> tuple:
    """The index of the inputs an offset reads: ``x[in_slices(spans)]`` (leading dimensions kept)."""
    return (..., *(s.inp for s in spans))


def _zero_outside(block: Array, spans: tuple[Span, ...], out_size: tuple[int, ...]) -> None:
    """Zero the entries of ``block`` (*, *out) outside the spans' output ranges (they see padding)."""
    for axis, (span, o) in enumerate(zip(spans, out_size)):
        lead = (slice(None),) * (block.ndim - len(out_size) + axis)
        if span.out.start > 0:
            block[(*lead, slice(0, span.out.start))] = 0
        if span.out.stop < o:
            block[(*lead, slice(span.out.stop, o))] = 0


def im2col(x: Array, kernel: tuple[int, ...], stride: tuple[int, ...], padding: Padding,
           dilation: tuple[int, ...], out_size: tuple[int, ...]) -> Array:
    """cols[(c, k), (n, p)] = x_pad[n, c, p * stride + k * dilation]:  x (N, C, *in) -> (C*K, N*P).

    One strided slice copy per kernel offset into a preallocated buffer; entries that fall into
    the padding are set to zero.
    """
    n, c = x.shape[:2]
    cols = backend.xp_of(x).empty((c, *kernel, n, *out_size), dtype=x.dtype)
    xt = x.swapaxes(0, 1)  # (C, N, *in): the order of the blocks of cols
    for offset, spans in kernel_windows(x.shape[2:], out_size, kernel, stride, padding, dilation):
        block = cols[(slice(None), *offset)]  # (C, N, *out)
        _zero_outside(block, spans, out_size)
        block[out_slices(spans)] = xt[in_slices(spans)]
    return cols.reshape(c * math.prod(kernel), n * math.prod(out_size))


def col2im(cols: Array, x_shape: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
           padding: Padding, dilation: tuple[int, ...], out_size: tuple[int, ...]) -> Array:
    """The adjoint of :func:`im2col`: dx[n, c, i] = sum of cols[(c, k), (n, p)] over all (k, p) reading i.

    cols (C*K, N*P) -> dx (N, C, *in); one strided slice addition per kernel offset (entries
    that fell into the padding are dropped).
    """
    n, c = x_shape[:2]
    gx = backend.xp_of(cols).zeros(x_shape, dtype=cols.dtype)
    gxt = gx.swapaxes(0, 1)  # (C, N, *in), a view: the additions land in gx
    cols = cols.reshape(c, *kernel, n, *out_size)
    for offset, spans in kernel_windows(x_shape[2:], out_size, kernel, stride, padding, dilation):
        gxt[in_slices(spans)] += cols[(slice(None), *offset)][out_slices(spans)]
    return gx


def batched(x: Array, nd: int) -> Array:
    """x (C, *in) with ``nd`` spatial dimensions as a batch of one, (1, C, *in); batched x as it is."""
    return x if x.ndim == nd + 2 else x[None]


def unbatched(y: Array, in_ndim: int, nd: int) -> Array:
    """Undo :func:`batched` on a result: y (1, C, *out) -> (C, *out) when the input had ``nd + 1`` dimensions."""
    return y[0] if in_ndim == nd + 1 else y


def convolution_reference(x: Tensor, w: Tensor, b: Tensor | None, stride: tuple[int, ...],
                          padding: str | tuple[int, ...], dilation: tuple[int, ...], groups: int) -> Tensor:
    """:class:`Convolution` from primitives, for batched x (N, C, *in): pad, then for every kernel
    offset k add W[:, :, k] @ (the strided window of x_pad that k sees), group by group."""
    kernel, nd = tuple(w.shape[2:]), w.ndim - 2
    pairs = padding_pairs(padding, kernel, dilation)
    x = pad(x, [p for pair in reversed(pairs) for p in pair])
    out_size = tuple(output_size(n, k, s, (0, 0), d) for n, k, s, d in zip(x.shape[2:], kernel, stride, dilation))
    channels_last = (0, *range(2, nd + 2), 1)  # (N, C, *out) -> (N, *out, C)
    c, o = w.shape[1], w.shape[0] // groups
    ys = []
    for g in range(groups):
        y = 0
        for k in kernel_offsets(kernel):
            x_k = x[(slice(None), slice(g * c, (g + 1) * c), *window(k, out_size, stride, dilation)[1:])]
            y = y + matmul(x_k.permute(*channels_last), w[(slice(g * o, (g + 1) * o), slice(None), *k)].T)
        ys.append(y)
    y = cat(ys, -1) if b is None else cat(ys, -1) + b
    return y.permute(0, nd + 1, *range(1, nd + 1))


class Convolution(Function):
    """y = conv(x, W) + b (module docstring):  x (N, C, *in) or (C, *in), W (O, C/G, *kernel),
    b (O,) or None -> y (N, O, *out) or (O, *out).  The fused form of :func:`convolution_reference`
    (for speed: one matrix product per group instead of one per kernel offset).

    Per group g, with cols_g the rows of cols for the group's input channels, W_g (O/G, C/G*K)
    and dy_g (O/G, N*P) the output-gradient matrix of its output channels:

        y_g   = W_g @ cols_g                        forward
        dW_g  = dy_g @ cols_g^T                     (O/G, N*P) @ (N*P, C/G*K)
        dcols = W_g^T @ dy_g, then dx = col2im(dcols)
        db    = sum of dy over n and p
    """

    stride: tuple[int, ...]
    #: ints (both sides of each dimension), 'valid' or 'same'
    padding: str | tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int

    def forward(self, x: Array, w: Array, b: Array | None) -> Array:
        self.in_shape, self.w = x.shape, w
        kernel = w.shape[2:]
        x = batched(x, len(kernel))
        self.x_shape, self.pairs = x.shape, padding_pairs(self.padding, kernel, self.dilation)
        self.out_size = tuple(output_size(*args) for args in zip(x.shape[2:], kernel, self.stride, self.pairs,
                                                                  self.dilation))
        self.cols = im2col(x, kernel, self.stride, self.pairs, self.dilation, self.out_size)
        n, o = x.shape[0], w.shape[0]
        y = self._weight_groups() @ self._col_groups(self.cols)  # (G, O/G, N*P)
        y = y.reshape(o, n, *self.out_size)
        out = backend.xp_of(x).empty((n, o, *self.out_size), dtype=x.dtype)
        if b is not None:  # add the bias while transposing (O, N, *out) into the NCHW output: one pass
            backend.xp_of(x).add(y, b.reshape(o, *(1,) * (y.ndim - 1)), out=out.swapaxes(0, 1))
        else:
            out.swapaxes(0, 1)[...] = y
        return unbatched(out, len(self.in_shape), len(kernel))

    def backward(self, gy: Array) -> tuple[Array | None, Array | None, Array | None]:
        w, g = self.w, self.groups
        xp = backend.xp_of(gy)
        gy = batched(gy, w.ndim - 2)
        gy2 = xp.ascontiguousarray(gy.swapaxes(0, 1)).reshape(g, w.shape[0] // g, self.cols.shape[1])  # (G, O/G, N*P)
        gx = gw = gb = None
        if self.needs_input_grad[0]:  # skipped for the first layer: its input needs no gradient
            gcols = (self._weight_groups().swapaxes(1, 2) @ gy2).reshape(self.cols.shape)
            gx = col2im(gcols, self.x_shape, w.shape[2:], self.stride, self.pairs, self.dilation,
                        self.out_size).reshape(self.in_shape)
        if self.needs_input_grad[1]:
            gw = (gy2 @ self._col_groups(self.cols).swapaxes(1, 2)).reshape(w.shape)
        if self.needs_input_grad[2]:
            gb = gy2.reshape(w.shape[0], self.cols.shape[1]).sum(axis=1)
        return gx, gw, gb

    def _weight_groups(self) -> Array:
        """W as (G, O/G, C/G*K)."""
        return self.w.reshape(self.groups, self.w.shape[0] // self.groups, -1)

    def _col_groups(self, cols: Array) -> Array:
        """cols (C*K, N*P) as (G, C/G*K, N*P): the rows of each group are contiguous."""
        return cols.reshape(self.groups, cols.shape[0] // self.groups, cols.shape[1])
