"""In-place updates: ``zero_``, ``fill_``, ``copy_``, ``add_``, ``sub_``, ``mul_``, ``div_``,
``clamp_``, ``neg_``, ``t[i] = v``, and the operators ``+=``, ``-=``, ``*=``, ``/=``.

Each writes into the tensor's memory and bumps its version counter (shared with its views), so
a graph node that saved the tensor for backward refuses to use the changed values (see
``minidl/autograd/function.py``).  They record nothing in the graph, so while grad mode is on
they are refused

* on a leaf that requires grad (PyTorch's error): wrap optimizer-style updates in
  ``with minidl.no_grad():``, as ``p -= lr * p.grad`` in a training loop;
* on a tensor that is part of a graph, or with an operand that requires grad: PyTorch records
  these in the graph, minidl does not, and says so instead of computing a wrong gradient
  (write the out-of-place form, ``y = y + z``).

As in PyTorch, the operand broadcasts to the tensor's shape (never the other way) and the result
keeps the tensor's dtype when the cast is safe: a float32 tensor takes a float64 operand, an
integer tensor refuses a float result (``x += 0.5``, ``x /= 2``).
"""

from __future__ import annotations

from typing import Any

from minidl import backend
from minidl.autograd.grad_mode import is_grad_enabled
from minidl.autograd.tensor import Tensor
from minidl.ops.common import number
from minidl.ops.shape import check_bounds, index_key


def _check(op: str, t: Tensor, *operands: Any) -> None:
    """Refuse an update that the graph would silently miss, or that writes to an expanded tensor."""
    if is_grad_enabled():
        if t.requires_grad and t.is_leaf:
            raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an in-place operation. "
                               "Wrap the update in `with minidl.no_grad():` (as optimizers do)")
        if t.requires_grad:
            raise RuntimeError(f"{op}: the tensor is the output of {t.grad_fn.name}, part of a graph: PyTorch would "
                               "record the in-place operation in the graph, minidl does not support that. Write it "
                               "out of place (y = y * 2), or under `with minidl.no_grad():` if it is not to be "
                               "differentiated")
        if any(isinstance(v, Tensor) and v.requires_grad for v in operands):
            raise RuntimeError(f"{op}: the operand requires grad: PyTorch would record the in-place operation in "
                               "the graph, minidl does not support that. Write it out of place (x = x + y)")
    if any(stride == 0 and n > 1 for stride, n in zip(t.array.strides, t.shape)):
        raise RuntimeError(f"{op}: unsupported operation: more than one element of the written-to tensor refers "
                           "to a single memory location. Please clone() the tensor before performing the operation.")


def _values(value: Any, like: Tensor) -> Any:
    """The array (or number) to write into ``like``: tensors unwrapped, arrays (NumPy ones too:
    CuPy's kernels refuse host arrays) and lists moved to its device; numbers as they are."""
    if isinstance(value, Tensor):
        value = value.array
    if isinstance(value, (list, tuple)):
        return backend.module_for(like.device).asarray(value)
    if hasattr(value, "dtype") and hasattr(value, "shape"):  # an array (or NumPy scalar)
        return backend.to_device(value, like.device) if value.shape else value.item()
    return value


def _update(op: str, self: Tensor, function: str, *operands: Any, alpha: float = 1) -> Tensor:
    """self <- xp.<function>(self, alpha * operand, ...), written into self's memory (``out=``)."""
    _check(op, self, *operands)
    xp = backend.xp_of(self.array)
    values = [_values(v, self) for v in operands]
    alpha = number(alpha)  # a 0-d array alpha: its value (CuPy refuses host arrays)
    if alpha != 1:
        values[0] = values[0] * alpha
    try:
        getattr(xp, function)(self.array, *values, out=self.array)
    except TypeError as error:  # the result's dtype can't be cast to self's (a float into an integer tensor)
        result = getattr(xp, function)(self.array, *values).dtype
        raise RuntimeError(f"{op}: result type {result} can't be cast to the desired output type "
                           f"{self.dtype}") from error
    except ValueError as error:  # an operand does not broadcast to self's shape
        shapes = [list(getattr(v, "shape", ())) for v in values]
        raise RuntimeError(f"{op}: output with shape {list(self.shape)} doesn't match the broadcast shape of "
                           f"the tensor and operands of shapes {shapes}") from error
    self._version_counter.bump()
    return self


def add_(self: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """self += alpha * other."""
    return _update("add_", self, "add", other, alpha=alpha)


def sub_(self: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """self -= alpha * other."""
    return _update("sub_", self, "subtract", other, alpha=alpha)


def mul_(self: Tensor, other: Any) -> Tensor:
    """self *= other."""
    return _update("mul_", self, "multiply", other)


def div_(self: Tensor, other: Any) -> Tensor:
    """self /= other (true division: an integer tensor refuses it, as in PyTorch)."""
    return _update("div_", self, "true_divide", other)


def neg_(self: Tensor) -> Tensor:
    """self = -self."""
    return _update("neg_", self, "negative")


def clamp_(self: Tensor, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    """self = min(max(self, min), max); at least one bound is required."""
    if min is None and max is None:
        raise ValueError("clamp_: at least one of 'min' or 'max' must not be None")
    return _update("clamp_", self, "clip", number(min), number(max))


def zero_(self: Tensor) -> Tensor:
    """Set every element to 0."""
    return fill_(self, 0)


def fill_(self: Tensor, value: float) -> Tensor:
    """Set every element to ``value``."""
    _check("fill_", self, value)
    self.array[...] = _values(value, self)
    self._version_counter.bump()
    return self


def copy_(self: Tensor, src: Any) -> Tensor:
    """Copy ``src``'s values (broadcast, cast to this tensor's dtype and device) into this tensor."""
    _check("copy_", self, src)
    values = _values(src, self)
    try:
        self.array[...] = values
    except ValueError as error:
        raise RuntimeError(f"copy_: can't copy a source of shape {tuple(getattr(values, 'shape', ()))} "
                           f"into a tensor of shape {tuple(self.shape)}") from error
    self._version_counter.bump()
    return self


def setitem(self: Tensor, key: Any, value: Any) -> None:
    """``self[key] = value`` (no gradient is recorded)."""
    _check("__setitem__", self, value)
    key, _ = index_key(key, backend.xp_of(self.array))
    check_bounds(key, self.shape)  # CuPy would wrap an out-of-range index around
    self.array[key] = _values(value, self)
    self._version_counter.bump()
