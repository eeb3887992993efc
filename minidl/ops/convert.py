"""Conversions that keep the graph: dtype casts, device moves, copies."""

from __future__ import annotations

from typing import Any

from minidl import backend
from minidl.autograd.function import Function
from minidl.autograd.tensor import Tensor

Array = backend.Array


class Cast(Function):
    """y = x in another dtype;  dx = dy cast back to x's dtype."""

    dtype: Any

    changes_dtype = True

    def forward(self, x: Array) -> Array:
        self.in_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy: Array) -> Array:
        return gy.astype(self.in_dtype)


class ToDevice(Function):
    """y = x copied to another device;  dx = dy copied back."""

    device: str

    def forward(self, x: Array) -> Array:
        self.source = backend.device_of(x)
        return backend.to_device(x, self.device)

    def backward(self, gy: Array) -> Array:
        return backend.to_device(gy, self.source)


class Clone(Function):
    """y = a copy of x;  dx = dy."""

    def forward(self, x: Array) -> Array:
        return x.copy()

    def backward(self, gy: Array) -> Array:
        return gy


def to(input: Tensor, *args: Any, dtype: Any = None, device: str | None = None) -> Tensor:
    """``t.to('cuda')``, ``t.to(minidl.float64)``, ``t.to('cpu', minidl.float32)`` or keywords.

    Returns ``input`` itself when nothing changes, as PyTorch does.
    """
    for arg in args:
        if isinstance(arg, str) and arg.split(":")[0] in ("cpu", "cuda"):
            device = arg
        else:
            dtype = arg
    out = input
    if device is not None and backend.normalize_device(device) != input.device:
        out = ToDevice.apply(out, device=backend.normalize_device(device))
    if dtype is not None and backend.as_dtype(dtype) != out.dtype:
        dtype = backend.as_dtype(dtype)
        if input.requires_grad and not backend.is_floating(dtype):
            out = Tensor(out.array.astype(dtype))  # integer results carry no gradient
        else:
            out = Cast.apply(out, dtype=dtype)
    return out


def clone(input: Tensor) -> Tensor:
    return Clone.apply(input)
