"""Reductions: sum, mean, var, max, min (whole tensor or along dims), argmax, argmin.

``dim=None`` reduces everything.  Backward broadcasts the upstream gradient back over the
reduced dimensions (``_expand_back``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from minidl import backend
from minidl.autograd.function import Function
from minidl.autograd.tensor import Tensor
from minidl.ops.common import normalize_dim, normalize_dims, require_floating

Array = backend.Array


def _expand_back(gy: Array, dims: tuple[int, ...] | None, keepdim: bool) -> Array:
    """Re-insert the reduced dimensions as size 1 so ``gy`` broadcasts against the input.

    (Nothing to do with ``keepdim`` or a full reduction, whose 0-d result broadcasts anyway.)
    """
    if keepdim or dims is None:
        return gy
    return backend.xp_of(gy).expand_dims(gy, tuple(sorted(dims)))


def _count(shape: tuple[int, ...], dims: tuple[int, ...] | None) -> int:
    """How many elements each output of a reduction over ``dims`` combines."""
    n = 1
    for d in range(len(shape)) if dims is None else dims:
        n *= shape[d]
    return n


class Sum(Function):
    """y = sum of x over ``dim``;  dy/dx = 1 (the gradient is broadcast back)."""

    dim: tuple[int, ...] | None
    keepdim: bool

    def forward(self, x: Array) -> Array:
        self.shape = x.shape
        return x.sum(axis=self.dim, keepdims=self.keepdim)

    def backward(self, gy: Array) -> Array:
        xp = backend.xp_of(gy)
        return xp.broadcast_to(_expand_back(gy, self.dim, self.keepdim), self.shape)


class Mean(Function):
    """y = sum of x over ``dim`` / n;  dy/dx = 1 / n (n = number of reduced elements)."""

    dim: tuple[int, ...] | None
    keepdim: bool

    def forward(self, x: Array) -> Array:
        self.shape = x.shape
        self.n = _count(x.shape, self.dim)
        return x.mean(axis=self.dim, keepdims=self.keepdim)

    def backward(self, gy: Array) -> Array:
        xp = backend.xp_of(gy)
        return xp.broadcast_to(_expand_back(gy, self.dim, self.keepdim) / self.n, self.shape)


class Var(Function):
    """y = sum (x - mean)^2 / (n - correction) over ``dim``;  dy/dx = 2 (x - mean) / (n - correction).

    As PyTorch, n - correction <= 0 divides by 0: inf, or nan for a zero sum (one element).
    """

    dim: tuple[int, ...] | None
    keepdim: bool
    correction: int

    def forward(self, x: Array) -> Array:
        self.centered = x - x.mean(axis=self.dim, keepdims=True)
        denominator = _count(x.shape, self.dim) - self.correction
        self.scale = 1 / denominator if denominator > 0 else float("inf")
        return (self.centered * self.centered).sum(axis=self.dim, keepdims=self.keepdim) * self.scale

    def backward(self, gy: Array) -> Array:
        return _expand_back(gy, self.dim, self.keepdim) * self.centered * (2 * self.scale)


class Extreme(Function):
    """y = max (or min) of the whole tensor; the gradient is shared evenly among tied maxima.

    This is PyTorch's rule for ``max()``/``amax`` without indices: with k tied winners, each
    gets dy / k.
    """

    dim: tuple[int, ...] | None
    keepdim: bool
    largest: bool

    def forward(self, x: Array) -> Array:
        y = x.max(axis=self.dim, keepdims=True) if self.largest else x.min(axis=self.dim, keepdims=True)
        winners = (x == y).astype(x.dtype)
        self.share = winners / winners.sum(axis=self.dim, keepdims=True)
        return y if self.keepdim else y.squeeze(axis=self.dim)

    def backward(self, gy: Array) -> Array:
        return _expand_back(gy, self.dim, self.keepdim) * self.share


class ExtremeAlongDim(Function):
    """values = max (or min) along ``dim``; the gradient goes to the returned index only.

    This is PyTorch's rule for ``max(dim)``/``min(dim)``: ties do not split the gradient; the
    first occurrence (the index ``argmax`` returns) receives all of it.
    """

    dim: int
    keepdim: bool
    largest: bool

    def forward(self, x: Array) -> Array:
        xp = backend.xp_of(x)
        self.shape = x.shape
        self.index = x.argmax(axis=self.dim) if self.largest else x.argmin(axis=self.dim)
        index = xp.expand_dims(self.index, self.dim)
        values = xp.take_along_axis(x, index, axis=self.dim)
        return values if self.keepdim else values.squeeze(axis=self.dim)

    def backward(self, gy: Array) -> Array:
        xp = backend.xp_of(gy)
        gx = xp.zeros(self.shape, dtype=gy.dtype)
        index = xp.expand_dims(self.index, self.dim)
        gy = gy if self.keepdim else xp.expand_dims(gy, self.dim)
        xp.put_along_axis(gx, index, gy, axis=self.dim)
        return gx


class ValuesIndices(NamedTuple):
    """What ``max(input, dim)`` returns, as PyTorch's ``torch.return_types.max``."""

    values: Tensor
    indices: Tensor


