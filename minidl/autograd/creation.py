"""Factories: ``tensor``, ``zeros``, ``ones``, ``full``, ``empty``, ``eye``, ``arange``, ``linspace``,
``logspace``, the random ``randn``, ``rand``, ``randint``, ``randperm``, ``normal``, the ``*_like``
forms, and PyTorch's legacy ``FloatTensor``, ``DoubleTensor``, ``LongTensor``.

Names, arguments and defaults follow PyTorch: the default floating dtype is ``float32``,
Python integers give ``int64``, and every factory takes ``dtype``, ``device`` and
``requires_grad``; ``device=None`` means the default device (:func:`minidl.set_default_device`).
Random factories draw from the generator seeded by ``manual_seed``, or from ``generator=``
(a :class:`minidl.Generator`).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy

from minidl import backend
from minidl.autograd import random
from minidl.autograd.tensor import Tensor, legacy_shape

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
        return values.dtype
    if values.dtype.kind == "b":
        return backend.bool_
    raise TypeError(f"tensor: can't make a tensor from data of dtype {values.dtype}")


def tensor(data: Any, dtype: Any = None, device: str | None = None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of ``data`` (nested lists, scalars, NumPy/CuPy arrays)."""
    device = backend.normalize_device(device)
    if isinstance(data, Tensor):
        data = data.array
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
        fill_value = fill_value.array
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


def empty(*size: Any, dtype: Any = None, device: str | None = None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` whose values are whatever the memory held (fill it before reading)."""
    xp = backend.module_for(backend.normalize_device(device))
    return _make(xp.empty(_size(size), dtype=_default(dtype)), requires_grad)


def eye(n: int, m: int | None = None, *, dtype: Any = None, device: str | None = None,
        requires_grad: bool = False) -> Tensor:
    """The (n, m) matrix with ones on the diagonal and zeros elsewhere (m = n by default)."""
    xp = backend.module_for(backend.normalize_device(device))
    return _make(xp.eye(n, n if m is None else m, dtype=_default(dtype)), requires_grad)


def _evenly_spaced(start: float, end: float, steps: int, dtype: numpy.dtype) -> numpy.ndarray:
    """``steps`` values from ``start`` to ``end`` as PyTorch's kernel computes them: ends cast to
    ``dtype``, arithmetic in ``dtype`` (in float64 for an integer dtype, then truncated),
    ``start + i step`` for the first half and ``end - (steps - 1 - i) step`` for the second, so
    that both ends are exact."""
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    work = dtype.type if backend.is_floating(dtype) else numpy.float64
    start, end = work(dtype.type(start)), work(dtype.type(end))
    if steps == 1:
        return numpy.full(1, start, dtype=dtype)
    step = (end - start) / work(steps - 1)
    i = numpy.arange(steps).astype(work)
    half = steps // 2
    values = numpy.concatenate([start + step * i[:half], end - step * (work(steps - 1) - i[half:])])
    return values.astype(dtype)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None, device: str | None = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` (both included); float32 by default."""
    values = _evenly_spaced(start, end, steps, _default(dtype))
    return _make(backend.to_device(values, backend.normalize_device(device)), requires_grad)


def logspace(start: float, end: float, steps: int, base: float = 10.0, *, dtype: Any = None,
             device: str | None = None, requires_grad: bool = False) -> Tensor:
    """``base ** v`` for ``steps`` evenly spaced exponents v from ``start`` to ``end``; float32 by default."""
    dtype = _default(dtype)
    exponents = _evenly_spaced(start, end, steps, dtype if backend.is_floating(dtype) else backend.float64)
    values = (float(base) ** exponents.astype(backend.float64)).astype(dtype)
    return _make(backend.to_device(values, backend.normalize_device(device)), requires_grad)


def _source(device: str, generator: random.Generator | None) -> Any:
    """Where random draws come from: ``generator``'s stream, or the global generator of ``device``."""
    return random.generator(device) if generator is None else generator.numpy


def _draw(kind: str, device: str | None, generator: random.Generator | None, *args: Any, **kwargs: Any) -> Array:
    """``source.<kind>(*args, **kwargs)`` (``standard_normal``, ``random``, ``integers``, ``permutation``)
    from :func:`_source`, as an array on ``device``."""
    device = backend.normalize_device(device)
    return backend.to_device(getattr(_source(device, generator), kind)(*args, **kwargs), device)


def _random(op: str, kind: str, size: Size, dtype: Any, device: str | None, requires_grad: bool,
            generator: random.Generator | None = None) -> Tensor:
    """Draw ``standard_normal`` or ``random`` (uniform [0, 1)) from the seeded generator for ``op``."""
    dtype = _default(dtype)
    if not backend.is_floating(dtype):
        raise TypeError(f"{op}: random values need a floating dtype, got {dtype}")
    return _make(_draw(kind, device, generator, size, dtype=dtype), requires_grad)


def randn(*size: Any, generator: random.Generator | None = None, dtype: Any = None, device: str | None = None,
          requires_grad: bool = False) -> Tensor:
    """Samples of N(0, 1)."""
    return _random("randn", "standard_normal", _size(size), dtype, device, requires_grad, generator)


def rand(*size: Any, generator: random.Generator | None = None, dtype: Any = None, device: str | None = None,
         requires_grad: bool = False) -> Tensor:
    """Samples of U[0, 1)."""
    return _random("rand", "random", _size(size), dtype, device, requires_grad, generator)


def randint(low: int = 0, high: Any = None, size: Any = None, *, generator: random.Generator | None = None,
            dtype: Any = None, device: str | None = None, requires_grad: bool = False) -> Tensor:
    """Integers uniform in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``; int64."""
    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    if high is None or size is None:
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size)")
    if low >= high:
        raise RuntimeError(f"randint: expected low < high, got low={low}, high={high}")
    dtype = backend.int64 if dtype is None else backend.as_dtype(dtype)
    values = _draw("integers", device, generator, low, high, _size((size,)))
    return _make(values.astype(dtype), requires_grad)


