"""The one place that chooses between NumPy (CPU) and CuPy (CUDA).

Every op asks this module for the array module of its inputs (``xp``) instead of calling
``numpy`` directly, so the same code runs on both devices.  Nothing above this layer imports
``numpy`` or ``cupy`` to compute with tensors.

Devices are named as in PyTorch: ``"cpu"`` and ``"cuda"`` (``"cuda:0"`` is accepted), or given as
:class:`device` objects (``device("cuda", 0)``), which are those strings with ``.type`` and ``.index``.
Shapes are :class:`Size` tuples.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from types import ModuleType
from typing import Any

import numpy
import scipy.special

# CuPy reads CUPY_TF32 when it is imported: TF32 matmuls and convolutions (10-bit mantissas,
# about 1e-3 relative error) would break minidl's float32 parity with PyTorch (1e-5).
os.environ.setdefault("CUPY_TF32", "0")
if os.environ["CUPY_TF32"] != "0":
    warnings.warn(f"CUPY_TF32={os.environ['CUPY_TF32']}: CuPy float32 matmuls/convolutions use TF32 "
                  "(about 1e-3 relative error); minidl's float32 results will not match PyTorch's to 1e-5. "
                  "Unset it or set CUPY_TF32=0.", RuntimeWarning, stacklevel=2)

try:  # CuPy is optional: ``pip install minidl[gpu]``
    import cupy
    import cupyx
    import cupyx.scipy.special
except ImportError:  # pragma: no cover - depends on the machine
    cupy = cupyx = None

Array = Any  # a numpy.ndarray or a cupy.ndarray
# What a Tensor wraps as it is: arrays of either module (a NumPy scalar becomes a 0-d array).
ARRAY_TYPES: tuple[type, ...] = (numpy.ndarray, numpy.generic) + ((cupy.ndarray,) if cupy is not None else ())


class Size(tuple):
    """A tensor's shape, as ``torch.Size``: a tuple of ints with :meth:`numel`, printed ``minidl.Size([2, 3])``."""

    def numel(self) -> int:
        """The number of elements of a tensor of this shape (the product of the sizes; 1 for ``()``)."""
        return math.prod(self)

    def __getitem__(self, key: Any) -> Any:
        item = super().__getitem__(key)
        return Size(item) if isinstance(key, slice) else item

    def __add__(self, other: tuple) -> Size:
        return Size(super().__add__(other))

    def __repr__(self) -> str:
        return f"minidl.Size({list(self)})"


float32 = numpy.dtype("float32")
float64 = numpy.dtype("float64")
int64 = numpy.dtype("int64")
int32 = numpy.dtype("int32")
uint8 = numpy.dtype("uint8")
bool_ = numpy.dtype("bool")
FLOAT_DTYPES = (float32, float64)
_DTYPE_NAMES = {"float32": "float32", "float": "float32", "float64": "float64", "double": "float64",
                "int64": "int64", "long": "int64", "int32": "int32", "int": "int32", "uint8": "uint8",
                "bool": "bool"}


def cuda_available() -> bool:
    """True when CuPy is installed and sees at least one CUDA device."""
    if cupy is None:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - CuPy raises driver-specific errors when no GPU is present
        return False


class device(str):  # noqa: N801 - PyTorch's name
    """A device, as ``torch.device``: ``device("cpu")``, ``device("cuda")``, ``device("cuda", 0)`` or
    ``device("cuda:0")``, with ``.type`` (``"cuda"``) and ``.index`` (``0``, or None when not given).

    It is its string form (a ``str``: ``"cuda:0"``), so it is accepted wherever a device name is and
    compares equal to it: ``device("cpu") == "cpu"`` (PyTorch's device does not equal a string).
    """

    def __new__(cls, type: str, index: int | None = None) -> device:  # noqa: A002 - PyTorch's name
        name, _, number = str(type).partition(":")
        if name not in ("cpu", "cuda"):
            raise ValueError(f"unknown device {str(type)!r}: expected 'cpu' or 'cuda'")
        if number and index is not None:
            raise RuntimeError(f"device: {type!r} must not include an index because index was passed explicitly")
        if number and not number.isdigit() or index is not None and index < 0:
            raise RuntimeError(f"device: invalid device string {str(type)!r} (index {index})")
        index = int(number) if number else index
        return super().__new__(cls, name if index is None else f"{name}:{index}")

    @property
    def type(self) -> str:
        """``"cpu"`` or ``"cuda"``."""
        return self.partition(":")[0]

    @property
    def index(self) -> int | None:
        """The device's number (``0`` for ``"cuda:0"``), None when it was not given."""
        number = self.partition(":")[2]
        return int(number) if number else None

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"


CPU, CUDA = device("cpu"), device("cuda")


class _Defaults:
    """The device factories use for ``device=None`` (see :func:`set_default_device`)."""

    device: device = CPU


def set_default_device(device: str | None) -> None:
    """Make ``device`` (``"cuda"``; None for ``"cpu"``) where factories and layers put new tensors."""
    _Defaults.device = CPU if device is None else normalize_device(device)


def get_default_device() -> device:
    """The device of new tensors when no ``device=`` is given (``device(type='cpu')`` at start)."""
    return _Defaults.device


