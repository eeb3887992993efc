"""Ops that move values without changing them: reshape, view, transpose, permute, squeeze,
unsqueeze, expand, flatten, indexing, cat, stack, pad, contiguous.

Their backward moves the gradient back the same way: a reshape is undone by a reshape, a
transpose by the inverse transpose, indexing by scattering into zeros.

Views, as in PyTorch: ``view``, ``transpose``/``permute``/``.T``, ``squeeze``/``unsqueeze``,
``expand``, basic indexing (``x[0]``, ``x[:, 1:]``) and ``reshape`` where it can avoid a copy
return a tensor that shares the input's memory (and version counter): writing through one is
seen by the other.  ``view`` refuses the layouts where it would have to copy; ``reshape`` then
copies, and ``contiguous`` makes a row-major copy of a tensor that is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from minidl import backend
from minidl.autograd.function import Function, shares_memory
from minidl.autograd.tensor import Tensor
from minidl.ops.common import normalize_dim, number
from minidl.ops.convert import Clone

Array = backend.Array


class Reshape(Function):
    """y = x with a new shape (same elements, row-major order);  dx = dy reshaped back."""

    shape: tuple[int, ...]

    def forward(self, x: Array) -> Array:
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy: Array) -> Array:
        return gy.reshape(self.in_shape)


class Permute(Function):
    """y = x with dimensions reordered by ``dims``;  dx = dy permuted by the inverse order."""

    dims: tuple[int, ...]

    def forward(self, x: Array) -> Array:
        return x.transpose(self.dims)

    def backward(self, gy: Array) -> Array:
        inverse = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inverse[d] = i
        return gy.transpose(inverse)


class Expand(Function):
    """y = x broadcast to ``shape`` (a view);  dx = dy summed over the broadcast dimensions
    (done by the engine's central reduction, so backward returns dy as is)."""

    shape: tuple[int, ...]

    def forward(self, x: Array) -> Array:
        return backend.xp_of(x).broadcast_to(x, self.shape)

    def backward(self, gy: Array) -> Array:
        return gy


class Index(Function):
    """y = x[key];  dx = zeros with dy scattered back to the indexed places.

    Basic indexing (ints, slices, None, ...) and boolean masks select each element at most
    once, so plain assignment suffices.  Integer-array indexing may select an element several
    times, so its gradient is a scatter-add (``np.add.at`` / ``cupyx.scatter_add``).
    """

    key: Any
    repeats_possible: bool

    def forward(self, x: Array) -> Array:
        self.shape, self.dtype = x.shape, x.dtype
        check_bounds(self.key, x.shape)  # CuPy would wrap an out-of-range index around
        return x[self.key]

    def backward(self, gy: Array) -> Array:
        xp = backend.xp_of(gy)
        gx = xp.zeros(self.shape, dtype=self.dtype)
        if self.repeats_possible:
            backend.scatter_add(xp, gx, self.key, gy)
        else:
            gx[self.key] = gy
        return gx


class Cat(Function):
    """y = inputs joined along ``dim``;  each dx_i = the matching slice of dy."""

    dim: int

    def forward(self, *xs: Array) -> Array:
        self.sizes = [x.shape[self.dim] for x in xs]
        return backend.xp_of(xs[0]).concatenate(xs, axis=self.dim)

    def backward(self, gy: Array) -> tuple[Array, ...]:
        grads, start = [], 0
        for size in self.sizes:
            index = [slice(None)] * gy.ndim
            index[self.dim] = slice(start, start + size)
            grads.append(gy[tuple(index)])
            start += size
        return tuple(grads)


class Stack(Function):
    """y = inputs stacked along a new ``dim``;  dx_i = dy taken at index i of ``dim``."""

    dim: int

    def forward(self, *xs: Array) -> Array:
        return backend.xp_of(xs[0]).stack(xs, axis=self.dim)

    def backward(self, gy: Array) -> tuple[Array, ...]:
        return tuple(gy.take(i, axis=self.dim) for i in range(gy.shape[self.dim]))


class ConstantPad(Function):
    """y = x surrounded by ``value`` (negative widths crop);  dx = the matching window of dy.

    ``source``/``target`` are the slices of x and y that hold the same elements.
    """

    #: (before, after) for every dimension of x
    widths: tuple[tuple[int, int], ...]
    value: float

    def forward(self, x: Array) -> Array:
        xp = backend.xp_of(x)
        self.in_shape = x.shape
        out_shape = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, self.widths))
        self.source = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in zip(x.shape, self.widths))
        self.target = tuple(slice(max(lo, 0), m - max(hi, 0)) for m, (lo, hi) in zip(out_shape, self.widths))
        y = xp.full(out_shape, self.value, dtype=x.dtype)
        y[self.target] = x[self.source]
        return y

    def backward(self, gy: Array) -> Array:
        gx = backend.xp_of(gy).zeros(self.in_shape, dtype=gy.dtype)
        gx[self.source] = gy[self.target]
        return gx


