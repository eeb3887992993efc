"""Factories: ``tensor``, ``zeros``, ``ones``, ``full``, ``arange``, ``randn``, ``rand``, ``*_like``.

Names, arguments and defaults follow PyTorch: the default floating dtype is ``float32``,
Python integers give ``int64``, and every factory takes ``dtype``, ``device`` and
``requires_grad``.  Random factories draw from the generator seeded by ``manual_seed``.
"""

from __future__ import annotations

from typing import Any

import numpy

from minidl import backend
from minidl.autograd import random
from minidl.autograd.tensor import Tensor

Array = backend.Array
Size = tuple[int, ...]


def _make(data: Array, requires_grad: bool) -> Tensor:
    """Wrap an array as a leaf, refusing ``requires_grad`` on integer/bool data."""
    return Tensor(data).requires_grad_(requires_grad) if requires_grad else Tensor(data)


def _default(dtype: Any) -> numpy.dtype:
    """``dtype`` normalised, or the default ``float32`` when it is ``None``.

    (Never write ``dtype or float32``: a NumPy dtype has ``len() == 0`` and so is falsy.)
    """
    return backend.float32 if dtype is None else backend.as_dtype(dtype)


def _size(size: tuple[Any, ...]) -> Size:
    """``zeros(2, 3)`` and ``zeros((2, 3))`` both mean shape (2, 3)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if not all(isinstance(n, (int, numpy.integer)) and n >= 0 for n in size):
        raise ValueError(f"size must be non-negative integers, got {size}")
    return tuple(int(n) for n in size)


def _infer_dtype(values: numpy.ndarray, given: Any) -> numpy.dtype:
    """PyTorch's inference: Python floats -> float32, ints -> int64, arrays keep their dtype."""
    if given is not None:
        return backend.as_dtype(given)
    if values.dtype.kind == "f":
        return values.dtype
    if values.dtype.kind in "iu":
        return values.dtype if values.dtype in (backend.int32, backend.uint8) else backend.int64
    if values.dtype.kind == "b":
        return backend.bool_
    raise TypeError(f"tensor: can't make a tensor from data of dtype {values.dtype}")