def randperm(n: int, *, generator: random.Generator | None = None, dtype: Any = None, device: str | None = None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of 0, 1, ..., n - 1 (int64)."""
    if n < 0:
        raise RuntimeError(f"randperm: n must be non-negative, got {n}")
    dtype = backend.int64 if dtype is None else backend.as_dtype(dtype)
    return _make(_draw("permutation", device, generator, n).astype(dtype), requires_grad)


def normal(mean: Tensor | float, std: Tensor | float = 1.0, size: Any = None, *,
           generator: random.Generator | None = None, dtype: Any = None, device: str | None = None,
           requires_grad: bool = False) -> Tensor:
    """Samples of N(mean, std^2), elementwise for tensor ``mean``/``std`` (broadcast), else of shape ``size``.

    As in PyTorch the draws carry no gradient to ``mean`` or ``std`` (PyTorch records a node whose
    gradients are zero; here the result simply has no history).
    """
    like = next((v for v in (mean, std) if isinstance(v, Tensor)), None)
    if like is None:
        if size is None:
            raise TypeError("normal: with a number mean and std, give the size of the result")
        shape, dtype = _size((size,)), _default(dtype)
    else:
        shape = numpy.broadcast_shapes(*(tuple(v.shape) for v in (mean, std) if isinstance(v, Tensor)))
        dtype, device = like.dtype, like.device
    m, s = (v.array if isinstance(v, Tensor) else v for v in (mean, std))
    negative = bool((s < 0).any()) if isinstance(std, Tensor) else s < 0
    if negative:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    z = _draw("standard_normal", device, generator, shape, dtype=dtype)
    return _make(m + s * z, requires_grad)


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


def empty_like(input: Tensor, dtype: Any = None, device: str | None = None,
               requires_grad: bool = False) -> Tensor:
    return _like(empty, input, dtype, device, requires_grad)


class _LegacyTensorType(type):
    """The type of ``FloatTensor``, ``DoubleTensor`` and ``LongTensor``, PyTorch's legacy constructors.

    ``FloatTensor([1, 2])`` copies data into a float32 tensor; ``FloatTensor(2, 3)`` (or a
    ``minidl.Size``) makes an uninitialised one of that shape; ``isinstance(t, FloatTensor)``
    is true for a CPU tensor of that dtype.
    """

    dtype: numpy.dtype

    def __call__(cls, *args: Any, device: str | None = None) -> Tensor:
        shape = legacy_shape(args)
        if shape is not None:
            return empty(*shape, dtype=cls.dtype, device=device)
        if len(args) != 1 or isinstance(args[0], numbers.Number):  # PyTorch: data must be a sequence
            raise TypeError(f"{cls.__name__}(): expected a sequence of numbers, an array or a shape of ints, got "
                            f"({', '.join(type(a).__name__ for a in args)})")
        return tensor(args[0], dtype=cls.dtype, device=device)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, Tensor) and instance.dtype == cls.dtype and instance.device == "cpu"


class FloatTensor(metaclass=_LegacyTensorType):
    dtype = backend.float32


class DoubleTensor(metaclass=_LegacyTensorType):
    dtype = backend.float64


class LongTensor(metaclass=_LegacyTensorType):
    dtype = backend.int64