# -------------------------------------------------------------------------- user functions
def _shape_arg(shape: Sequence[Any]) -> tuple[int, ...]:
    """``reshape(2, 3)`` and ``reshape((2, 3))`` both mean (2, 3)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(n) for n in shape)


def _new_shape(op: str, input: Tensor, shape: Sequence[Any]) -> tuple[int, ...]:
    """The shape argument of ``reshape``/``view``, checked to hold the input's elements."""
    shape = _shape_arg(shape)
    known = 1
    for n in shape:
        known *= n if n != -1 else 1
    if shape.count(-1) > 1 or (-1 not in shape and known != input.numel()) or \
            (-1 in shape and (known == 0 or input.numel() % known)):
        raise RuntimeError(f"{op}: shape {list(shape)} is invalid for input of size {input.numel()} "
                           f"(shape {tuple(input.shape)})")
    return shape


def reshape(input: Tensor, *shape: Any) -> Tensor:
    """The same elements in a new shape; one dimension may be -1 (inferred).  A view of the
    input's memory when its layout allows, else a copy."""
    return Reshape.apply(input, shape=_new_shape("reshape", input, shape))


def view(input: Tensor, *shape: Any) -> Tensor:
    """:func:`reshape` that never copies: the result always shares the input's memory.

    Possible when the new shape can be walked with strides over the input's memory (always for a
    contiguous input); otherwise PyTorch's error, e.g. for ``x.t().view(-1)``.
    """
    shape = _new_shape("view", input, shape)
    if input.numel() and not shares_memory(input.array.reshape(shape), input.array):
        raise RuntimeError(f"view: view size is not compatible with input tensor's size and stride (at least one "
                           f"dimension spans across two contiguous subspaces): shape {tuple(input.shape)}, strides "
                           f"{_strides(input)}, new shape {list(shape)}. Use .reshape(...) instead.")
    return Reshape.apply(input, shape=shape)


