"""Inverted dropout as one graph node with a given mask.

The random mask is drawn by :func:`minidl.functional.dropout`; the node itself is
deterministic, which is what lets ``gradcheck`` test it with a fixed mask.
"""

from __future__ import annotations

from typing import Any

from minidl import backend
from minidl.autograd import random
from minidl.autograd.function import Function

Array = backend.Array


def dropout_mask(shape: tuple[int, ...], p: float, dtype: Any, device: str) -> Array:
    """The scaled keep mask m of inverted dropout, drawn from the generator of ``manual_seed``.

    u ~ U[0, 1) is drawn in ``dtype`` directly (no float64 draw cast down); an element is kept
    when u >= p, so P(keep) = 1 - p.  Kept elements get 1 / (1 - p), dropped ones 0, so that
    E[m] = 1 and E[x * m] = x.  For p = 1 nothing is kept and m = 0 (no division by zero).
    """
    u = random.generator(device).random(shape, dtype=dtype)
    scale = u.dtype.type(0.0 if p == 1 else 1.0 / (1.0 - p))  # a scalar of u's dtype: no upcast
    return backend.xp_of(u).multiply(u >= p, scale, out=u)  # the mask reuses u's memory


class Dropout(Function):
    """y = x * mask  (``mask`` of x's shape and dtype: 0 or 1 / (1 - p));  dy/dx = mask."""

    mask: Array

    def forward(self, x: Array) -> Array:
        return x * self.mask

    def backward(self, gy: Array) -> Array:
        return gy * self.mask