def normalize_device(name: str | None) -> device:
    """Map a name or :class:`device` (``"cpu"``, ``"cuda"``, ``"cuda:0"``) to ``CPU`` or ``CUDA``, and
    ``None`` to the default device; check that CUDA is available."""
    if name is None:
        return _Defaults.device
    kind = device(name).type
    if kind == "cuda" and not cuda_available():
        raise RuntimeError("device 'cuda' requested but CuPy or a CUDA GPU is not available "
                           "(pip install minidl[gpu]; see README)")
    return CUDA if kind == "cuda" else CPU


def module_for(device: str) -> ModuleType:
    """The array module (numpy or cupy) that holds arrays on ``device``."""
    return cupy if device == "cuda" else numpy


def xp_of(array: Array) -> ModuleType:
    """The array module of ``array``: cupy for a CuPy array, numpy otherwise."""
    if cupy is not None and isinstance(array, cupy.ndarray):
        return cupy
    return numpy


def device_of(array: Array) -> device:
    """``CUDA`` for a CuPy array, ``CPU`` for anything else."""
    return CUDA if xp_of(array) is not numpy else CPU


def to_device(array: Array, device: str) -> Array:
    """Copy ``array`` to ``device`` (no copy when it is already there)."""
    if device_of(array) == device:
        return array
    return cupy.asarray(array) if device == "cuda" else cupy.asnumpy(array)


def to_numpy(array: Array) -> numpy.ndarray:
    """A NumPy array with the same values (copies from the GPU when needed)."""
    return to_device(array, "cpu")


def as_dtype(dtype: Any) -> numpy.dtype | None:
    """Normalise a dtype given as a minidl/NumPy dtype, a type or a name (``"float32"``)."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        if dtype not in _DTYPE_NAMES:
            raise TypeError(f"unknown dtype {dtype!r}; expected one of {sorted(_DTYPE_NAMES)}")
        dtype = _DTYPE_NAMES[dtype]
    return numpy.dtype(dtype)


class dtype:  # noqa: N801 - PyTorch's name
    """A tensor's element type, as ``torch.dtype``: ``minidl.float32`` prints as itself.

    One object per NumPy dtype (so ``t.dtype is minidl.float32`` works), equal to that NumPy
    dtype and hashing like it, and accepted by NumPy and CuPy wherever they take a dtype (they
    read its ``.dtype``, the NumPy dtype; minidl's internals use NumPy dtypes directly).
    """

    __slots__ = ("dtype",)

    def __new__(cls, dtype: Any) -> dtype:
        np_dtype = numpy.dtype(dtype)
        found = DTYPES.get(np_dtype)
        if found is None:
            found = DTYPES[np_dtype] = super().__new__(cls)
            found.dtype = np_dtype
        return found

    def __eq__(self, other: object) -> bool:
        return self is other if isinstance(other, dtype) else self.dtype == other

    def __hash__(self) -> int:
        return hash(self.dtype)

    def __repr__(self) -> str:
        return f"minidl.{self.dtype.name}"

    def __getattr__(self, name: str) -> Any:  # kind, char, type, ...: NumPy's
        return getattr(self.dtype, name)

    def __reduce__(self) -> tuple[Any, ...]:
        return dtype, (self.dtype.name,)

    @property
    def is_floating_point(self) -> bool:
        return self.dtype.kind == "f"

    @property
    def is_complex(self) -> bool:
        return self.dtype.kind == "c"

    @property
    def is_signed(self) -> bool:
        return self.dtype.kind in "fic"

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize


#: NumPy dtype -> its minidl dtype (``Tensor.dtype`` looks here first: one dict lookup)
DTYPES: dict[numpy.dtype, dtype] = {}


def kind(dtype: Any) -> int:
    """PyTorch's dtype categories in their order: 0 for bool, 1 for integers, 2 for floating."""
    return 0 if dtype == bool_ else 2 if is_floating(dtype) else 1


def promote_types(a: Any, b: Any) -> dtype:
    """``torch.promote_types``: the higher kind wins (int64 with float32 gives float32, where
    NumPy would give float64); within a kind, the wider dtype."""
    ka, kb = kind(a), kind(b)
    return dtype(numpy.promote_types(a, b) if ka == kb else a if ka > kb else b)


def is_floating(d: Any) -> bool:
    """True for the floating dtypes that can carry gradients (``d``: a NumPy or minidl dtype, or a name)."""
    if isinstance(d, dtype):
        d = d.dtype
    return (d if isinstance(d, numpy.dtype) else numpy.dtype(d)).kind == "f"


def ignore_fp_errors(xp: ModuleType) -> contextlib.AbstractContextManager:
    """Silence floating-point warnings (division by zero, invalid) inside the ``with`` block.

    NumPy warns (``numpy.errstate`` silences it); CuPy never warns and has no ``errstate``.
    """
    return numpy.errstate(divide="ignore", invalid="ignore") if xp is numpy \
        else contextlib.nullcontext()


def scatter_add(xp: ModuleType, target: Array, index: Any, values: Array) -> None:
    """``target[index] += values`` with repeated indices accumulated (``np.add.at`` / ``cupyx``)."""
    if xp is numpy:
        numpy.add.at(target, index, values)
    else:  # pragma: no cover - needs a GPU
        cupyx.scatter_add(target, index, values)


def special(xp: ModuleType) -> ModuleType:
    """``scipy.special`` for NumPy arrays, ``cupyx.scipy.special`` for CuPy arrays (erf, ndtri...)."""
    return scipy.special if xp is numpy else cupyx.scipy.special
