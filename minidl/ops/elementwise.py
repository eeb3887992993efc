"""Elementwise arithmetic: add, sub, mul, div, neg, pow, exp, log, sqrt, abs, clamp, maximum,
minimum, where; the usual functions (sin, cos, tan, asin, acos, atan, sinh, cosh, log1p, expm1,
log2, log10, reciprocal, rsqrt, square); the step functions floor, ceil, round, trunc and sign
(gradient zero, as PyTorch's); and the comparisons (which carry no gradient).

Binary ops broadcast as NumPy/PyTorch do; the engine sums each gradient back to its input's
shape, so ``backward`` here returns gradients of the broadcast shape.
"""

from __future__ import annotations

import math
from typing import Any

from minidl import backend
from minidl.autograd.function import Function
from minidl.autograd.tensor import Tensor
from minidl.ops.common import floating, number, operands, tensor_and_number
from minidl.ops.inplace import copy_

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


class Sin(Function):
    """y = sin x;  dy/dx = cos x."""

    def forward(self, x: Array) -> Array:
        self.x = x
        return backend.xp_of(x).sin(x)

    def backward(self, gy: Array) -> Array:
        return gy * backend.xp_of(gy).cos(self.x)


class Cos(Function):
    """y = cos x;  dy/dx = -sin x."""

    def forward(self, x: Array) -> Array:
        self.x = x
        return backend.xp_of(x).cos(x)

    def backward(self, gy: Array) -> Array:
        return gy * -backend.xp_of(gy).sin(self.x)


class Tan(Function):
    """y = tan x;  dy/dx = 1 / cos^2 x = 1 + y^2."""

    def forward(self, x: Array) -> Array:
        self.y = backend.xp_of(x).tan(x)
        return self.y

    def backward(self, gy: Array) -> Array:
        return gy * (1 + self.y * self.y)


class Asin(Function):
    """y = asin x (x in [-1, 1]);  dy/dx = 1 / sqrt(1 - x^2)."""

    def forward(self, x: Array) -> Array:
        self.x = x
        return backend.xp_of(x).arcsin(x)

    def backward(self, gy: Array) -> Array:
        return gy / backend.xp_of(gy).sqrt(1 - self.x * self.x)


class Acos(Function):
    """y = acos x (x in [-1, 1]);  dy/dx = -1 / sqrt(1 - x^2)."""

    def forward(self, x: Array) -> Array:
        self.x = x
        return backend.xp_of(x).arccos(x)

    def backward(self, gy: Array) -> Array:
        return -gy / backend.xp_of(gy).sqrt(1 - self.x * self.x)


class Atan(Function):
    """y = atan x;  dy/dx = 1 / (1 + x^2)."""

    def forward(self, x: Array) -> Array:
        self.x = x
        return backend.xp_of(x).arctan(x)

    def backward(self, gy: Array) -> Array:
        return gy / (1 + self.x * self.x)


class Sinh(Function):
    """y = sinh x = (e^x - e^-x) / 2;  dy/dx = cosh x."""

    def forward(self, x: Array) -> Array:
        self.x = x
        return backend.xp_of(x).sinh(x)

    def backward(self, gy: Array) -> Array:
        return gy * backend.xp_of(gy).cosh(self.x)


class Cosh(Function):
    """y = cosh x = (e^x + e^-x) / 2;  dy/dx = sinh x."""

    def forward(self, x: Array) -> Array:
        self.x = x
        return backend.xp_of(x).cosh(x)

    def backward(self, gy: Array) -> Array:
        return gy * backend.xp_of(gy).sinh(self.x)


class Log1p(Function):
    """y = ln(1 + x), accurate for small x;  dy/dx = 1 / (1 + x)."""

    def forward(self, x: Array) -> Array:
        self.x = x
        return backend.xp_of(x).log1p(x)

    def backward(self, gy: Array) -> Array:
        return gy / (1 + self.x)


class Expm1(Function):
    """y = e^x - 1, accurate for small x;  dy/dx = e^x = y + 1."""

    def forward(self, x: Array) -> Array:
        self.y = backend.xp_of(x).expm1(x)
        return self.y

    def backward(self, gy: Array) -> Array:
        return gy * (self.y + 1)


