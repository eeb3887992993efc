"""The argument checks shared by the functional layers and losses: one place for each rule.

A weight (and the target of a loss that PyTorch does not promote) must have the input's dtype
(:func:`check_like`); the losses that promote use :func:`minidl.ops.common.promote`.
"""

from __future__ import annotations

from typing import Any

from minidl import backend
from minidl.autograd.tensor import Tensor

REDUCTIONS = ("none", "mean", "sum")


def check_floating(op: str, input: Any) -> None:
    """Require ``input`` to be a floating point tensor."""
    if not isinstance(input, Tensor) or not backend.is_floating(input.dtype):
        raise TypeError(f"{op}: input must be a floating point Tensor, got "
                        f"{getattr(input, 'dtype', type(input).__name__)}")


def check_like(op: str, name: str, value: Tensor, like: Tensor) -> None:
    """Require ``value`` (argument ``name`` of ``op``) to be a tensor with ``like``'s dtype and device."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(value).__name__}")
    if value.dtype != like.dtype:
        raise TypeError(f"{op}: {name} has dtype {value.dtype} but input has dtype {like.dtype}; "
                        f"convert it explicitly (e.g. {name}.to(input.dtype))")
    check_same_device(op, name, value, like)


def check_same_device(op: str, name: str, value: Tensor, like: Tensor) -> None:
    """Require tensor ``value`` (argument ``name`` of ``op``) to be on ``like``'s device."""
    if value.device != like.device:
        raise RuntimeError(f"{op}: {name} is on {value.device} but input is on {like.device}")


def check_reduction(reduction: str) -> None:
    """A loss's ``reduction`` is one of :data:`REDUCTIONS`."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction; expected one of {REDUCTIONS}")


def expand_param(op: str, name: str, value: Any, nd: int, minimum: int) -> tuple[int, ...]:
    """An int, or a tuple/list of 1 or ``nd`` ints, as a tuple of ``nd`` ints each >= ``minimum``."""
    values = (value,) if isinstance(value, int) else tuple(value) if isinstance(value, (tuple, list)) else None
    if values is None or len(values) not in (1, nd) or not all(isinstance(v, int) for v in values):
        raise ValueError(f"{op}: {name} must be an int or a tuple of {nd} ints, got {value!r}")
    values = values * nd if len(values) == 1 else values
    if any(v < minimum for v in values):
        raise ValueError(f"{op}: {name} must be >= {minimum} in every dimension, got {value!r}")
    return values
