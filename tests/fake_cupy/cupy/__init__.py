"""A strict CuPy stand-in for running minidl's ``--device cuda`` suite without a GPU.

``MINIDL_FAKE_CUPY=1 python -m pytest --device cuda`` puts ``tests/fake_cupy`` first on
``sys.path`` (see tests/conftest.py), so ``import cupy`` finds this package.  Its ``ndarray``
holds a NumPy array but is *not* one, and it is strict where real CuPy is strict:

* only names the real ``cupy-cuda12x`` wheel exposes exist (``cupy_names.json``, generated with
  ``dir()`` from CuPy 14.2.0); a real name this stand-in does not implement raises
  ``AttributeError`` saying so;
* host (NumPy) arrays -- 0-d ones included -- are refused in functions, ufuncs, operators,
  ``out=`` and item assignment (``TypeError``), as CuPy's kernels refuse them; NumPy *scalars*
  and Python numbers are accepted;
* implicit conversion to NumPy (``numpy.asarray(device_array)``) raises ``TypeError``; copies go
  through ``cupy.asnumpy`` / ``ndarray.get()``;
* ``numpy.add.at`` (any NumPy ufunc method but a plain call) on device arrays is refused;

and it behaves like CuPy where NumPy differs:

* reductions and scalar indexing give 0-d device arrays, never NumPy scalars;
* out-of-range integer-*array* indices wrap around (CuPy's kernels do not check bounds);
* no floating-point warnings and no ``errstate`` (CuPy has none);
* ``cupy.random`` has its own streams (a Philox generator), and its ``Generator`` has no
  ``bit_generator``/state to save or restore.

Every device array made is counted in ``ARRAYS_MADE`` (tests/conftest.py reports how many tests
put arrays on the device).
"""

from __future__ import annotations

import json
import os
import sys
import types
from typing import Any

import numpy

__version__ = "14.2.0"
__fake__ = True  # a marker for tests (real CuPy has no such name)

_NAMES_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cupy_names.json")
with open(_NAMES_FILE) as _f:
    REAL_NAMES: dict[str, list[str]] = json.load(_f)["names"]
_REAL = {k: frozenset(v) for k, v in REAL_NAMES.items()}

#: number of device arrays created so far (conftest reads it around every test)
ARRAYS_MADE = 0

_HOST_ERROR = ("Unsupported type <class 'numpy.ndarray'>: a host (NumPy) array can't be an operand of a "
               "device kernel (fake cupy, as real CuPy); move it with cupy.asarray first")


class _Quiet:
    """CuPy raises no floating-point warnings: NumPy's are silenced around every computation."""

    def __enter__(self) -> None:
        self._old = numpy.seterr(all="ignore")

    def __exit__(self, *exc: Any) -> None:
        numpy.seterr(**self._old)


_quiet = _Quiet


# ----------------------------------------------------------------------------- wrapping
def _unwrap(value: Any, outs: dict[int, ndarray] | None = None, allow_host: bool = False) -> Any:
    """Device arrays -> their NumPy storage; host arrays refused; containers walked."""
    if isinstance(value, ndarray):
        if outs is not None:
            outs[id(value._a)] = value
        return value._a
    if isinstance(value, numpy.ndarray):
        if allow_host:
            return value
        raise TypeError(_HOST_ERROR)
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v, outs, allow_host) for v in value)
    return value


def _wrap(value: Any, outs: dict[int, ndarray] | None = None) -> Any:
    """NumPy results -> device arrays (NumPy scalars become 0-d arrays, as CuPy returns)."""
    if isinstance(value, numpy.ndarray):
        if outs is not None and id(value) in outs:
            return outs[id(value)]
        return ndarray._from_host(value)
    if isinstance(value, numpy.generic):
        return ndarray._from_host(numpy.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(v, outs) for v in value)
    if isinstance(value, list):
        return [_wrap(v, outs) for v in value]
    return value