def tensor(data: Any, dtype: Any = None, device: str | None = None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of ``data`` (nested lists, scalars, NumPy/CuPy arrays)."""
    device = backend.normalize_device(device)
    if isinstance(data, Tensor):
        data = data.data
    if backend.device_of(data) == "cuda":
        data = backend.to_numpy(data)
    from_python = not isinstance(data, (numpy.ndarray, numpy.generic))
    try:
        values = numpy.asarray(data)
    except ValueError:
        _check_nested(data, _nested_shape(data), 0)  # raises PyTorch's error for ragged lists
        raise
    if from_python and values.dtype == backend.float64 and dtype is None:
        values = values.astype(backend.float32)  # Python floats are the default dtype, float32
    array = values.astype(_infer_dtype(values, dtype), copy=True)
    return _make(backend.to_device(array, device), requires_grad)


def _is_sequence(item: Any) -> bool:
    return isinstance(item, (list, tuple)) or numpy.ndim(item) > 0 and not isinstance(item, str)


def _nested_shape(data: Any) -> list[int]:
    """The shape nested lists would have, read along their first elements."""
    shape = []
    while _is_sequence(data):
        shape.append(len(data))
        data = data[0] if len(data) else None
    return shape


def _check_nested(item: Any, shape: list[int], dim: int) -> None:
    """Raise PyTorch's error at the first list whose length (or nesting) differs from ``shape``."""
    if dim == len(shape):
        if _is_sequence(item):
            raise TypeError(f"tensor: expected a number at dim {dim}, got a {type(item).__name__} "
                            "(nested lists must form a rectangular array)")
        return
    if not _is_sequence(item):
        raise TypeError(f"tensor: expected a sequence of length {shape[dim]} at dim {dim}, got "
                        f"{type(item).__name__} {item!r}")
    if len(item) != shape[dim]:
        raise ValueError(f"tensor: expected sequence of length {shape[dim]} at dim {dim} (got {len(item)})")
    for sub in item:
        _check_nested(sub, shape, dim + 1)


def from_numpy(array: numpy.ndarray) -> Tensor:
    """A tensor that shares memory with the NumPy ``array`` (no copy, dtype kept)."""
    if not isinstance(array, numpy.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def full(size: Size, fill_value: float, dtype: Any = None, device: str | None = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value`` (bool/int/float dtype inferred)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.data
    if getattr(fill_value, "ndim", 0) != 0:
        raise ValueError(f"full: fill_value must be a number or a 0-d array, got shape {fill_value.shape}")
    if dtype is None:  # (a device scalar's dtype is read without copying it to the host)
        dtype = fill_value.dtype if hasattr(fill_value, "dtype") else numpy.asarray(fill_value).dtype
        dtype = backend.float32 if dtype.kind == "f" else _infer_dtype(numpy.empty(0, dtype), None)
    if hasattr(fill_value, "dtype"):  # a NumPy scalar or a 0-d array on either device: its value
        fill_value = fill_value.item()
    xp = backend.module_for(backend.normalize_device(device))
    return _make(xp.full(_size((size,)), fill_value, dtype=backend.as_dtype(dtype)), requires_grad)


def zeros(*size: Any, dtype: Any = None, device: str | None = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros, ``float32`` unless ``dtype`` says otherwise."""
    return full(_size(size), 0.0, _default(dtype), device, requires_grad)


def ones(*size: Any, dtype: Any = None, device: str | None = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones, ``float32`` unless ``dtype`` says otherwise."""
    return full(_size(size), 1.0, _default(dtype), device, requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           device: str | None = None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 if all are ints, else float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, numpy.integer)) for v in (start, end, step))
        dtype = backend.int64 if ints else backend.float32
    xp = backend.module_for(backend.normalize_device(device))
    return _make(xp.arange(start, end, step).astype(backend.as_dtype(dtype)), requires_grad)


def _random(op: str, kind: str, size: Size, dtype: Any, device: str | None, requires_grad: bool) -> Tensor:
    """Draw ``standard_normal`` or ``random`` (uniform [0, 1)) from the seeded generator for ``op``."""
    dtype = _default(dtype)
    if not backend.is_floating(dtype):
        raise TypeError(f"{op}: random values need a floating dtype, got {dtype}")
    generator = random.generator(backend.normalize_device(device))
    return _make(getattr(generator, kind)(size, dtype=dtype), requires_grad)


def randn(*size: Any, dtype: Any = None, device: str | None = None, requires_grad: bool = False) -> Tensor:
    """Samples of N(0, 1)."""
    return _random("randn", "standard_normal", _size(size), dtype, device, requires_grad)


def rand(*size: Any, dtype: Any = None, device: str | None = None, requires_grad: bool = False) -> Tensor:
    """Samples of U[0, 1)."""
    return _random("rand", "random", _size(size), dtype, device, requires_grad)


def _like(factory: Any, input: Tensor, dtype: Any, device: str | None, requires_grad: bool,
          *args: Any) -> Tensor:
    """Call ``factory`` with ``input``'s shape, dtype and device unless overridden."""
    return factory(input.shape, *args, dtype=input.dtype if dtype is None else dtype,
                   device=device or input.device,
                   requires_grad=requires_grad)


def zeros_like(input: Tensor, dtype: Any = None, device: str | None = None,
               requires_grad: bool = False) -> Tensor:
    return _like(zeros, input, dtype, device, requires_grad)


def ones_like(input: Tensor, dtype: Any = None, device: str | None = None,
              requires_grad: bool = False) -> Tensor:
    return _like(ones, input, dtype, device, requires_grad)


def full_like(input: Tensor, fill_value: float, dtype: Any = None, device: str | None = None,
              requires_grad: bool = False) -> Tensor:
    return _like(full, input, dtype, device, requires_grad, fill_value)


def randn_like(input: Tensor, dtype: Any = None, device: str | None = None,
               requires_grad: bool = False) -> Tensor:
    return _like(randn, input, dtype, device, requires_grad)


def rand_like(input: Tensor, dtype: Any = None, device: str | None = None,
              requires_grad: bool = False) -> Tensor:
    return _like(rand, input, dtype, device, requires_grad)
