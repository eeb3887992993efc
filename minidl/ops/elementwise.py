"""Elementwise arithmetic: add, sub, mul, div, neg, pow, exp, log, sqrt, abs, clamp, maximum,
minimum, where, and the comparisons (which carry no gradient).

Binary ops broadcast as NumPy/PyTorch do; the engine sums each gradient back to its input's
shape, so ``backward`` here returns gradients of the broadcast shape.
"""

from __future__ import annotations

from typing import Any

from minidl import backend
from minidl.autograd.function import Function
from minidl.autograd.tensor import Tensor
from minidl.ops.common import floating, number, operands, tensor_and_number

Array = backend.Array


# --------------------------------------------------------------------------------- primitives
class Add(Function):
    """z = x + y;  dz/dx = 1, dz/dy = 1."""

    def forward(self, x: Array, y: Array) -> Array:
        return x + y

    def backward(self, gz: Array) -> tuple[Array, Array]:
        return gz, gz


class Sub(Function):
    """z = x - y;  dz/dx = 1, dz/dy = -1."""

    def forward(self, x: Array, y: Array) -> Array:
        return x - y

    def backward(self, gz: Array) -> tuple[Array, Array]:
        return gz, -gz


class Mul(Function):
    """z = x * y;  dz/dx = y, dz/dy = x."""

    def forward(self, x: Array, y: Array) -> Array:
        self.x, self.y = x, y
        return x * y

    def backward(self, gz: Array) -> tuple[Array, Array]:
        return gz * self.y, gz * self.x


class Div(Function):
    """z = x / y;  dz/dx = 1 / y, dz/dy = -x / y^2 = -z / y."""

    def forward(self, x: Array, y: Array) -> Array:
        self.y = y
        self.z = x / y
        return self.z

    def backward(self, gz: Array) -> tuple[Array, Array]:
        gx = gz / self.y
        return gx, -gx * self.z


class Neg(Function):
    """z = -x;  dz/dx = -1."""

    def forward(self, x: Array) -> Array:
        return -x

    def backward(self, gz: Array) -> Array:
        return -gz


class Pow(Function):
    """z = x ** y (tensors);  dz/dx = y x^(y-1),  dz/dy = z ln x.

    As in PyTorch, dz/dx is set to 0 where y = 0, and dz/dy to 0 where x = 0 and y >= 0
    (the limits there, instead of 0 * inf).
    """

    def forward(self, x: Array, y: Array) -> Array:
        self.x, self.y = x, y
        self.z = x**y
        return self.z

    def backward(self, gz: Array) -> tuple[Array, Array]:
        x, y = self.x, self.y
        xp = backend.xp_of(x)
        with backend.ignore_fp_errors(xp):  # 0 ** -1, log(0): masked out by the where
            gx = gz * xp.where(y == 0, 0, y * x ** (y - 1)).astype(gz.dtype)
            gy = gz * xp.where((x == 0) & (y >= 0), 0, self.z * xp.log(x)).astype(gz.dtype)
        return gx, gy


# ------------------------------------------------- a tensor and a number (the number is a parameter)
class AddScalar(Function):
    """z = x + c for a number c (``x - c`` is x + (-c));  dz/dx = 1."""

    c: float

    def forward(self, x: Array) -> Array:
        return x + self.c

    def backward(self, gz: Array) -> Array:
        return gz


class RSubScalar(Function):
    """z = c - x for a number c;  dz/dx = -1."""

    c: float

    def forward(self, x: Array) -> Array:
        return self.c - x

    def backward(self, gz: Array) -> Array:
        return -gz


class MulScalar(Function):
    """z = x * c for a number c;  dz/dx = c."""

    c: float

    def forward(self, x: Array) -> Array:
        return x * self.c

    def backward(self, gz: Array) -> Array:
        return gz * self.c


class DivScalar(Function):
    """z = x / c for a number c;  dz/dx = 1 / c."""

    c: float

    def forward(self, x: Array) -> Array:
        return x / self.c

    def backward(self, gz: Array) -> Array:
        return gz / self.c


class RDivScalar(Function):
    """z = c / x for a number c;  dz/dx = -c / x^2 = -z / x."""

    c: float

    def forward(self, x: Array) -> Array:
        self.x = x
        self.z = self.c / x
        return self.z

    def backward(self, gz: Array) -> Array:
        return -(gz / self.x) * self.z


class PowScalar(Function):
    """z = x ** c for a number c;  dz/dx = c x^(c-1)  (0 at x = 0 when c = 0, as PyTorch)."""

    c: float

    def forward(self, x: Array) -> Array:
        self.x = x
        return x**self.c

    def backward(self, gz: Array) -> Array:
        if self.c == 0:
            return gz * 0
        return gz * (self.c * self.x ** (self.c - 1))


