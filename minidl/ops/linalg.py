"""Matrix products: ``matmul`` (``@``) for 1-D, 2-D, batched and broadcast operands, and PyTorch's
stricter forms built on it: ``mm`` (two matrices), ``bmm`` (two batches of matrices), ``addmm``
(beta input + alpha mat1 @ mat2); ``t``, the transpose of a matrix; and ``norm``, the p-norm."""

from __future__ import annotations

from minidl import backend
from minidl.autograd.function import Function
from minidl.autograd.tensor import Tensor
from minidl.ops.common import normalize_dims, operands
from minidl.ops.elementwise import add, mul, written
from minidl.ops.shape import t_reverse

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


class Norm(Function):
    """y = (sum |x|^p)^(1/p) over ``dim`` (all of them when None), p >= 1 (the Euclidean norm for p = 2);
    dy/dx = sign(x) (|x| / y)^(p - 1)  (x / y for p = 2), and 0 where y = 0, as PyTorch."""

    p: float
    dim: tuple[int, ...] | None
    keepdim: bool

    def forward(self, x: Array) -> Array:
        xp = backend.xp_of(x)
        self.x = x
        a = xp.abs(x)
        self.y = (a * a).sum(axis=self.dim, keepdims=True) ** 0.5 if self.p == 2 else \
            (a ** self.p).sum(axis=self.dim, keepdims=True) ** (1 / self.p)
        return self.y if self.keepdim else self.y.squeeze(axis=self.dim)

    def backward(self, gy: Array) -> Array:
        xp = backend.xp_of(gy)
        if not self.keepdim:
            gy = xp.expand_dims(gy, self.dim if self.dim is not None else tuple(range(self.x.ndim)))
        with backend.ignore_fp_errors(xp):  # 0 / 0 where y = 0: replaced by 0
            ratio = self.x / self.y if self.p == 2 else xp.sign(self.x) * (xp.abs(self.x) / self.y) ** (self.p - 1)
        return gy * xp.where(self.y == 0, 0, ratio)


def matmul(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Matrix product with NumPy/PyTorch semantics for 1-D, 2-D and batched operands."""
    a, b = operands("matmul", input, other, same_dtype=True)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes "
                           f"{tuple(a.shape)} and {tuple(b.shape)}")
    n_a = a.shape[-1]
    n_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if n_a != n_b:
        raise RuntimeError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied "
                           f"({n_a} != {n_b})")
    return written(MatMul.apply(a, b), out)


def mm(input: Tensor, mat2: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The product of two matrices (n, m) @ (m, p); no broadcasting, as PyTorch."""
    for name, x in (("self", input), ("mat2", mat2)):
        if x.ndim != 2:
            raise RuntimeError(f"mm: {name} must be a matrix, got shape {tuple(x.shape)}")
    return written(_checked_product(input, mat2), out)


def bmm(input: Tensor, mat2: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Batched matrix product (b, n, m) @ (b, m, p); no broadcasting, as PyTorch."""
    for name, x in (("batch1", input), ("batch2", mat2)):
        if x.ndim != 3:
            raise RuntimeError(f"bmm: {name} must be a 3D tensor, got shape {tuple(x.shape)}")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: {tuple(input.shape)} and {tuple(mat2.shape)}")
    return written(_checked_product(input, mat2), out)


def _checked_product(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b`` with PyTorch's message when the inner sizes differ."""
    if a.shape[-1] != b.shape[-2]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({'x'.join(map(str, a.shape))} and "
                           f"{'x'.join(map(str, b.shape))})")
    return MatMul.apply(*operands("mm", a, b, same_dtype=True))


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: float = 1, alpha: float = 1) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2), ``input`` broadcast to the product's shape; with
    ``beta = 0`` the input is ignored (its NaNs too), as PyTorch."""
    product = mm(mat1, mat2)
    if len(input.shape) > 2 or any(n not in (1, m) for n, m in zip(input.shape[::-1], product.shape[::-1])):
        raise RuntimeError(f"addmm: input of shape {tuple(input.shape)} does not broadcast to the product's "
                           f"shape {tuple(product.shape)}")
    if alpha != 1:
        product = mul(product, alpha)
    if beta == 0:
        return product
    return add(input if beta == 1 else mul(input, beta), product)


def t(input: Tensor) -> Tensor:
    """The transpose of a matrix; a 0-D or 1-D tensor is returned as it is (a new view), as PyTorch."""
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return t_reverse(input)


def norm(input: Tensor, p: float | str = "fro", dim: int | tuple[int, ...] | None = None,
         keepdim: bool = False) -> Tensor:
    """The p-norm (sum |x|^p)^(1/p) of all elements, or along ``dim``; ``"fro"`` (the default) is p = 2."""
    p = 2.0 if p == "fro" else p
    if isinstance(p, str) or not 1 <= p < float("inf"):
        raise ValueError(f"norm: p must be 'fro' or a number >= 1 (inf is not supported), got {p!r}")
    return Norm.apply(input, p=float(p), dim=normalize_dims("norm", dim, input.ndim), keepdim=keepdim)
