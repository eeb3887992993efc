"""Speed settings: what minidl changes in the process to run faster, each with its measured effect.

Nothing here changes a result; everything here changes how fast the same arrays are computed.
``import minidl`` applies the settings (visibly: ``speed.apply()`` in ``minidl/__init__.py``), and
:func:`settings` says what is in force.  One setting survives measurement:

* **Keep freed memory** (:func:`keep_freed_memory`, Linux/glibc).  By default every NumPy array
  above 128 KiB is a fresh ``mmap`` that the kernel zero-fills page by page on first touch:
  thousands of page faults per training step (PyTorch's caching allocator has none).  Raising
  glibc's mmap and trim thresholds keeps freed blocks in the heap for the next batch's arrays.
  Measured on the paper's models (2 cores): fc step 31.8 -> 21.8 ms, conv step 56 -> 39 ms.
  ``MINIDL_KEEP_FREED_MEMORY=0`` leaves malloc alone.

And one was removed: a thread pool that ran the optimizers' per-parameter updates side by side
measured 12.0 vs 12.1 ms per Adam step on the residual model (no gain on 2 cores).  minidl's own
code is single-threaded; the BLAS library under NumPy has its own threads, which
:func:`set_num_threads` sets, as ``torch.set_num_threads`` sets PyTorch's.
"""

from __future__ import annotations

import ctypes
import os
import sys

from threadpoolctl import threadpool_info, threadpool_limits

_applied: dict[str, bool] = {}


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to reuse freed memory rather than hand large blocks back to the kernel.

    Returns whether the setting was applied (False off Linux/glibc or with ``MINIDL_KEEP_FREED_MEMORY=0``).
    """
    if os.environ.get("MINIDL_KEEP_FREED_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (e.g. musl): nothing to tune
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's mallopt parameter numbers
    return bool(libc.mallopt(m_mmap_threshold, 1 << 30) and libc.mallopt(m_trim_threshold, 1 << 30))


def apply() -> dict[str, bool]:
    """Apply every speed setting once (``import minidl`` calls this); returns :func:`settings`."""
    if not _applied:
        _applied["keep_freed_memory"] = keep_freed_memory()
    return settings()


def settings() -> dict[str, bool]:
    """Which speed settings are in force (``{"keep_freed_memory": True}`` on Linux by default)."""
    return dict(_applied)


def get_num_threads() -> int:
    """The number of threads of NumPy's BLAS (matrix products), PyTorch's ``get_num_threads``."""
    return max((pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"), default=1)


def set_num_threads(n: int) -> None:
    """Let NumPy's BLAS use ``n`` threads (for the rest of the process), PyTorch's ``set_num_threads``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got {n!r}")
    threadpool_limits(n, user_api="blas")
