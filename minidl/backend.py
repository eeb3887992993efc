"""The one place that chooses between NumPy (CPU) and CuPy (CUDA).

Every op asks this module for the array module of its inputs (``xp``) instead of calling
``numpy`` directly, so the same code runs on both devices.  Nothing above this layer imports
``numpy`` or ``cupy`` to compute with tensors.

Devices are named as in PyTorch: ``"cpu"`` and ``"cuda"`` (``"cuda:0"`` is accepted).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to reuse freed memory rather than hand large blocks back to the kernel.

    By default every NumPy array above 128 KiB is a fresh ``mmap`` that the kernel zero-fills
    page by page on first touch: thousands of page faults per training step (PyTorch's caching
    allocator has none).  Raising the mmap and trim thresholds keeps freed blocks in the heap for
    the next batch's arrays -- measured here: fc step 31.8 -> 21.8 ms, conv step 56 -> 39 ms.
    Linux/glibc only; set ``MINIDL_KEEP_FREED_MEMORY=0`` to leave malloc alone.  Returns whether
    the setting was applied.
    """
    if os.environ.get("MINIDL_KEEP_FREED_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (e.g. musl): nothing to tune
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's mallopt parameter numbers
    return bool(libc.mallopt(m_mmap_threshold, 1 << 30) and libc.mallopt(m_trim_threshold, 1 << 30))


KEEPS_FREED_MEMORY = keep_freed_memory()

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


# ----------------------------------------------------------------------------- random numbers
class _DeviceDraws:
    """The CUDA generator: a NumPy generator whose draws are copied to the GPU.

    CuPy's generators keep their state on the device with no way to read or restore it, so a
    checkpoint could not resume a GPU run exactly.  Drawing on the host costs a host-to-device
    copy per draw (dropout masks, initialisation) but makes the state a plain NumPy bit
    generator state -- saved and restored bit for bit -- and makes a GPU run draw the same
    numbers as a CPU run with the same seed.
    """

    def __init__(self, seed: int) -> None:
        self.host = numpy.random.default_rng(seed)

    def random(self, size: Any = None, dtype: Any = float64) -> Array:
        """U[0, 1) samples, drawn in ``dtype`` directly, on the GPU."""
        return cupy.asarray(self.host.random(size, dtype=dtype))

    def standard_normal(self, size: Any = None, dtype: Any = float64) -> Array:
        """N(0, 1) samples, drawn in ``dtype`` directly, on the GPU."""
        return cupy.asarray(self.host.standard_normal(size, dtype=dtype))


class _RNG:
    """The global random state behind ``manual_seed``, ``randn``, ``rand`` and dropout.

    One ``numpy.random.Generator`` for the CPU and one for the GPU (its draws copied to the
    device, see :class:`_DeviceDraws`), both seeded from the same seed: a run draws the same
    numbers on either device.  (Streams differ from PyTorch's: equal seeds give equal minidl
    runs, not equal PyTorch numbers.)
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed(seed)

    def seed(self, seed: int) -> None:
        self.initial_seed = int(seed)
        self.cpu = numpy.random.default_rng(self.initial_seed)
        self.cuda = _DeviceDraws(self.initial_seed)

    def generator(self, device: str) -> Any:
        """The generator for ``device`` (``random`` and ``standard_normal`` with a ``dtype``)."""
        return self.cpu if device == "cpu" else self.cuda

    def get_state(self) -> dict:
        """A JSON-serialisable snapshot of both generators (for checkpoints)."""
        return {"seed": self.initial_seed, "bit_generator": _jsonable(self.cpu.bit_generator.state),
                "cuda_bit_generator": _jsonable(self.cuda.host.bit_generator.state)}

    def set_state(self, state: dict) -> None:
        """Restore a snapshot made by :meth:`get_state` (one without ``cuda_bit_generator``, from
        an older checkpoint, leaves the CUDA generator freshly seeded)."""
        self.seed(state["seed"])
        self.cpu.bit_generator.state = state["bit_generator"]
        if "cuda_bit_generator" in state:
            self.cuda.host.bit_generator.state = state["cuda_bit_generator"]


def _jsonable(value: Any) -> Any:
    """Turn NumPy scalars inside nested dicts into Python ints/floats."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, numpy.generic):
        return value.item()
    return value


rng = _RNG(0)


def special(xp: ModuleType) -> ModuleType:
    """``scipy.special`` for NumPy arrays, ``cupyx.scipy.special`` for CuPy arrays (erf, ndtri...)."""
    return scipy.special if xp is numpy else cupyx.scipy.special


# ----------------------------------------------------------------------------- CPU threads
class _Threads:
    """How many CPU threads minidl's own parallel loops use (BLAS has its own setting)."""

    count: int = os.cpu_count() or 1
    pool: ThreadPoolExecutor | None = None


def get_num_threads() -> int:
    """The number of threads for minidl's parallel loops (default: the CPU count, as PyTorch)."""
    return _Threads.count


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for minidl's parallel loops (e.g. the optimizers' updates)."""
    if n < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got {n}")
    _Threads.count, _Threads.pool = int(n), None


def run_balanced(tasks: Sequence[Callable[[], None]], costs: Sequence[int], min_cost: int = 1 << 16) -> None:
    """Run independent tasks in up to ``get_num_threads()`` threads, each thread a similar total cost.

    NumPy releases the GIL inside its elementwise loops, so memory-bound updates of different
    arrays (an optimizer's per-parameter steps) really run side by side.  Small jobs (total cost
    below ``min_cost`` elements) and a single thread run in order, in this thread.
    """
    threads = min(_Threads.count, len(tasks))
    if threads < 2 or sum(costs) < min_cost:
        for task in tasks:
            task()
        return
    bins: list[list[Callable[[], None]]] = [[] for _ in range(threads)]
    loads = [0] * threads
    for cost, task in sorted(zip(costs, tasks, strict=True), key=lambda ct: -ct[0]):  # largest first
        emptiest = loads.index(min(loads))
        bins[emptiest].append(task)
        loads[emptiest] += cost
    if _Threads.pool is None:
        _Threads.pool = ThreadPoolExecutor(_Threads.count, thread_name_prefix="minidl")
    for future in [_Threads.pool.submit(_run_all, b) for b in bins]:
        future.result()  # re-raises a task's exception here


def _run_all(tasks: list[Callable[[], None]]) -> None:
    for task in tasks:
        task()
