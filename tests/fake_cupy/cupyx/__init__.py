"""``cupyx`` of the fake CuPy: ``scatter_add`` (and friends) and ``cupyx.scipy.special``."""

from __future__ import annotations

from typing import Any

import cupy
import numpy


def _scatter(ufunc: Any, a: Any, slices: Any, value: Any) -> None:
    if not isinstance(a, cupy.ndarray):
        raise TypeError("cupyx.scatter_*: the target must be a cupy.ndarray")
    key = cupy._wrap_indices(slices, a.shape)
    with cupy._quiet():
        ufunc.at(a._a, key, cupy._unwrap(value))


def scatter_add(a: Any, slices: Any, value: Any) -> None:
    """``a[slices] += value`` with repeated indices accumulated (out-of-range indices wrap, as CuPy)."""
    _scatter(numpy.add, a, slices, value)


def scatter_max(a: Any, slices: Any, value: Any) -> None:
    _scatter(numpy.maximum, a, slices, value)


def scatter_min(a: Any, slices: Any, value: Any) -> None:
    _scatter(numpy.minimum, a, slices, value)


def __getattr__(name: str) -> Any:
    if name in cupy.REAL_NAMES["cupyx"]:
        raise AttributeError(f"'cupyx.{name}' exists in CuPy but is not implemented by the fake cupy")
    raise AttributeError(f"module 'cupyx' has no attribute '{name}'")