class RPowScalar(Function):
    """z = c ** x for a number c;  dz/dx = z ln c  (0 where c = 0 and x >= 0, as PyTorch)."""

    c: float

    def forward(self, x: Array) -> Array:
        self.x = x
        self.z = self.c**x
        return self.z

    def backward(self, gz: Array) -> Array:
        xp = backend.xp_of(gz)
        c = xp.asarray(self.c, dtype=gz.dtype)
        with backend.ignore_fp_errors(xp):  # log(0), log of a negative c: masked out or NaN, as PyTorch
            return gz * xp.where((c == 0) & (self.x >= 0), 0, self.z * xp.log(c)).astype(gz.dtype)


class Exp(Function):
    """z = e^x;  dz/dx = e^x = z."""

    def forward(self, x: Array) -> Array:
        self.z = backend.xp_of(x).exp(x)
        return self.z

    def backward(self, gz: Array) -> Array:
        return gz * self.z


class Log(Function):
    """z = ln x;  dz/dx = 1 / x."""

    def forward(self, x: Array) -> Array:
        self.x = x
        return backend.xp_of(x).log(x)

    def backward(self, gz: Array) -> Array:
        return gz / self.x


class Sqrt(Function):
    """z = sqrt(x);  dz/dx = 1 / (2 sqrt(x)) = 1 / (2 z)."""

    def forward(self, x: Array) -> Array:
        self.z = backend.xp_of(x).sqrt(x)
        return self.z

    def backward(self, gz: Array) -> Array:
        return gz / (2 * self.z)


class Abs(Function):
    """z = |x|;  dz/dx = sign(x), with sign(0) = 0 (PyTorch's choice)."""

    def forward(self, x: Array) -> Array:
        self.x = x
        return backend.xp_of(x).abs(x)

    def backward(self, gz: Array) -> Array:
        return gz * backend.xp_of(gz).sign(self.x)


class Clamp(Function):
    """z = min(max(x, min), max);  dz/dx = 1 where min <= x <= max (bounds included), else 0."""

    min: float | None
    max: float | None

    def forward(self, x: Array) -> Array:
        xp = backend.xp_of(x)
        self.mask = xp.ones(x.shape, dtype=x.dtype)
        if self.min is not None:
            self.mask *= x >= self.min
        if self.max is not None:
            self.mask *= x <= self.max
        return xp.clip(x, self.min, self.max)

    def backward(self, gz: Array) -> Array:
        return gz * self.mask


class _Extremum(Function):
    """Shared backward of maximum/minimum: the winner gets the gradient, ties split it in half.

    (PyTorch: ``where(x == y, g / 2, g)`` masked to the winning side.)
    """

    def backward(self, gz: Array) -> tuple[Array, Array]:
        half = gz * self.tie * 0.5
        return gz * self.x_wins + half, gz * self.y_wins + half

    def _record(self, x_wins: Array, y_wins: Array, dtype: Any) -> None:
        self.x_wins = x_wins.astype(dtype)
        self.y_wins = y_wins.astype(dtype)
        self.tie = 1 - self.x_wins - self.y_wins


class Maximum(_Extremum):
    """z = max(x, y) elementwise; the gradient goes to the larger input (half each on ties)."""

    def forward(self, x: Array, y: Array) -> Array:
        self._record(x > y, x < y, x.dtype)
        return backend.xp_of(x).maximum(x, y)


class Minimum(_Extremum):
    """z = min(x, y) elementwise; the gradient goes to the smaller input (half each on ties)."""

    def forward(self, x: Array, y: Array) -> Array:
        self._record(x < y, x > y, x.dtype)
        return backend.xp_of(x).minimum(x, y)


class Where(Function):
    """z = x where condition else y;  dz/dx = condition, dz/dy = not condition."""

    def forward(self, condition: Array, x: Array, y: Array) -> Array:
        self.keep = condition.astype(x.dtype)
        return backend.xp_of(x).where(condition, x, y)

    def backward(self, gz: Array) -> tuple[None, Array, Array]:
        gx = gz * self.keep
        return None, gx, gz - gx


# -------------------------------------------------------------------------- user functions
def add(input: Any, other: Any, alpha: float = 1) -> Tensor:
    """input + alpha * other."""
    scalar = tensor_and_number(input, other) or tensor_and_number(other, input)
    if scalar:
        x, c = scalar
        if isinstance(other, Tensor) and alpha != 1:  # c + alpha * x
            x = mul(x, alpha)
        return AddScalar.apply(x, c=c * alpha if isinstance(input, Tensor) else c)
    a, b = operands("add", input, other)
    return Add.apply(a, b if alpha == 1 else mul(b, alpha))


