"""The one place that chooses between NumPy (CPU) and CuPy (CUDA).

Every op asks this module for the array module of its inputs (``xp``) instead of calling
``numpy`` directly, so the same code runs on both devices.  Nothing above this layer imports
``numpy`` or ``cupy`` to compute with tensors.

Devices are named as in PyTorch: ``"cpu"`` and ``"cuda"`` (``"cuda:0"`` is accepted).
"""

from __future__ import annotations

import contextlib
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


def normalize_device(device: str | None) -> str:
    """Map ``None``/``"cpu"``/``"cuda"``/``"cuda:0"`` to ``"cpu"`` or ``"cuda"``; check availability."""
    if device is None:
        return "cpu"
    name = str(device).split(":")[0]
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")
    if name == "cuda" and not cuda_available():
        raise RuntimeError("device 'cuda' requested but CuPy or a CUDA GPU is not available "
                           "(pip install minidl[gpu]; see README)")
    return name


def module_for(device: str) -> ModuleType:
    """The array module (numpy or cupy) that holds arrays on ``device``."""
    return cupy if device == "cuda" else numpy


def xp_of(array: Array) -> ModuleType:
    """The array module of ``array``: cupy for a CuPy array, numpy otherwise."""
    if cupy is not None and isinstance(array, cupy.ndarray):
        return cupy
    return numpy


def device_of(array: Array) -> str:
    """``"cuda"`` for a CuPy array, ``"cpu"`` for anything else."""
    return "cuda" if xp_of(array) is not numpy else "cpu"


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


def is_floating(dtype: numpy.dtype) -> bool:
    """True for the floating dtypes that can carry gradients."""
    return numpy.dtype(dtype).kind == "f"


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
