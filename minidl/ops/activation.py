"""Activations and normalised exponentials: relu, leaky_relu, elu, sigmoid, silu, tanh, softplus,
gelu, softmax, log_softmax, logsumexp.

Each is written to be numerically stable for any finite input: sigmoid never overflows,
softplus switches to the identity past ``threshold``, and the softmax family subtracts the
maximum before exponentiating (log-sum-exp).
"""

from __future__ import annotations

import math

from minidl import backend
from minidl.autograd.function import Function
from minidl.autograd.tensor import Tensor
from minidl.ops.common import floating, normalize_dim, number, require_floating
from minidl.ops.elementwise import mul, where

Array = backend.Array

#: the user functions: ``minidl.ops`` (so ``minidl``) and ``minidl.functional`` import these names
__all__ = ["elu", "gelu", "leaky_relu", "log_softmax", "logsumexp", "relu", "sigmoid", "silu", "softmax", "softplus",
           "tanh"]


def relu_reference(x: Tensor) -> Tensor:
    """:class:`ReLU` from primitives: x where x > 0, else 0."""
    return where(x > 0, x, 0.0)


class ReLU(Function):
    """y = max(x, 0);  dy/dx = 1 for x > 0, else 0 (0 at x = 0, as PyTorch).

    The fused form of :func:`relu_reference` (for speed): backward multiplies by the mask y > 0
    (faster than boolean indexing); it keeps y, which the next layer keeps anyway, rather than a
    separate mask.
    """

    def forward(self, x: Array) -> Array:
        self.y = backend.xp_of(x).maximum(x, 0)
        return self.y

    def backward(self, gy: Array) -> Array:
        return gy * (self.y > 0)


class LeakyReLU(Function):
    """y = x for x > 0 else slope * x;  dy/dx = 1 for x > 0, else slope (slope at x = 0)."""

    negative_slope: float

    def forward(self, x: Array) -> Array:
        xp = backend.xp_of(x)
        self.scale = xp.where(x > 0, 1, self.negative_slope).astype(x.dtype)
        return x * self.scale

    def backward(self, gy: Array) -> Array:
        return gy * self.scale


class ELU(Function):
    """y = x for x > 0, else alpha (e^x - 1);  dy/dx = 1 for x > 0, else alpha e^x = y + alpha."""

    alpha: float

    def forward(self, x: Array) -> Array:
        xp = backend.xp_of(x)
        self.positive = x > 0
        self.y = xp.where(self.positive, x, self.alpha * xp.expm1(xp.minimum(x, 0)))  # (no e^x of a large x)
        return self.y

    def backward(self, gy: Array) -> Array:
        return gy * backend.xp_of(gy).where(self.positive, 1, self.y + self.alpha)


def stable_sigmoid(x: Array) -> Array:
    """1 / (1 + e^-x) without overflow: e^-|x| is always <= 1."""
    xp = backend.xp_of(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_reference(x: Tensor) -> Tensor:
    """:class:`Sigmoid` from primitives: 1 / (1 + e^-x) (e^-x overflows for x < -709)."""
    return 1 / (1 + (-x).exp())


class Sigmoid(Function):
    """y = 1 / (1 + e^-x);  dy/dx = y (1 - y).  The fused form of :func:`sigmoid_reference`
    (for stability: :func:`stable_sigmoid` never overflows)."""

    def forward(self, x: Array) -> Array:
        self.y = stable_sigmoid(x)
        return self.y

    def backward(self, gy: Array) -> Array:
        return gy * self.y * (1 - self.y)


class Tanh(Function):
    """y = tanh(x);  dy/dx = 1 - y^2."""

    def forward(self, x: Array) -> Array:
        self.y = backend.xp_of(x).tanh(x)
        return self.y

    def backward(self, gy: Array) -> Array:
        return gy * (1 - self.y * self.y)


def softplus_reference(x: Tensor, beta: float, threshold: float) -> Tensor:
    """:class:`Softplus` from primitives: log(1 + e^(beta x)) / beta, or x past the threshold."""
    return where(x * beta > threshold, x, (1 + (x * beta).exp()).log() / beta)


class Softplus(Function):
    """y = log(1 + e^(beta x)) / beta, or x where beta x > threshold (PyTorch's switch);
    dy/dx = sigmoid(beta x), or 1 past the threshold.  The fused form of
    :func:`softplus_reference` (for stability: e^(beta x) is never formed)."""

    beta: float
    threshold: float

    def forward(self, x: Array) -> Array:
        xp = backend.xp_of(x)
        bx = x * self.beta
        self.linear = bx > self.threshold
        self.slope = xp.where(self.linear, 1, stable_sigmoid(bx)).astype(x.dtype)
        soft = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / self.beta
        return xp.where(self.linear, x, soft)

    def backward(self, gy: Array) -> Array:
        return gy * self.slope


class GELU(Function):
    """Gaussian error linear unit.

    'none':  y = x Phi(x),  dy/dx = Phi(x) + x phi(x),  Phi(x) = (1 + erf(x / sqrt 2)) / 2.
    'tanh':  y = x (1 + tanh(u)) / 2,  u = sqrt(2/pi) (x + 0.044715 x^3),
             dy/dx = (1 + tanh u) / 2 + x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2) / 2.
    """

    approximate: str

    def forward(self, x: Array) -> Array:
        xp = backend.xp_of(x)
        self.x = x
        if self.approximate == "tanh":
            self.t = xp.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x))
            return 0.5 * x * (1 + self.t)
        self.cdf = 0.5 * (1 + backend.special(xp).erf(x * (1 / math.sqrt(2))))
        return x * self.cdf

    def backward(self, gy: Array) -> Array:
        xp = backend.xp_of(gy)
        x = self.x
        if self.approximate == "tanh":
            du = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x * x)
            return gy * (0.5 * (1 + self.t) + 0.5 * x * (1 - self.t * self.t) * du)
        pdf = xp.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return gy * (self.cdf + x * pdf)


