"""The fused affine map of a fully connected layer: y = x W^T + b in one graph node.

One node instead of ``matmul`` + ``transpose`` + ``add`` saves two graph nodes and a
temporary per layer, and keeps forward and backward to one BLAS matrix product per
gradient.  Users call :func:`minidl.functional.linear`.
"""

from __future__ import annotations

from minidl import backend
from minidl.autograd.function import Function

Array = backend.Array


class Linear(Function):
    """y = x W^T + b  for x (*, in), W (out, in), b (out,) -> y (*, out).

    The leading dimensions * are flattened to one, M = prod(*), so every product is a 2-D
    BLAS matrix product (x2 is (M, in), gy2 is (M, out)):

        dL/dx = gy2 W            (M, out) @ (out, in)
        dL/dW = gy2^T x2         (out, M) @ (M, in)
        dL/db = sum_M gy2        (out,)

    ``b`` is optional: ``Linear.apply(x, W)`` or ``Linear.apply(x, W, b)``.
    """

    def forward(self, x: Array, w: Array, *b: Array) -> Array:
        self.x, self.w = x, w
        y = x.reshape(-1, x.shape[-1]) @ w.T
        if b:
            y += b[0]
        return y.reshape(*x.shape[:-1], w.shape[0])

    def backward(self, gy: Array) -> tuple[Array | None, ...]:
        x, w = self.x, self.w
        gy2 = gy.reshape(-1, w.shape[0])
        gx = (gy2 @ w).reshape(x.shape) if self.needs_input_grad[0] else None
        gw = gy2.T @ x.reshape(-1, x.shape[-1]) if self.needs_input_grad[1] else None
        if len(self.needs_input_grad) == 2:
            return gx, gw
        gb = gy2.sum(axis=0) if self.needs_input_grad[2] else None
        return gx, gw, gb