class Log2(Function):
    """y = log2 x;  dy/dx = 1 / (x ln 2)."""

    def forward(self, x: Array) -> Array:
        self.x = x
        return backend.xp_of(x).log2(x)

    def backward(self, gy: Array) -> Array:
        return gy / (self.x * math.log(2))


class Log10(Function):
    """y = log10 x;  dy/dx = 1 / (x ln 10)."""

    def forward(self, x: Array) -> Array:
        self.x = x
        return backend.xp_of(x).log10(x)

    def backward(self, gy: Array) -> Array:
        return gy / (self.x * math.log(10))


class Reciprocal(Function):
    """y = 1 / x;  dy/dx = -1 / x^2 = -y^2."""

    def forward(self, x: Array) -> Array:
        self.y = backend.xp_of(x).reciprocal(x)
        return self.y

    def backward(self, gy: Array) -> Array:
        return gy * -(self.y * self.y)


class Rsqrt(Function):
    """y = 1 / sqrt(x);  dy/dx = -x^(-3/2) / 2 = -y^3 / 2."""

    def forward(self, x: Array) -> Array:
        xp = backend.xp_of(x)
        self.y = xp.reciprocal(xp.sqrt(x))
        return self.y

    def backward(self, gy: Array) -> Array:
        return gy * (-0.5 * self.y * self.y * self.y)


class _Step(Function):
    """A piecewise constant function: its gradient is 0 (also at the jumps, where PyTorch puts 0 too)."""

    def backward(self, gy: Array) -> Array:
        return backend.xp_of(gy).zeros_like(gy)


class Floor(_Step):
    """y = the largest integer <= x;  dy/dx = 0."""

    def forward(self, x: Array) -> Array:
        return backend.xp_of(x).floor(x)


class Ceil(_Step):
    """y = the smallest integer >= x;  dy/dx = 0."""

    def forward(self, x: Array) -> Array:
        return backend.xp_of(x).ceil(x)


class Round(_Step):
    """y = x rounded to ``decimals`` decimal places, halves to even (2.5 -> 2);  dy/dx = 0."""

    decimals: int

    def forward(self, x: Array) -> Array:
        return backend.xp_of(x).round(x, self.decimals)


class Trunc(_Step):
    """y = x with its fractional part removed (towards 0);  dy/dx = 0."""

    def forward(self, x: Array) -> Array:
        return backend.xp_of(x).trunc(x)


class Sign(_Step):
    """y = -1, 0 or 1 as x < 0, x = 0 or x > 0;  dy/dx = 0."""

    def forward(self, x: Array) -> Array:
        return backend.xp_of(x).sign(x)


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
def written(result: Tensor, out: Tensor | None) -> Tensor:
    """``result``; or, given PyTorch's ``out=``, ``out`` overwritten with its values (and returned).

    As in PyTorch, ``out=`` records no graph, so it is refused when the result requires grad; unlike
    PyTorch, ``out`` must already have the result's shape (it is not resized).
    """
    if out is None:
        return result
    if result.requires_grad:
        raise RuntimeError("out=... arguments don't support automatic differentiation, but one of the "
                           "arguments requires grad")
    if tuple(out.shape) != tuple(result.shape):
        raise RuntimeError(f"out= tensor has shape {tuple(out.shape)} but the result has shape "
                           f"{tuple(result.shape)}")
    return copy_(out, result)


def add(input: Any, other: Any, alpha: float = 1, *, out: Tensor | None = None) -> Tensor:
    """input + alpha * other."""
    scalar = tensor_and_number(input, other) or tensor_and_number(other, input)
    if scalar:
        x, c = scalar
        if isinstance(other, Tensor) and alpha != 1:  # c + alpha * x
            x = mul(x, alpha)
        return written(AddScalar.apply(x, c=c * alpha if isinstance(input, Tensor) else c), out)
    a, b = operands("add", input, other)
    return written(Add.apply(a, b if alpha == 1 else mul(b, alpha)), out)


