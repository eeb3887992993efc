"""The fused affine map of a fully connected layer: y = x W^T + b in one graph node.

One node instead of ``matmul`` + ``transpose`` + ``add`` saves two graph nodes and a
temporary per layer, and keeps forward and backward to one BLAS matrix product per
gradient.  Users call :func:`minidl.functional.linear`.
"""

from __future__ import annotations

from minidl import backend
from minidl.autograd.function import Function
from minidl.autograd.tensor import Tensor

Array = backend.Array


def linear_reference(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    """:class:`Linear` from primitives: a matrix product, a transpose and a broadcast add."""
    y = x @ w.T
    return y if b is None else y + b


class Linear(Function):
    """y = x W^T + b  for x (*, in), W (out, in), b (out,) or None -> y (*, out).  The fused form
    of :func:`linear_reference` (for speed: two fewer graph nodes and one fewer temporary).

    The leading dimensions * are flattened to one, M = prod(*), so every product is a 2-D
    BLAS matrix product (x2 is (M, in), gy2 is (M, out)):

        dL/dx = gy2 W            (M, out) @ (out, in)
        dL/dW = gy2^T x2         (out, M) @ (M, in)
        dL/db = sum_M gy2        (out,)

    (The first layer's input needs no gradient: the guards skip its matrix product.)
    """

    def forward(self, x: Array, w: Array, b: Array | None) -> Array:
        self.x, self.w = x, w
        y = x.reshape(-1, x.shape[-1]) @ w.T
        if b is not None:
            y += b
        return y.reshape(*x.shape[:-1], w.shape[0])

    def backward(self, gy: Array) -> tuple[Array | None, Array | None, Array | None]:
        x, w = self.x, self.w
        gy2 = gy.reshape(-1, w.shape[0])
        gx = (gy2 @ w).reshape(x.shape) if self.needs_input_grad[0] else None
        gw = gy2.T @ x.reshape(-1, x.shape[-1]) if self.needs_input_grad[1] else None
        gb = gy2.sum(axis=0) if self.needs_input_grad[2] else None
        return gx, gw, gb