def _call(fn: Any, args: tuple, kwargs: dict) -> Any:
    outs: dict[int, ndarray] = {}
    if "out" in kwargs and kwargs["out"] is not None and not isinstance(kwargs["out"], (ndarray, tuple)):
        raise TypeError(f"out must be a cupy.ndarray, got {type(kwargs['out']).__name__} (fake cupy)")
    a, k = _unwrap(args, outs), {key: _unwrap(v, outs) for key, v in kwargs.items()}
    with _quiet():
        return _wrap(fn(*a, **k), outs)


class _Function:
    """A CuPy function/ufunc: NumPy's, run on the unwrapped device arrays."""

    def __init__(self, name: str, fn: Any) -> None:
        self.__name__, self._fn = name, fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self._fn, args, kwargs)

    def __getattr__(self, name: str) -> Any:  # ufunc methods: reduce, accumulate, outer, at; nin...
        attr = getattr(self._fn, name)
        return _Function(f"{self.__name__}.{name}", attr) if callable(attr) else attr

    def __repr__(self) -> str:
        return f"<fake cupy function {self.__name__}>"


def _lookup(module_key: str, name: str, source: Any) -> Any:
    """A real CuPy name, implemented by ``source``'s (NumPy's) attribute of that name."""
    if name not in _REAL[module_key]:
        raise AttributeError(f"module '{module_key}' has no attribute '{name}' (not in CuPy 14.2.0)")
    if not hasattr(source, name):
        raise AttributeError(f"'{module_key}.{name}' exists in CuPy but is not implemented by the fake cupy")
    attr = getattr(source, name)
    if isinstance(attr, type) or not callable(attr):  # dtypes/scalar types, constants (inf, pi, newaxis)
        return attr
    return _Function(name, attr)


# ----------------------------------------------------------------------------- indexing
def _wrap_indices(key: Any, shape: tuple[int, ...]) -> Any:
    """CuPy wraps out-of-range integer-array indices around (NumPy raises IndexError)."""
    key = _unwrap(key, allow_host=True)
    parts = key if isinstance(key, tuple) else (key,)
    if not any(isinstance(p, (numpy.ndarray, list)) for p in parts):
        return key
    consumed = sum(0 if p is None or p is Ellipsis else
                   (numpy.asarray(p).ndim if numpy.asarray(p).dtype == bool else 1) for p in parts)
    out, dim = [], 0
    for p in parts:
        if p is Ellipsis:
            dim += len(shape) - consumed
            out.append(p)
            continue
        if p is None:
            out.append(p)
            continue
        if isinstance(p, (numpy.ndarray, list)):
            arr = numpy.asarray(p)
            if arr.dtype == bool:
                dim += arr.ndim
                out.append(arr)
                continue
            if arr.dtype.kind in "iu" and dim < len(shape) and shape[dim] > 0:
                arr = arr % shape[dim]
            out.append(arr)
        else:
            out.append(p)
        dim += 1
    return tuple(out) if isinstance(key, tuple) else out[0]