def sub(input: Any, other: Any, alpha: float = 1, *, out: Tensor | None = None) -> Tensor:
    """input - alpha * other."""
    if scalar := tensor_and_number(input, other):
        x, c = scalar
        return written(AddScalar.apply(x, c=-(c * alpha)), out)
    if scalar := tensor_and_number(other, input):
        x, c = scalar
        return written(RSubScalar.apply(x if alpha == 1 else mul(x, alpha), c=c), out)
    a, b = operands("sub", input, other)
    return written(Sub.apply(a, b if alpha == 1 else mul(b, alpha)), out)


def mul(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    if scalar := tensor_and_number(input, other) or tensor_and_number(other, input):
        x, c = scalar
        return written(MulScalar.apply(x, c=c), out)
    return written(Mul.apply(*operands("mul", input, other)), out)


def div(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """True division; integer inputs give float32 (PyTorch's true division)."""
    if scalar := tensor_and_number(input, other):
        x, c = scalar
        return written(DivScalar.apply(x if backend.is_floating(x.dtype) else x.float(), c=c), out)
    if scalar := tensor_and_number(other, input):
        x, c = scalar
        return written(RDivScalar.apply(x if backend.is_floating(x.dtype) else x.float(), c=c), out)
    a, b = operands("div", input, other)
    if not backend.is_floating(a.dtype):
        a, b = a.float(), b.float()
    return written(Div.apply(a, b), out)


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


def sin(input: Tensor) -> Tensor:
    return Sin.apply(floating(input))


def cos(input: Tensor) -> Tensor:
    return Cos.apply(floating(input))


def tan(input: Tensor) -> Tensor:
    return Tan.apply(floating(input))


def asin(input: Tensor) -> Tensor:
    return Asin.apply(floating(input))


def acos(input: Tensor) -> Tensor:
    return Acos.apply(floating(input))


def atan(input: Tensor) -> Tensor:
    return Atan.apply(floating(input))


def sinh(input: Tensor) -> Tensor:
    return Sinh.apply(floating(input))


def cosh(input: Tensor) -> Tensor:
    return Cosh.apply(floating(input))


def log1p(input: Tensor) -> Tensor:
    return Log1p.apply(floating(input))


def expm1(input: Tensor) -> Tensor:
    return Expm1.apply(floating(input))


def log2(input: Tensor) -> Tensor:
    return Log2.apply(floating(input))


def log10(input: Tensor) -> Tensor:
    return Log10.apply(floating(input))


def reciprocal(input: Tensor) -> Tensor:
    return Reciprocal.apply(floating(input))


def rsqrt(input: Tensor) -> Tensor:
    return Rsqrt.apply(floating(input))


def square(input: Tensor) -> Tensor:
    """input * input (PyTorch's ``square`` is ``pow(input, 2)``, and so is this)."""
    return PowScalar.apply(input, c=2)


def _step(op: type[_Step], input: Tensor, **params: Any) -> Tensor:
    """A step function of a floating tensor; an integer (or bool) tensor is already integral: a copy."""
    if not backend.is_floating(input.dtype):
        return Tensor(input.array.copy())
    return op.apply(input, **params)


def floor(input: Tensor) -> Tensor:
    return _step(Floor, input)


def ceil(input: Tensor) -> Tensor:
    return _step(Ceil, input)


def round(input: Tensor, decimals: int = 0) -> Tensor:  # noqa: A001 - PyTorch's name
    """Round to the nearest integer (or to ``decimals`` places), halves to even as PyTorch."""
    return _step(Round, input, decimals=int(decimals))


def trunc(input: Tensor) -> Tensor:
    return _step(Trunc, input)


def sign(input: Tensor) -> Tensor:
    """-1, 0 or 1 for each element (an integer tensor keeps its dtype)."""
    if backend.is_floating(input.dtype):
        return Sign.apply(input)
    return Tensor(backend.xp_of(input.array).sign(input.array))


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
        xp = backend.xp_of(a.array)
        return Tensor(getattr(xp, _NUMPY_COMPARISONS[name])(a.array, b.array))

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