def sub(input: Any, other: Any, alpha: float = 1) -> Tensor:
    """input - alpha * other."""
    if scalar := tensor_and_number(input, other):
        x, c = scalar
        return AddScalar.apply(x, c=-(c * alpha))
    if scalar := tensor_and_number(other, input):
        x, c = scalar
        return RSubScalar.apply(x if alpha == 1 else mul(x, alpha), c=c)
    a, b = operands("sub", input, other)
    return Sub.apply(a, b if alpha == 1 else mul(b, alpha))


def mul(input: Any, other: Any) -> Tensor:
    if scalar := tensor_and_number(input, other) or tensor_and_number(other, input):
        x, c = scalar
        return MulScalar.apply(x, c=c)
    return Mul.apply(*operands("mul", input, other))


def div(input: Any, other: Any) -> Tensor:
    """True division; integer inputs give float32 (PyTorch's true division)."""
    if scalar := tensor_and_number(input, other):
        x, c = scalar
        return DivScalar.apply(x if backend.is_floating(x.dtype) else x.float(), c=c)
    if scalar := tensor_and_number(other, input):
        x, c = scalar
        return RDivScalar.apply(x if backend.is_floating(x.dtype) else x.float(), c=c)
    a, b = operands("div", input, other)
    if not backend.is_floating(a.dtype):
        a, b = a.float(), b.float()
    return Div.apply(a, b)


def neg(input: Tensor) -> Tensor:
    return Neg.apply(input)


def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001 - PyTorch's name
    """input ** exponent, for a number or a tensor as either operand."""
    if scalar := tensor_and_number(input, exponent):
        x, c = scalar
        return PowScalar.apply(x, c=c)
    if scalar := tensor_and_number(exponent, input):
        x, c = scalar
        return RPowScalar.apply(x, c=c)
    return Pow.apply(*operands("pow", input, exponent))


def exp(input: Tensor) -> Tensor:
    return Exp.apply(floating(input))


def log(input: Tensor) -> Tensor:
    return Log.apply(floating(input))


def sqrt(input: Tensor) -> Tensor:
    return Sqrt.apply(floating(input))


def abs(input: Tensor) -> Tensor:  # noqa: A001 - PyTorch's name
    return Abs.apply(input)


def clamp(input: Tensor, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    """Limit values to [min, max]; at least one bound is required."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
    min, max = number(min), number(max)
    if isinstance(min, float) or isinstance(max, float):
        input = floating(input)
    return Clamp.apply(input, min=min, max=max)


def maximum(input: Any, other: Any) -> Tensor:
    return Maximum.apply(*operands("maximum", input, other))


def minimum(input: Any, other: Any) -> Tensor:
    return Minimum.apply(*operands("minimum", input, other))


def where(condition: Tensor, input: Any, other: Any) -> Tensor:
    """Elements of ``input`` where ``condition`` is true, else of ``other`` (all broadcast)."""
    if not isinstance(condition, Tensor) or condition.dtype != backend.bool_:
        raise TypeError("where: condition must be a bool tensor, got "
                        f"{getattr(condition, 'dtype', type(condition).__name__)}")
    x, y = operands("where", input, other)
    return Where.apply(condition, x, y)


def _compare(name: str) -> Any:
    """A comparison op (``eq``, ``lt``, ...): a bool tensor with no gradient."""

    def compare(input: Any, other: Any) -> Tensor:
        a, b = operands(name, input, other)
        xp = backend.xp_of(a.data)
        return Tensor(getattr(xp, _NUMPY_COMPARISONS[name])(a.data, b.data))

    compare.__name__ = compare.__qualname__ = name
    compare.__doc__ = f"Elementwise ``{name}`` comparison; a bool tensor without gradient."
    return compare


_NUMPY_COMPARISONS = {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
                      "gt": "greater", "ge": "greater_equal"}
eq, ne, lt, le, gt, ge = (_compare(name) for name in _NUMPY_COMPARISONS)


def rsub(input: Any, other: Any) -> Tensor:
    """other - input (for ``number - tensor``)."""
    return sub(other, input)


def rdiv(input: Any, other: Any) -> Tensor:
    """other / input (for ``number / tensor``)."""
    return div(other, input)


def rpow(input: Tensor, other: Any) -> Tensor:
    """other ** input (for ``number ** tensor``)."""
    return pow(other, input)
