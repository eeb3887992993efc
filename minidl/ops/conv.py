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

That layout copies runs along the output's last spatial dimension: short for the paper's clips
(10 frames) and long for images.  :func:`im2col_rows` lays the same values out transposed,
(N*P, C*K) with the channel axis last, and copies runs of C/G values; :class:`Convolution`
takes it when a group's channels outnumber the output positions twice over, below 1024 channels
(:func:`channels_last_pays`, with its measurements), and is tested equal in both layouts.

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


def _zero_outside(block: Array, spans: tuple[Span, ...], out_size: tuple[int, ...], first: int) -> None:
    """Zero the entries of ``block`` outside the spans' output ranges (they see padding); the
    spatial output axes of ``block`` start at axis ``first``."""
    for axis, (span, o) in enumerate(zip(spans, out_size)):
        lead = (slice(None),) * (first + axis)
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
        _zero_outside(block, spans, out_size, 2)
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


def im2col_rows(x: Array, kernel: tuple[int, ...], stride: tuple[int, ...], padding: Padding,
                dilation: tuple[int, ...], out_size: tuple[int, ...], groups: int) -> Array:
    """:func:`im2col` with one row per output position, channels last:  x (N, C, *in) -> (N*P, C*K),

        cols[(n, p), (g, k, c)] = x_pad[n, g * C/G + c, p * stride + k * dilation]

    (columns by group g, then kernel offset k, then channel c within the group), so that every
    copy moves runs of C/G values instead of runs along the output's last spatial dimension.
    """
    n, c, nd = x.shape[0], x.shape[1], len(kernel)
    xp = backend.xp_of(x)
    xt = xp.moveaxis(x, 1, -1).reshape(n, *x.shape[2:], groups, c // groups)  # (N, *in, G, C/G), a view
    cols = xp.empty((n, *out_size, groups, *kernel, c // groups), dtype=x.dtype)
    for offset, spans in kernel_windows(x.shape[2:], out_size, kernel, stride, padding, dilation):
        block = cols[(slice(None),) * (nd + 2) + offset]  # (N, *out, G, C/G)
        _zero_outside(block, spans, out_size, 1)
        block[(slice(None), *(s.out for s in spans))] = xt[(slice(None), *(s.inp for s in spans))]
    return cols.reshape(n * math.prod(out_size), c * math.prod(kernel))


def col2im_rows(cols: Array, x_shape: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
                padding: Padding, dilation: tuple[int, ...], out_size: tuple[int, ...], groups: int) -> Array:
    """The adjoint of :func:`im2col_rows`: cols (N*P, C*K) -> dx (N, C, *in), contiguous.

    The additions go into a channels-last buffer (N, *in, C), one transposing copy gives dx.
    """
    (n, c), nd = x_shape[:2], len(kernel)
    xp = backend.xp_of(cols)
    gxt = xp.zeros((n, *x_shape[2:], groups, c // groups), dtype=cols.dtype)
    cols = cols.reshape(n, *out_size, groups, *kernel, c // groups)
    for offset, spans in kernel_windows(x_shape[2:], out_size, kernel, stride, padding, dilation):
        block = cols[(slice(None),) * (nd + 2) + offset]  # (N, *out, G, C/G)
        gxt[(slice(None), *(s.inp for s in spans))] += block[(slice(None), *(s.out for s in spans))]
    return xp.ascontiguousarray(xp.moveaxis(gxt.reshape(n, *x_shape[2:], c), -1, 1))


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


def channels_last_pays(channels_per_group: int, positions: int) -> bool:
    """Whether :class:`Convolution` takes its channels-last layout: when a group has at least twice
    as many channels as a sample has output positions (C/G >= 2 P), so that im2col's copies move
    runs of C/G values rather than runs along the output; and fewer than 1024 of them: there the
    products outweigh the copies, the two layouts measured even, and at 2048 channels first won.

    Measured (``python benchmarks/alternatives.py``, forward + backward, channels-last time over
    channels-first time, medians of alternated runs; ranges over two to four runs, with and without a
    0.25 s pause): the paper's layers (C/G 128 and 256, P = 10) 0.74-0.95, its conv model's
    training step 0.88-0.94 and inference 0.79-1.05; C -> C channels over 10 positions, batch 256:
    512 0.87-0.95, 768 0.86-0.92, 1024 0.99-1.03, 2048 1.11-1.12.  Below 2 P: conv1d 64 -> 64
    with P = 50 0.90-1.18, 16 channels per group with P = 100 0.93-1.23, conv2d 16 -> 32 on 28x28
    1.51-1.84, 32 -> 64 on 16x16 outputs 0.94-1.28 and 3 -> 16 on 64x64 3.26-4.11.
    """
    return 2 * positions <= channels_per_group < 1024


class Convolution(Function):
    """y = conv(x, W) + b (module docstring):  x (N, C, *in) or (C, *in), W (O, C/G, *kernel),
    b (O,) or None -> y (N, O, *out) or (O, *out).  The fused form of :func:`convolution_reference`
    (for speed: one matrix product per group instead of one per kernel offset).

    Per group g, with cols_g (C/G*K, N*P) the rows of cols for the group's input channels, W_g
    (O/G, C/G*K) and dy_g (O/G, N*P) the output-gradient matrix of its output channels:

        y_g     = W_g @ cols_g                      forward
        dW_g    = dy_g @ cols_g^T                   (O/G, N*P) @ (N*P, C/G*K)
        dcols_g = W_g^T @ dy_g, then dx = col2im(dcols)
        db      = sum of dy over n and p

    Two layouts compute these products.  Channels first (:func:`im2col`) stores each matrix as
    written; channels last (:func:`im2col_rows`, chosen when :func:`channels_last_pays`) stores
    each one transposed, one row per output position, and computes (a @ b)^T = b^T @ a^T
    (:meth:`_product`).  Both are tested equal to 1e-12 in float64.
    """

    stride: tuple[int, ...]
    #: ints (both sides of each dimension), 'valid' or 'same'
    padding: str | tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    #: the layout of the matrices: None chooses by :func:`channels_last_pays`; tests force True or False
    channels_last: bool | None = None

    def forward(self, x: Array, w: Array, b: Array | None) -> Array:
        self.in_shape, self.w, kernel = x.shape, w, w.shape[2:]
        x = batched(x, len(kernel))
        self.x_shape, self.pairs = x.shape, padding_pairs(self.padding, kernel, self.dilation)
        self.out_size = tuple(output_size(*args) for args in zip(x.shape[2:], kernel, self.stride, self.pairs,
                                                                  self.dilation))
        if self.channels_last is None:
            self.channels_last = channels_last_pays(w.shape[1], math.prod(self.out_size))
        window = (kernel, self.stride, self.pairs, self.dilation, self.out_size)
        self.cols = im2col_rows(x, *window, self.groups) if self.channels_last else im2col(x, *window)
        y = self._to_output(self._product(self._weight_groups(), self._col_groups()))  # (N, G, O/G, P)
        xp, (n, o) = backend.xp_of(x), (x.shape[0], w.shape[0])
        out = xp.empty((n, o, *self.out_size), dtype=x.dtype)
        out_groups = out.reshape(y.shape)
        if b is not None:  # add the bias while transposing into the NCHW output: one pass
            xp.add(y, b.reshape(y.shape[1:3] + (1,)), out=out_groups)
        else:
            out_groups[...] = y
        return unbatched(out, len(self.in_shape), len(kernel))

    def backward(self, gy: Array) -> tuple[Array | None, Array | None, Array | None]:
        w, gy = self.w, batched(gy, self.w.ndim - 2)
        gy_g = self._from_output(gy)
        gx = gw = gb = None
        if self.needs_input_grad[0]:  # skipped for the first layer: its input needs no gradient
            gcols = self._ungrouped_cols(self._product(self._weight_groups().swapaxes(1, 2), gy_g))
            window = (w.shape[2:], self.stride, self.pairs, self.dilation, self.out_size)
            gx = col2im_rows(gcols, self.x_shape, *window, self.groups) if self.channels_last \
                else col2im(gcols, self.x_shape, *window)
            gx = gx.reshape(self.in_shape)
        if self.needs_input_grad[1]:
            gw = self._to_weight(self._product(gy_g, self._col_groups().swapaxes(1, 2)))
        if self.needs_input_grad[2]:
            gb = gy.sum(axis=(0, *range(2, gy.ndim)))
        return gx, gw, gb

    # Each matrix as stored in this node's layout (a stored transposed matrix: ^T below), and back.
    def _product(self, a: Array, b: Array) -> Array:
        """a @ b of matrices stacked by group: channels last stores a^T and b^T and gets (a @ b)^T = b^T @ a^T."""
        return b @ a if self.channels_last else a @ b

    def _weight_groups(self) -> Array:
        """W_g: W (O, C/G, *kernel) as (G, O/G, C/G*K), columns (c, k) like cols' rows; channels last
        (G, K*C/G, O/G) = W_g^T with rows (k, c) like cols' columns (a small copy)."""
        g, (o, c), k = self.groups, self.w.shape[:2], math.prod(self.w.shape[2:])
        if not self.channels_last:
            return self.w.reshape(g, o // g, c * k)
        return self.w.reshape(g, o // g, c, k).transpose(0, 3, 2, 1).reshape(g, k * c, o // g)

    def _to_weight(self, gw_g: Array) -> Array:
        """:meth:`_weight_groups` undone: dW_g stored -> dW (O, C/G, *kernel)."""
        g, (o, c), k = self.groups, self.w.shape[:2], math.prod(self.w.shape[2:])
        if not self.channels_last:
            return gw_g.reshape(self.w.shape)
        return gw_g.reshape(g, k, c, o // g).transpose(0, 3, 2, 1).reshape(self.w.shape)

    def _col_groups(self) -> Array:
        """cols_g: cols (C*K, N*P) as (G, C/G*K, N*P); channels last cols (N*P, C*K) as (G, N*P, K*C/G) (views)."""
        g, (rows, columns) = self.groups, self.cols.shape
        if not self.channels_last:
            return self.cols.reshape(g, rows // g, columns)
        return self.cols.reshape(rows, g, columns // g).swapaxes(0, 1)

    def _ungrouped_cols(self, gcols_g: Array) -> Array:
        """:meth:`_col_groups` undone: dcols_g stored -> dcols shaped like cols."""
        return (gcols_g.swapaxes(0, 1) if self.channels_last else gcols_g).reshape(self.cols.shape)

    def _to_output(self, y_g: Array) -> Array:
        """y_g stored, (G, O/G, N*P) or (G, N*P, O/G), reshaped and transposed into a view
        (N, G, O/G, P): the order of the output (N, O, *out), grouped."""
        g, n, o, p = self.groups, self.x_shape[0], self.w.shape[0], math.prod(self.out_size)
        if self.channels_last:
            return y_g.reshape(g, n, p, o // g).transpose(1, 0, 3, 2)
        return y_g.reshape(g, o // g, n, p).transpose(2, 0, 1, 3)

    def _from_output(self, gy: Array) -> Array:
        """:meth:`_to_output` undone: dy (N, O, *out) -> dy_g stored (a transposing copy)."""
        g, n, o, p = self.groups, gy.shape[0], gy.shape[1], math.prod(self.out_size)
        grouped = gy.reshape(n, g, o // g, p)
        if self.channels_last:
            return backend.xp_of(gy).ascontiguousarray(grouped.transpose(1, 0, 3, 2)).reshape(g, n * p, o // g)
        return backend.xp_of(gy).ascontiguousarray(grouped.transpose(1, 2, 0, 3)).reshape(g, o // g, n * p)