def softmax_reference(x: Tensor, dim: int) -> Tensor:
    """:class:`Softmax` from primitives: e^x / sum e^x along ``dim``."""
    e = x.exp()
    return e / e.sum(dim, keepdim=True)


class Softmax(Function):
    """y_i = e^(x_i - m) / sum_j e^(x_j - m) along ``dim`` (m = max, for stability);
    dx = y * (dy - sum(dy * y)).  The fused form of :func:`softmax_reference` (for stability:
    no overflow for large x; and speed: one node)."""

    dim: int

    def forward(self, x: Array) -> Array:
        xp = backend.xp_of(x)
        e = xp.exp(x - x.max(axis=self.dim, keepdims=True))
        self.y = e / e.sum(axis=self.dim, keepdims=True)
        return self.y

    def backward(self, gy: Array) -> Array:
        return self.y * (gy - (gy * self.y).sum(axis=self.dim, keepdims=True))


def _logsumexp(x: Array, dim: int | tuple[int, ...] | None) -> Array:
    """log sum exp x along ``dim`` (kept as size 1), stable: m + log sum e^(x - m).

    A slice that is entirely -inf gives -inf (m is replaced by 0 there to avoid inf - inf).
    """
    xp = backend.xp_of(x)
    m = x.max(axis=dim, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0).astype(x.dtype)
    return m + xp.log(xp.exp(x - m).sum(axis=dim, keepdims=True))


def log_softmax_reference(x: Tensor, dim: int) -> Tensor:
    """:class:`LogSoftmax` from primitives: x - log sum e^x along ``dim``."""
    return x - x.exp().sum(dim, keepdim=True).log()


class LogSoftmax(Function):
    """y = x - logsumexp(x) along ``dim``;  dx = dy - softmax(x) * sum(dy).  The fused form of
    :func:`log_softmax_reference` (for stability: :func:`_logsumexp`)."""

    dim: int

    def forward(self, x: Array) -> Array:
        self.y = x - _logsumexp(x, self.dim)
        return self.y

    def backward(self, gy: Array) -> Array:
        xp = backend.xp_of(gy)
        return gy - xp.exp(self.y) * gy.sum(axis=self.dim, keepdims=True)


def log_sum_exp_reference(x: Tensor, dim: tuple[int, ...], keepdim: bool) -> Tensor:
    """:class:`LogSumExp` from primitives: log sum e^x over ``dim``."""
    return x.exp().sum(dim, keepdim=keepdim).log()


class LogSumExp(Function):
    """y = log sum_i e^(x_i) over ``dim``;  dy/dx_i = e^(x_i - y) = softmax(x)_i.  The fused form
    of :func:`log_sum_exp_reference` (for stability: :func:`_logsumexp`)."""

    dim: tuple[int, ...]
    keepdim: bool

    def forward(self, x: Array) -> Array:
        self.x = x
        self.y = _logsumexp(x, self.dim)
        return self.y if self.keepdim else self.y.squeeze(axis=self.dim)

    def backward(self, gy: Array) -> Array:
        xp = backend.xp_of(gy)
        if not self.keepdim:
            gy = xp.expand_dims(gy, self.dim)
        return gy * xp.exp(self.x - self.y)


# -------------------------------------------------------------------------- user functions
def relu(input: Tensor) -> Tensor:
    return ReLU.apply(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    require_floating("leaky_relu", input)
    return LeakyReLU.apply(input, negative_slope=number(negative_slope))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, else alpha (e^x - 1).  (``inplace`` is accepted for PyTorch's signature; the
    result is always a new tensor.)"""
    return ELU.apply(floating(input), alpha=number(alpha))


def sigmoid(input: Tensor) -> Tensor:
    return Sigmoid.apply(floating(input))


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x sigmoid(x), the sigmoid linear unit (swish), built from its two nodes.  (``inplace`` is
    accepted for PyTorch's signature; the result is always a new tensor.)"""
    return mul(input, sigmoid(input))


def tanh(input: Tensor) -> Tensor:
    return Tanh.apply(floating(input))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    require_floating("softplus", input)
    return Softplus.apply(input, beta=number(beta), threshold=number(threshold))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    require_floating("gelu", input)
    return GELU.apply(input, approximate=approximate)


def softmax(input: Tensor, dim: int) -> Tensor:
    require_floating("softmax", input)
    return Softmax.apply(input, dim=normalize_dim("softmax", dim, input.ndim))


def log_softmax(input: Tensor, dim: int) -> Tensor:
    require_floating("log_softmax", input)
    return LogSoftmax.apply(input, dim=normalize_dim("log_softmax", dim, input.ndim))


def logsumexp(input: Tensor, dim: int | tuple[int, ...], keepdim: bool = False) -> Tensor:
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    dims = tuple(normalize_dim("logsumexp", d, input.ndim) for d in dims)
    return LogSumExp.apply(floating(input), dim=dims, keepdim=keepdim)
