"""Helpers shared by the ops: turning operands into tensors, and PyTorch's type promotion.

Promotion (:func:`result_type`), as PyTorch: the kinds rank bool < integer < floating; the
result has the highest kind present, and within it the widest dtype (int32 with int64 gives
int64, float32 with float64 gives float64, int64 with float32 gives float32).  A 0-d tensor
counts only when its kind is higher than the other tensor's (``float32_vector * float64_scalar``
stays float32), and a Python number never widens a tensor (``x * 0.5`` stays float32).  In
strict mode (:func:`set_strict_promotion`) any implicit conversion of a tensor is an error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from minidl import backend
from minidl.autograd.tensor import Tensor
from minidl.ops.convert import to

_STRICT = [False]


def set_strict_promotion(strict: bool) -> None:
    """Make every implicit dtype conversion between tensor operands a TypeError (``True``), or
    promote as PyTorch does (``False``, the default)."""
    _STRICT[0] = bool(strict)


def is_strict_promotion() -> bool:
    """Whether implicit dtype conversions between tensor operands are refused."""
    return _STRICT[0]


@contextlib.contextmanager
def strict_promotion(strict: bool = True) -> Iterator[None]:
    """``with minidl.strict_promotion():`` refuses implicit dtype conversions inside the block."""
    before = _STRICT[0]
    set_strict_promotion(strict)
    try:
        yield
    finally:
        set_strict_promotion(before)


def result_type(a: Tensor, b: Tensor) -> backend.dtype:
    """The dtype of a binary op on ``a`` and ``b`` (see the module docstring)."""
    if (a.ndim == 0) != (b.ndim == 0):
        dimensioned, zero_d = (a, b) if a.ndim else (b, a)
        if backend.kind(zero_d.dtype) <= backend.kind(dimensioned.dtype):
            return dimensioned.dtype
    return backend.promote_types(a.dtype, b.dtype)


def promote(op: str, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """``a`` and ``b`` in their :func:`result_type` (a differentiable cast), or a TypeError in strict mode."""
    if a.dtype == b.dtype:
        return a, b
    dtype = result_type(a, b)
    if _STRICT[0]:
        raise TypeError(f"{op}: dtypes differ, {a.dtype} {tuple(a.shape)} vs {b.dtype} {tuple(b.shape)}, and "
                        f"strict promotion is on; convert one side explicitly (e.g. .to({dtype}))")
    return to(a, dtype=dtype), to(b, dtype=dtype)


def constant(value: Any, like: Tensor) -> Tensor:
    """A Python number as a 0-d tensor on ``like``'s device, in ``like``'s dtype.

    A float with an integer/bool tensor gives float32 (PyTorch's promotion); otherwise the
    number takes the tensor's dtype, so ``x * 0.5`` stays float32 (no accidental float64).
    """
    xp = backend.xp_of(like.array)
    dtype = like.dtype
    if isinstance(value, float) and not backend.is_floating(dtype):
        dtype = backend.float32
    return Tensor(xp.asarray(value, dtype=dtype))


def number(value: Any) -> Any:
    """A NumPy scalar (or 0-d array) as a Python number; anything else unchanged.

    Python numbers are "weak" in NumPy's promotion (``float32_array * 0.5`` stays float32),
    NumPy float64 scalars are not: they would silently upcast float32 work to float64.
    """
    if hasattr(value, "dtype") and getattr(value, "ndim", 0) == 0 and not isinstance(value, Tensor):
        return value.item()
    return value


def tensor_and_number(input: Any, other: Any) -> tuple[Tensor, int | float | bool] | None:
    """``(input, other)`` when ``input`` is a tensor and ``other`` a Python or NumPy number, else None.

    The number stays a number (scalar nodes such as ``MulScalar`` take it as a parameter), and
    keeps the tensor's dtype as NumPy's "weak" Python numbers do: ``x * 0.5`` stays float32.  A
    float with an integer/bool tensor makes the tensor float32 (PyTorch's promotion); an integer
    or bool tensor takes the number in its own kind (``bool_tensor + 2`` stays bool, as before).
    """
    value = number(other)
    if not isinstance(input, Tensor) or isinstance(value, Tensor) or not isinstance(value, (int, float, bool)):
        return None
    if isinstance(value, float):
        return floating(input), value
    if not backend.is_floating(input.dtype):
        return input, bool(value) if input.dtype == backend.bool_ else int(value)
    return input, value


def operands(op: str, a: Any, b: Any, same_dtype: bool = False) -> tuple[Tensor, Tensor]:
    """``a`` and ``b`` as tensors of one dtype for a binary op.

    Numbers take the other operand's dtype; tensors are promoted (:func:`promote`), unless the
    op declares ``same_dtype`` (matrix products, as in PyTorch): then different dtypes are an error.
    """
    if not isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            raise TypeError(f"{op}: expected at least one Tensor, got {type(a).__name__} and "
                            f"{type(b).__name__}")
        a = _number(op, a, b)
    elif not isinstance(b, Tensor):
        b = _number(op, b, a)
    if same_dtype and a.dtype != b.dtype:
        raise TypeError(f"{op}: expected both operands to have the same dtype, got {a.dtype} {tuple(a.shape)} "
                        f"and {b.dtype} {tuple(b.shape)}; convert one side explicitly with .float() or .double()")
    return promote(op, a, b)


def _number(op: str, value: Any, like: Tensor) -> Tensor:
    """A number (Python or NumPy scalar) or an array operand as a tensor beside ``like``."""
    value = number(value)  # a NumPy scalar: keep its value, not its (often float64) dtype
    if isinstance(value, (int, float, bool)):
        return constant(value, like)
    if hasattr(value, "dtype"):
        return Tensor(backend.to_device(value, like.device))
    raise TypeError(f"{op}: unsupported operand of type {type(value).__name__}")


def require_floating(op: str, input: Tensor) -> None:
    """A TypeError naming ``op`` for an integer or bool input to an op that PyTorch defines for
    floating tensors only (``mean``, ``var``, ``softmax``, ``gelu``...) instead of promoting."""
    if not backend.is_floating(input.dtype):
        raise TypeError(f"{op}: input dtype should be floating point, got {input.dtype}")


def floating(input: Tensor) -> Tensor:
    """``input`` itself if it is floating, else its values as float32 (no gradient): PyTorch's
    promotion of integer/bool inputs to float-valued ops (``exp``, ``sigmoid``, ``x ** 0.5``...)."""
    return input if backend.is_floating(input.dtype) else cast_data(input, backend.float32)


def cast_data(t: Tensor, dtype: Any) -> Tensor:
    """A tensor (no gradient) with ``t``'s values in ``dtype``; for integer/bool operands only."""
    return Tensor(t.array.astype(dtype))


def normalize_dim(op: str, dim: int, ndim: int) -> int:
    """A possibly negative dimension index as a non-negative one, with a clear range error."""
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(f"{op}: dimension {dim} out of range for a tensor with {ndim} dimensions "
                         f"(expected in [{-size}, {size - 1}])")
    return dim % size


def normalize_dims(op: str, dim: int | tuple[int, ...] | list[int] | None,
                   ndim: int) -> tuple[int, ...] | None:
    """``None`` (all dimensions, also for an empty tuple, as PyTorch) or a tuple of non-negative
    dimension indices."""
    dims = () if dim is None else (dim,) if isinstance(dim, int) else tuple(dim)
    return tuple(normalize_dim(op, d, ndim) for d in dims) or None