def _strides(input: Tensor) -> tuple[int, ...]:
    """The strides in elements (PyTorch's unit), not bytes."""
    return tuple(s // input.array.itemsize for s in input.array.strides)


def contiguous(input: Tensor) -> Tensor:
    """``input`` itself when it is contiguous (row-major, no gaps), else a row-major copy."""
    return input if input.is_contiguous() else Clone.apply(input)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` (inclusive) into one."""
    if input.ndim == 0:
        return reshape(input, 1)
    start = normalize_dim("flatten", start_dim, input.ndim)
    end = normalize_dim("flatten", end_dim, input.ndim)
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = input.shape
    return reshape(input, shape[:start] + (-1 if 0 not in shape else 0,) + shape[end + 1:])


def permute(input: Tensor, *dims: Any) -> Tensor:
    """Reorder the dimensions: output dimension i is input dimension ``dims[i]``."""
    dims = tuple(normalize_dim("permute", d, input.ndim) for d in _shape_arg(dims))
    if sorted(dims) != list(range(input.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of the {input.ndim} dimensions")
    return Permute.apply(input, dims=dims)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions."""
    dims = list(range(input.ndim))
    a, b = normalize_dim("transpose", dim0, input.ndim), normalize_dim("transpose", dim1, input.ndim)
    dims[a], dims[b] = dims[b], dims[a]
    return Permute.apply(input, dims=tuple(dims))


def t_reverse(input: Tensor) -> Tensor:
    """``x.T``: all dimensions reversed (a matrix transpose for 2-D tensors)."""
    return Permute.apply(input, dims=tuple(reversed(range(input.ndim))))


def squeeze(input: Tensor, dim: int | tuple[int, ...] | None = None) -> Tensor:
    """Remove size-1 dimensions (all, or those in ``dim``; others in ``dim`` are left alone)."""
    if dim is None:
        dims = [d for d, n in enumerate(input.shape) if n == 1]
    else:
        dims = [normalize_dim("squeeze", d, input.ndim) for d in ((dim,) if isinstance(dim, int) else dim)]
    shape = tuple(n for d, n in enumerate(input.shape) if not (d in dims and n == 1))
    return Reshape.apply(input, shape=shape)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dimension at ``dim`` (in [-ndim-1, ndim])."""
    d = normalize_dim("unsqueeze", dim, input.ndim + 1)
    return Reshape.apply(input, shape=input.shape[:d] + (1,) + input.shape[d:])


def expand(input: Tensor, *sizes: Any) -> Tensor:
    """Broadcast to ``sizes`` without copying; -1 keeps a dimension's size."""
    sizes = _shape_arg(sizes)
    lead = len(sizes) - input.ndim
    if lead < 0:
        raise RuntimeError(f"expand: {len(sizes)} sizes given for a tensor with {input.ndim} dimensions")
    shape = tuple(input.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
    for i, n in enumerate(input.shape):
        if n != 1 and n != shape[lead + i]:
            raise RuntimeError(f"expand: the expanded size {shape[lead + i]} must match the existing size "
                               f"{n} at non-singleton dimension {lead + i}; target {sizes}, "
                               f"tensor {tuple(input.shape)}")
    return Expand.apply(input, shape=shape)


def index_key(key: Any, xp: Any) -> tuple[Any, bool]:
    """The indexing key with tensors/lists/host arrays turned into arrays on the indexed tensor's
    device (``xp``'s), and whether elements can repeat."""
    parts = key if isinstance(key, tuple) else (key,)
    converted, repeats = [], False
    for part in parts:
        if isinstance(part, Tensor):
            part = part.array
        if isinstance(part, list) or (hasattr(part, "dtype") and getattr(part, "ndim", 0) > 0):
            part = backend.to_device(xp.asarray(part) if isinstance(part, list) else part,
                                     "cuda" if xp is not backend.numpy else "cpu")
        if hasattr(part, "dtype"):  # an array (or NumPy scalar) index
            if part.dtype.kind in "iu":
                repeats = repeats or getattr(part, "ndim", 0) > 0
            elif part.dtype.kind != "b":
                raise IndexError(f"index: tensors used as indices must be integer or bool, got {part.dtype}")
        converted.append(part)
    return tuple(converted), repeats


def check_bounds(parts: Sequence[Any], shape: tuple[int, ...]) -> None:
    """IndexError (PyTorch's message) for an integer index outside [-size, size) of its dimension.

    The same check on both devices: NumPy raises for an out-of-range index, but CuPy's kernels
    silently wrap an out-of-range integer-array index around.
    """
    def width(part: Any) -> int:  # dimensions of the input that ``part`` indexes
        if part is None or part is Ellipsis:
            return 0
        if getattr(part, "dtype", None) is not None and part.dtype.kind == "b":
            return part.ndim
        return 1

    dim = 0
    for part in parts:
        if part is Ellipsis:
            dim += len(shape) - sum(width(p) for p in parts)
            continue
        integer = isinstance(part, int) and not isinstance(part, bool) or \
            (getattr(part, "dtype", None) is not None and part.dtype.kind in "iu")
        if integer and dim < len(shape):
            size = shape[dim]
            if getattr(part, "size", 1) > 0:
                low, high = (int(part.min()), int(part.max())) if getattr(part, "ndim", 0) > 0 else (int(part),) * 2
                bad = low if low < -size else high if high >= size else None
                if bad is not None:
                    raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size {size}")
        dim += width(part)


def index(input: Tensor, key: Any) -> Tensor:
    """``input[key]`` with slices, ints, None, Ellipsis, integer arrays or boolean masks."""
    key, repeats = index_key(key, backend.xp_of(input.array))
    return Index.apply(input, key=key, repeats_possible=repeats)


def _same_dtype(op: str, tensors: Sequence[Tensor]) -> None:
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty list of tensors")
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        raise TypeError(f"{op}: all tensors must have the same dtype, got "
                        + ", ".join(f"{t.dtype} {tuple(t.shape)}" for t in tensors))


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension; other dimensions must match."""
    _same_dtype("cat", tensors)
    d = normalize_dim("cat", dim, tensors[0].ndim)
    for t in tensors:
        if t.ndim != tensors[0].ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, tensors[0].shape))
                                            if i != d):
            raise ValueError("cat: sizes of tensors must match except in dimension "
                             f"{d}, got {[tuple(x.shape) for x in tensors]}")
    return Cat.apply(*tensors, dim=d)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join equally shaped tensors along a new dimension ``dim``."""
    _same_dtype("stack", tensors)
    if len({tuple(t.shape) for t in tensors}) > 1:
        raise ValueError(f"stack: expects each tensor to be equal size, got {[tuple(t.shape) for t in tensors]}")
    return Stack.apply(*tensors, dim=normalize_dim("stack", dim, tensors[0].ndim + 1))


def _pad_widths(op: str, pad: Sequence[int], ndim: int) -> list[tuple[int, int]]:
    """PyTorch's pad order (last dimension first: left, right, top, bottom, ...) as one
    ``(before, after)`` pair per dimension, first dimension first."""
    if len(pad) % 2 or len(pad) // 2 > ndim:
        raise ValueError(f"{op}: padding length {len(pad)} must be even and at most 2 * {ndim} "
                         "(the input's dimensions)")
    pairs = [(0, 0)] * (ndim - len(pad) // 2)
    pairs += [(int(pad[2 * i]), int(pad[2 * i + 1])) for i in reversed(range(len(pad) // 2))]
    return pairs


def _wrapped_index(mode: str, before: int, after: int, n: int, xp: Any) -> Array:
    """Source positions for each output position of a non-constant pad along one dimension."""
    i = xp.arange(-before, n + after)
    if mode == "replicate":
        return xp.clip(i, 0, n - 1)
    if mode == "circular":
        return i % n
    i = xp.abs(i)  # reflect: mirror at both ends without repeating the edge
    return xp.where(i > n - 1, 2 * (n - 1) - i, i)


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad (or crop, with negative widths in constant mode) the last ``len(pad) // 2`` dimensions.

    Modes: 'constant' (fill with ``value``, default 0), 'reflect' (mirror without the edge),
    'replicate' (repeat the edge), 'circular' (wrap around).
    """
    widths = _pad_widths("pad", pad, input.ndim)
    if mode == "constant":
        return _constant_pad(input, widths, 0.0 if value is None else number(value))  # a 0-d array: its value
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    xp = backend.xp_of(input.array)
    out = input
    for d, (before, after) in enumerate(widths):
        n = input.shape[d]
        if before or after:
            if min(before, after) < 0 or (mode == "reflect" and max(before, after) >= n) or \
                    (mode == "circular" and max(before, after) > n):
                raise ValueError(f"pad: {mode} padding ({before}, {after}) is invalid for dimension {d} "
                                 f"of size {n} (input shape {tuple(input.shape)})")
            key = (slice(None),) * d + (_wrapped_index(mode, before, after, n, xp),)
            out = Index.apply(out, key=key, repeats_possible=True)
    return out


def _constant_pad(input: Tensor, widths: list[tuple[int, int]], value: float) -> Tensor:
    if any(n + before + after < 0 for n, (before, after) in zip(input.shape, widths)):
        raise ValueError(f"pad: padding {widths} gives a negative size for input shape {tuple(input.shape)}")
    return ConstantPad.apply(input, widths=tuple(widths), value=value)
