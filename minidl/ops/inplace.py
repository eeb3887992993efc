"""In-place updates (``zero_``, ``fill_``, ``copy_``, ``add_``, ``mul_``, ``t[i] = v``).

They change ``.data`` directly and record nothing, so they are refused on a tensor that
requires grad while grad mode is on (the recorded graph would silently become wrong).  Use
them under ``minidl.no_grad()`` -- as initialisers and optimizers do -- or on plain tensors.
"""

from __future__ import annotations

from typing import Any

from minidl import backend
from minidl.autograd.grad_mode import is_grad_enabled
from minidl.autograd.tensor import Tensor
from minidl.ops.common import number
from minidl.ops.shape import check_bounds, index_key


def _check(op: str, t: Tensor) -> None:
    if t.requires_grad and is_grad_enabled():
        kind = "a leaf tensor" if t.is_leaf else "a tensor"
        raise RuntimeError(f"{op}: {kind} that requires grad can't be modified in place while grad mode is "
                           "on; wrap the update in `with minidl.no_grad():`")


def _values(value: Any, like: Tensor) -> Any:
    """The array (or number) to write into ``like``: tensors unwrapped, arrays (NumPy ones too:
    CuPy's kernels refuse host arrays) and lists moved to its device; numbers as they are."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, (list, tuple)):
        return backend.module_for(like.device).asarray(value)
    if hasattr(value, "dtype") and hasattr(value, "shape"):  # an array (or NumPy scalar)
        return backend.to_device(value, like.device) if value.shape else value.item()
    return value


def zero_(self: Tensor) -> Tensor:
    """Set every element to 0."""
    return fill_(self, 0)


def fill_(self: Tensor, value: float) -> Tensor:
    """Set every element to ``value``."""
    _check("fill_", self)
    self.data[...] = _values(value, self)
    return self


def copy_(self: Tensor, src: Any) -> Tensor:
    """Copy ``src``'s values (broadcast, cast to this tensor's dtype and device) into this tensor."""
    _check("copy_", self)
    values = _values(src, self)
    try:
        self.data[...] = values
    except ValueError as error:
        raise RuntimeError(f"copy_: can't copy a source of shape {tuple(getattr(values, 'shape', ()))} "
                           f"into a tensor of shape {tuple(self.shape)}") from error
    return self


def add_(self: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """self += alpha * other."""
    _check("add_", self)
    values, alpha = _values(other, self), number(alpha)  # a 0-d array alpha: its value (CuPy refuses host arrays)
    self.data += values if alpha == 1 else values * alpha
    return self


def mul_(self: Tensor, other: Any) -> Tensor:
    """self *= other."""
    _check("mul_", self)
    self.data *= _values(other, self)
    return self


def setitem(self: Tensor, key: Any, value: Any) -> None:
    """``self[key] = value`` (no gradient is recorded)."""
    _check("__setitem__", self)
    key, _ = index_key(key, backend.xp_of(self.data))
    check_bounds(key, self.shape)  # CuPy would wrap an out-of-range index around
    self.data[key] = _values(value, self)
