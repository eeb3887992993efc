"""The one place that chooses between NumPy (CPU) and CuPy (CUDA).

Every op asks this module for the array module of its inputs (``xp``) instead of calling
``numpy`` directly, so the same code runs on both devices.  Nothing above this layer imports
``numpy`` or ``cupy`` to compute with tensors.

Devices are named as in PyTorch: ``"cpu"`` and ``"cuda"`` (``"cuda:0"`` is accepted).
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import numpy
import scipy.special

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


def scatter_add(xp: ModuleType, target: Array, index: Any, values: Array) -> None:
    """``target[index] += values`` with repeated indices accumulated (``np.add.at`` / ``cupyx``)."""
    if xp is numpy:
        numpy.add.at(target, index, values)
    else:  # pragma: no cover - needs a GPU
        cupyx.scatter_add(target, index, values)


# ----------------------------------------------------------------------------- random numbers
class _RNG:
    """The global random state behind ``manual_seed``, ``randn``, ``rand`` and dropout.

    One ``numpy.random.Generator`` for the CPU and, lazily, one CuPy generator for the GPU, both
    seeded from the same seed.  (Streams differ from PyTorch's: equal seeds give equal minidl
    runs, not equal PyTorch numbers.)
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed(seed)

    def seed(self, seed: int) -> None:
        self.initial_seed = int(seed)
        self.cpu = numpy.random.default_rng(self.initial_seed)
        self._cuda = None

    def generator(self, device: str) -> Any:
        """The generator for ``device``."""
        if device == "cpu":
            return self.cpu
        if self._cuda is None:  # pragma: no cover - needs a GPU
            self._cuda = cupy.random.default_rng(self.initial_seed)
        return self._cuda

    def get_state(self) -> dict:
        """A JSON-serialisable snapshot of the CPU generator (for checkpoints)."""
        return {"seed": self.initial_seed, "bit_generator": _jsonable(self.cpu.bit_generator.state)}

    def set_state(self, state: dict) -> None:
        """Restore a snapshot made by :meth:`get_state`."""
        self.seed(state["seed"])
        self.cpu.bit_generator.state = state["bit_generator"]


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
