"""Matrix product: ``matmul`` (``@``) for 1-D, 2-D, batched and broadcast operands."""

from __future__ import annotations

from minidl import backend
from minidl.autograd.function import Function
from minidl.autograd.tensor import Tensor
from minidl.ops.common import operands

Array = backend.Array


class MatMul(Function):
    """C = A @ B;  dA = dC @ B^T,  dB = A^T @ dC  (over the last two dimensions).

    A 1-D A is treated as a row (1, n) and a 1-D B as a column (n, 1), and the added
    dimension is removed again, as NumPy and PyTorch do.  Batch dimensions broadcast; the
    engine sums the gradient over broadcast batch dimensions.
    """

    def forward(self, a: Array, b: Array) -> Array:
        self.a, self.b = a, b
        return a @ b

    def backward(self, gc: Array) -> tuple[Array | None, Array | None]:
        a, b = self.a, self.b
        if b.ndim == 1:  # restore the removed column dimension, then the removed row one
            gc = gc[..., None]
        if a.ndim == 1:
            gc = gc[..., None, :]
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = gc @ b2.swapaxes(-1, -2)
            ga = ga[..., 0, :] if a.ndim == 1 else ga
        if self.needs_input_grad[1]:
            gb = a2.swapaxes(-1, -2) @ gc
            gb = gb[..., 0] if b.ndim == 1 else gb
        return ga, gb


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product with NumPy/PyTorch semantics for 1-D, 2-D and batched operands."""
    a, b = operands("matmul", input, other)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes "
                           f"{tuple(a.shape)} and {tuple(b.shape)}")
    n_a = a.shape[-1]
    n_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if n_a != n_b:
        raise RuntimeError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied "
                           f"({n_a} != {n_b})")
    return MatMul.apply(a, b)