# ----------------------------------------------------------------------------- the array
class ndarray:  # noqa: N801 - CuPy's name
    """A device array: NumPy storage, CuPy's rules."""

    __slots__ = ("_a",)
    __array_priority__ = 100
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, shape: Any, dtype: Any = float, memptr: Any = None, strides: Any = None,
                 order: str = "C") -> None:
        global ARRAYS_MADE
        ARRAYS_MADE += 1
        self._a = numpy.empty(shape, dtype=dtype, order=order)

    @classmethod
    def _from_host(cls, array: numpy.ndarray) -> ndarray:
        global ARRAYS_MADE
        ARRAYS_MADE += 1
        self = object.__new__(cls)
        self._a = array
        return self

    # -- NumPy interop: no implicit conversion, NumPy functions dispatch to CuPy's
    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
                        "construct a NumPy array explicitly.")

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method != "__call__":
            raise TypeError(f"numpy.{ufunc.__name__}.{method} is not supported on cupy arrays (fake cupy); "
                            "use cupyx.scatter_add and friends")
        return _call(getattr(ufunc, method), inputs, kwargs)

    def __array_function__(self, func: Any, types_: Any, args: Any, kwargs: Any) -> Any:
        name = func.__name__
        if name not in _REAL["cupy"] or getattr(func, "__module__", "").split(".")[0] != "numpy":
            return NotImplemented
        return _call(func, args, kwargs)

    # -- attributes
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: _wrap(self._a.T))
    mT = property(lambda self: _wrap(self._a.mT))
    real = property(lambda self: _wrap(self._a.real))
    imag = property(lambda self: _wrap(self._a.imag))
    device = property(lambda self: cuda.Device(0))

    @property
    def base(self) -> Any:
        return None if self._a.base is None else _wrap(self._a.base)

    @property
    def data(self) -> Any:
        return cuda.MemoryPointer(self)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in _REAL["cupy.ndarray"]:
            raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}'")
        attr = getattr(self._a, name, None)
        if attr is None or not callable(attr):
            raise AttributeError(f"'cupy.ndarray.{name}' exists in CuPy but is not implemented by the fake cupy")
        return _Function(f"ndarray.{name}", attr)

    # -- host copies (explicit only)
    def get(self, stream: Any = None, order: str = "C", out: Any = None, blocking: bool = True) -> numpy.ndarray:
        if out is not None:
            out[...] = self._a
            return out
        return numpy.array(self._a, order=order)

    def set(self, arr: numpy.ndarray, stream: Any = None) -> None:
        self._a[...] = arr

    def item(self, *args: Any) -> Any:
        return self._a.item(*args)

    def tolist(self) -> Any:
        return self._a.tolist()

    def astype(self, dtype: Any, order: str = "K", casting: Any = None, subok: Any = None,
               copy: bool = True) -> ndarray:
        result = self._a.astype(dtype, order=order, copy=copy)
        return self if result is self._a else _wrap(result)

    def copy(self, order: str = "C") -> ndarray:
        return _wrap(self._a.copy(order=order))

    def __copy__(self) -> ndarray:
        return self.copy()

    def __deepcopy__(self, memo: Any) -> ndarray:
        return self.copy()

    def __reduce__(self) -> Any:
        return (array, (self._a,))

    # -- conversions that CuPy allows (they synchronise)
    def __bool__(self) -> bool:
        return bool(self._a)

    def __int__(self) -> int:
        return int(self._a)

    def __float__(self) -> float:
        return float(self._a)

    def __complex__(self) -> complex:
        return complex(self._a)

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Any:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    def __repr__(self) -> str:
        return repr(self._a)

    def __str__(self) -> str:
        return str(self._a)

    def __format__(self, spec: str) -> str:
        return format(self._a.item() if self.ndim == 0 else self._a, spec)

    # -- indexing
    def __getitem__(self, key: Any) -> Any:
        with _quiet():
            return _wrap(self._a[_wrap_indices(key, self.shape)])

    def __setitem__(self, key: Any, value: Any) -> None:
        value = _unwrap(value)
        with _quiet():
            self._a[_wrap_indices(key, self.shape)] = value


def _binary(name: str, reflected: bool = False) -> Any:
    op = getattr(numpy.ndarray, name)

    def method(self: ndarray, other: Any) -> Any:
        if isinstance(other, numpy.ndarray):
            raise TypeError(_HOST_ERROR)
        if not isinstance(other, (ndarray, int, float, complex, bool, numpy.generic)):
            return NotImplemented
        with _quiet():
            result = op(self._a, _unwrap(other))
        if result is NotImplemented:
            return result
        return _wrap(result)

    method.__name__ = name
    return method


