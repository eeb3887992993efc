"""``cupy.random`` of the fake CuPy: its own streams (Philox, never NumPy's default PCG64 stream).

As in CuPy, ``Generator`` (from ``default_rng``) has no ``bit_generator`` and no state to get or
set; values come back as device arrays.
"""

from __future__ import annotations

from typing import Any

import numpy

import cupy

_STREAM_OFFSET = 0x5EED_C0DE  # keeps the fake's streams apart from NumPy's for equal seeds


def _host_rng(seed: Any) -> numpy.random.Generator:
    seed = 0 if seed is None else int(seed)
    return numpy.random.Generator(numpy.random.Philox(key=seed + _STREAM_OFFSET))


class Generator:
    """``cupy.random.Generator``: draws in float32/float64 directly, results on the device."""

    __slots__ = ("_g",)

    def __init__(self, bit_generator: Any) -> None:
        object.__setattr__(self, "_g", _host_rng(bit_generator))

    def _out(self, values: numpy.ndarray, out: Any) -> Any:
        if out is None:
            return cupy.ndarray._from_host(values)
        if not isinstance(out, cupy.ndarray):
            raise TypeError("out must be a cupy.ndarray")
        out[...] = cupy.ndarray._from_host(values)
        return out

    def random(self, size: Any = None, dtype: Any = numpy.float64, out: Any = None) -> Any:
        return self._out(numpy.asarray(self._g.random(size, dtype=dtype)), out)

    def standard_normal(self, size: Any = None, dtype: Any = numpy.float64, out: Any = None) -> Any:
        return self._out(numpy.asarray(self._g.standard_normal(size, dtype=dtype)), out)

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None, dtype: Any = numpy.float64) -> Any:
        return self._out(numpy.asarray(self._g.uniform(low, high, size).astype(dtype)), None)

    def integers(self, low: int, high: int | None = None, size: Any = None, dtype: Any = numpy.int64,
                 endpoint: bool = False) -> Any:
        return self._out(numpy.asarray(self._g.integers(low, high, size, dtype=dtype, endpoint=endpoint)), None)

    def __getattr__(self, name: str) -> Any:
        if name in cupy.REAL_NAMES["cupy.random.Generator"]:
            raise AttributeError(f"'Generator.{name}' exists in CuPy but is not implemented by the fake cupy")
        raise AttributeError(f"'cupy.random.Generator' object has no attribute '{name}'")


def default_rng(seed: Any = None) -> Generator:
    return Generator(seed)


class RandomState:
    """The legacy API (``cupy.random.seed``/``rand``/``randn``...), also on its own stream."""

    def __init__(self, seed: Any = None) -> None:
        self.seed(seed)

    def seed(self, seed: Any = None) -> None:
        self._g = _host_rng(seed)

    def rand(self, *size: int, dtype: Any = float) -> Any:
        return cupy.ndarray._from_host(numpy.asarray(self._g.random(size, dtype=dtype)))

    def randn(self, *size: int, dtype: Any = float) -> Any:
        return cupy.ndarray._from_host(numpy.asarray(self._g.standard_normal(size, dtype=dtype)))

    def random_sample(self, size: Any = None, dtype: Any = float) -> Any:
        return cupy.ndarray._from_host(numpy.asarray(self._g.random(size, dtype=dtype)))

    def normal(self, loc: float = 0.0, scale: float = 1.0, size: Any = None, dtype: Any = float) -> Any:
        return cupy.ndarray._from_host(numpy.asarray(self._g.normal(loc, scale, size).astype(dtype)))

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None, dtype: Any = float) -> Any:
        return cupy.ndarray._from_host(numpy.asarray(self._g.uniform(low, high, size).astype(dtype)))

    def randint(self, low: int, high: int | None = None, size: Any = None, dtype: Any = int) -> Any:
        return cupy.ndarray._from_host(numpy.asarray(self._g.integers(low, high, size, dtype=dtype)))

    def permutation(self, n: Any) -> Any:
        return cupy.ndarray._from_host(numpy.asarray(self._g.permutation(n)))


_STATE = RandomState()


def get_random_state() -> RandomState:
    return _STATE


def seed(seed: Any = None) -> None:
    _STATE.seed(seed)


def rand(*size: int, dtype: Any = float) -> Any:
    return _STATE.rand(*size, dtype=dtype)


def randn(*size: int, dtype: Any = float) -> Any:
    return _STATE.randn(*size, dtype=dtype)


def random_sample(size: Any = None, dtype: Any = float) -> Any:
    return _STATE.random_sample(size, dtype=dtype)


random = ranf = sample = random_sample


def normal(loc: float = 0.0, scale: float = 1.0, size: Any = None, dtype: Any = float) -> Any:
    return _STATE.normal(loc, scale, size, dtype)


def uniform(low: float = 0.0, high: float = 1.0, size: Any = None, dtype: Any = float) -> Any:
    return _STATE.uniform(low, high, size, dtype)


def randint(low: int, high: int | None = None, size: Any = None, dtype: Any = int) -> Any:
    return _STATE.randint(low, high, size, dtype)


def permutation(n: Any) -> Any:
    return _STATE.permutation(n)


def __getattr__(name: str) -> Any:
    if name in cupy.REAL_NAMES["cupy.random"]:
        raise AttributeError(f"'cupy.random.{name}' exists in CuPy but is not implemented by the fake cupy")
    raise AttributeError(f"module 'cupy.random' has no attribute '{name}'")