# -------------------------------------------------------------------------- user functions
def sum(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (an int, a tuple, or None for all)."""
    return Sum.apply(input, dim=normalize_dims("sum", dim, input.ndim), keepdim=keepdim)


def mean(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Mean over ``dim``; needs a floating tensor (as PyTorch)."""
    require_floating("mean", input)
    return Mean.apply(input, dim=normalize_dims("mean", dim, input.ndim), keepdim=keepdim)


def var(input: Tensor, dim: Any = None, *, correction: int = 1, keepdim: bool = False,
        unbiased: bool | None = None) -> Tensor:
    """Variance with Bessel's ``correction`` (1 = unbiased, 0 = population); ``unbiased`` is the
    older spelling (True -> correction 1, False -> 0)."""
    require_floating("var", input)
    if unbiased is not None:
        correction = 1 if unbiased else 0
    return Var.apply(input, dim=normalize_dims("var", dim, input.ndim), keepdim=keepdim,
                     correction=correction)


def _extreme(name: str, largest: bool, input: Tensor, dim: Any, keepdim: bool) -> Any:
    if isinstance(dim, Tensor):  # max(a, b): the elementwise maximum, as torch.max(a, b)
        raise TypeError(f"{name}: use minidl.{'maximum' if largest else 'minimum'}(a, b) for two tensors")
    if input.numel() == 0:
        raise RuntimeError(f"{name}: cannot reduce an empty tensor of shape {tuple(input.shape)}")
    if dim is None:
        return Extreme.apply(input, dim=None, keepdim=False, largest=largest)
    d = normalize_dim(name, dim, input.ndim)
    values = ExtremeAlongDim.apply(input, dim=d, keepdim=keepdim, largest=largest)
    index = values.grad_fn.index if values.grad_fn else _arg(input.array, d, largest)
    index = index if not keepdim else backend.xp_of(index).expand_dims(index, d)
    return ValuesIndices(values, Tensor(index.astype(backend.int64)))


def max(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:  # noqa: A001
    """The largest element (``dim=None``), or ``(values, indices)`` along ``dim``."""
    return _extreme("max", True, input, dim, keepdim)


def min(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:  # noqa: A001
    """The smallest element (``dim=None``), or ``(values, indices)`` along ``dim``."""
    return _extreme("min", False, input, dim, keepdim)


def amax(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Max over ``dim`` (all dims for ``()``), ties share the gradient evenly."""
    return Extreme.apply(input, dim=normalize_dims("amax", dim, input.ndim), keepdim=keepdim, largest=True)


def amin(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Min over ``dim`` (all dims for ``()``), ties share the gradient evenly."""
    return Extreme.apply(input, dim=normalize_dims("amin", dim, input.ndim), keepdim=keepdim, largest=False)


def _arg(data: Array, dim: int | None, largest: bool) -> Array:
    return data.argmax(axis=dim) if largest else data.argmin(axis=dim)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the first maximum (flattened when ``dim=None``); int64, no gradient."""
    return _argext("argmax", True, input, dim, keepdim)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the first minimum (flattened when ``dim=None``); int64, no gradient."""
    return _argext("argmin", False, input, dim, keepdim)


def _argext(name: str, largest: bool, input: Tensor, dim: int | None, keepdim: bool) -> Tensor:
    xp = backend.xp_of(input.array)
    if dim is None:
        index = _arg(input.array.reshape(-1), 0, largest)
        return Tensor(xp.asarray(index, dtype=backend.int64).reshape((1,) * input.ndim if keepdim else ()))
    d = normalize_dim(name, dim, input.ndim)
    index = _arg(input.array, d, largest).astype(backend.int64)
    return Tensor(xp.expand_dims(index, d) if keepdim else index)