def _inplace(name: str) -> Any:
    op = getattr(numpy.ndarray, name)

    def method(self: ndarray, other: Any) -> Any:
        if isinstance(other, numpy.ndarray):
            raise TypeError(_HOST_ERROR)
        if not isinstance(other, (ndarray, int, float, complex, bool, numpy.generic)):
            return NotImplemented
        with _quiet():
            op(self._a, _unwrap(other))
        return self

    method.__name__ = name
    return method


def _unary(name: str) -> Any:
    op = getattr(numpy.ndarray, name)

    def method(self: ndarray) -> Any:
        with _quiet():
            return _wrap(op(self._a))

    method.__name__ = name
    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
              "lshift", "rshift", "divmod"):
    setattr(ndarray, f"__{_name}__", _binary(f"__{_name}__"))
    setattr(ndarray, f"__r{_name}__", _binary(f"__r{_name}__"))
    if _name != "divmod":
        setattr(ndarray, f"__i{_name}__", _inplace(f"__i{_name}__"))
for _name in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(ndarray, f"__{_name}__", _binary(f"__{_name}__"))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(ndarray, f"__{_name}__", _unary(f"__{_name}__"))


# ----------------------------------------------------------------------------- creation and transfer
def asarray(a: Any, dtype: Any = None, order: Any = None, *, blocking: bool = False) -> ndarray:
    """Host data -> a device array (a copy); a device array is returned as is (or cast)."""
    if isinstance(a, ndarray):
        return a if dtype is None or a.dtype == numpy.dtype(dtype) else a.astype(dtype)
    return ndarray._from_host(numpy.array(_unwrap(a, allow_host=True), dtype=dtype, order=order or "K"))


def array(obj: Any, dtype: Any = None, copy: bool = True, order: str = "K", subok: bool = False,
          ndmin: int = 0, *, blocking: bool = False) -> ndarray:
    if isinstance(obj, ndarray):
        return _wrap(numpy.array(obj._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin))
    return ndarray._from_host(numpy.array(_unwrap(obj, allow_host=True), dtype=dtype, order=order, ndmin=ndmin))


def asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None, *, blocking: bool = True) -> Any:
    """A host copy of a device array (host data passes through ``numpy.asarray``)."""
    if isinstance(a, ndarray):
        return a.get(order=order, out=out)
    return numpy.asarray(a, order=order)


def get_array_module(*args: Any) -> types.ModuleType:
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else numpy


def copyto(dst: ndarray, src: Any, casting: str = "same_kind", where: Any = None) -> None:
    """As CuPy: a host source is accepted only when it holds one element (it is read as a scalar)."""
    if isinstance(src, numpy.ndarray):
        if src.size != 1:
            raise ValueError("non-scalar numpy.ndarray cannot be used for copyto")
        src = src.reshape(()).item()
    _call(numpy.copyto, (dst, src), {"casting": casting, **({} if where is None else {"where": where})})


def _not_in_cupy(name: str) -> Any:
    raise AttributeError(f"module 'cupy' has no attribute '{name}'")


from cupy import cuda, random  # noqa: E402, F401  (submodules need ndarray above)


class _MemoryPool:
    def used_bytes(self) -> int:
        return 0

    def total_bytes(self) -> int:
        return 0

    def free_all_blocks(self) -> None:
        pass


_POOL, _PINNED_POOL = _MemoryPool(), _MemoryPool()


def get_default_memory_pool() -> _MemoryPool:
    return _POOL


def get_default_pinned_memory_pool() -> _MemoryPool:
    return _PINNED_POOL


_EXPLICIT = {"ndarray", "asarray", "array", "asnumpy", "get_array_module", "copyto", "cuda", "random",
             "get_default_memory_pool", "get_default_pinned_memory_pool"}
assert _REAL["cupy"] >= _EXPLICIT, _EXPLICIT - _REAL["cupy"]


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return _lookup("cupy", name, numpy)


def __dir__() -> list[str]:
    return sorted(_REAL["cupy"])
