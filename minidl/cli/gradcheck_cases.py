"""The catalogue of ``minidl gradcheck``: one or more small float64 cases per differentiable primitive.

A :class:`Case` names the primitive it checks (a ``Function`` subclass of :mod:`minidl.ops`), a
function built on the public API that reaches that primitive, and a maker of its inputs drawn in
the primitive's valid domain: positive values for ``log``/``sqrt``, values kept away from the kinks
of ``relu``/``abs``/``clamp``, distinct values for max and max pooling (so that a perturbation of
``eps`` never moves the argmax), a fixed mask for dropout.  In what a maker returns, a floating
NumPy array becomes a float64 tensor that requires grad; anything else (an int, a bool or integer
tensor, a constant tensor) is passed to the function as it is.

:func:`concrete_ops` lists every primitive that must have a case; the test suite checks that
:data:`CASES` covers all of them, so a new primitive cannot be skipped silently.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import minidl
import minidl.ops
from minidl import functional as F
from minidl.autograd.function import Function
from minidl.ops.activation import (
    ELU,
    GELU,
    LeakyReLU,
    LogSoftmax,
    LogSumExp,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)
from minidl.ops.conv import Convolution
from minidl.ops.convert import Cast, Clone, ToDevice
from minidl.ops.dropout import Dropout
from minidl.ops.elementwise import (
    Abs,
    Acos,
    Add,
    AddScalar,
    Asin,
    Atan,
    Ceil,
    Clamp,
    Cos,
    Cosh,
    Div,
    DivScalar,
    Exp,
    Expm1,
    Floor,
    Log,
    Log1p,
    Log2,
    Log10,
    Maximum,
    Minimum,
    Mul,
    MulScalar,
    Neg,
    Pow,
    PowScalar,
    RDivScalar,
    Reciprocal,
    Round,
    RPowScalar,
    Rsqrt,
    RSubScalar,
    Sign,
    Sin,
    Sinh,
    Sqrt,
    Sub,
    Tan,
    Trunc,
    Where,
)
from minidl.ops.linalg import MatMul, Norm
from minidl.ops.linear import Linear
from minidl.ops.loss import (
    BinaryCrossEntropy,
    BinaryCrossEntropyWithLogits,
    CrossEntropy,
    CrossEntropyWithProbabilities,
    MSELoss,
)
from minidl.ops.normalization import BatchNorm, BatchNormInference, Normalize
from minidl.ops.pool import AdaptiveAvgPool, AvgPool, MaxPool
from minidl.ops.reduction import Extreme, ExtremeAlongDim, Mean, Sum, Var
from minidl.ops.shape import Cat, ConstantPad, Expand, Index, Permute, Reshape, Stack

Maker = Callable[[np.random.Generator], list[Any]]


@dataclass(frozen=True)
class Case:
    """One gradient check: ``func(*inputs)`` must reach the primitive ``op``."""

    op: type[Function]
    label: str
    func: Callable[..., Any]
    make: Maker
    eps: float = 1e-6
    atol: float = 1e-5
    rtol: float = 1e-3

    @property
    def name(self) -> str:
        """The primitive's class name (``Convolution``): what ``--op`` matches, with the label."""
        return self.op.__name__


def concrete_ops() -> list[type[Function]]:
    """Every ``Function`` subclass defined in a module of :mod:`minidl.ops` that has its own ``forward``
    (shared bases such as ``_Loss`` do not), found by walking ``Function.__subclasses__()``."""
    for info in pkgutil.iter_modules(minidl.ops.__path__):  # make sure every ops module is imported
        importlib.import_module(f"minidl.ops.{info.name}")
    found, todo = [], list(Function.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("minidl.ops.") and cls.forward is not Function.forward and cls not in found:
            found.append(cls)
    return sorted(found, key=lambda cls: (cls.__module__, cls.__name__))


# ------------------------------------------------------------------------------ input makers
def normal(*shape: int) -> Maker:
    return lambda rng: [rng.standard_normal(shape)]


def normals(*shapes: tuple[int, ...]) -> Maker:
    """One standard normal array per shape."""
    return lambda rng: [rng.standard_normal(shape) for shape in shapes]


def uniform(low: float, high: float, *shape: int) -> Maker:
    return lambda rng: [rng.uniform(low, high, shape)]


def avoiding(rng: np.random.Generator, shape: tuple[int, ...], kinks: tuple[float, ...] = (0.0,),
             low: float = -1.0, high: float = 1.0, margin: float = 0.05) -> np.ndarray:
    """Uniform values in [low, high] at least ``margin`` away from every kink."""
    x = rng.uniform(low, high, shape)
    for _ in range(1000):
        near = np.zeros(shape, dtype=bool)
        for k in kinks:
            near |= np.abs(x - k) < margin
        if not near.any():
            return x
        x[near] = rng.uniform(low, high, int(near.sum()))
    raise RuntimeError("avoiding: could not draw values away from the kinks")


def distinct(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Values in [-1, 1) at least 2 / size apart (a shuffled grid plus a little jitter): no near-ties."""
    n = int(np.prod(shape))
    grid = (rng.permutation(n) * 2.0 / n - 1.0) + rng.uniform(0, 0.5 / n, n)
    return grid.reshape(shape)


def both(first: Maker, second: Maker) -> Maker:
    return lambda rng: first(rng) + second(rng)


def _constant(values: np.ndarray) -> minidl.Tensor:
    """A float64 tensor that does not require grad."""
    return minidl.tensor(values, dtype=minidl.float64)


# --------------------------------------------------------------------------------- the cases
def _elementwise() -> list[Case]:
    return [
        Case(Add, "x + y, y broadcast", lambda x, y: x + y, both(normal(3, 4), normal(4))),
        Case(Sub, "x - y, x broadcast", lambda x, y: x - y, both(normal(1, 4), normal(3, 4))),
        Case(Mul, "x * y, broadcast", lambda x, y: x * y, both(normal(3, 1), normal(1, 4))),
        Case(Div, "x / y, y in [0.5, 2]", lambda x, y: x / y, both(normal(3, 4), uniform(0.5, 2, 3, 4))),
        Case(Neg, "-x", lambda x: -x, normal(3, 4)),
        Case(Pow, "x ** y, x > 0", lambda x, y: x**y, both(uniform(0.5, 2, 3, 4), normal(3, 4))),
        Case(AddScalar, "x + 2.5", lambda x: x + 2.5, normal(3, 4)),
        Case(AddScalar, "x - 1.5", lambda x: x - 1.5, normal(3, 4)),
        Case(RSubScalar, "1.5 - x (rsub)", lambda x: 1.5 - x, normal(3, 4)),
        Case(MulScalar, "0.5 * x", lambda x: 0.5 * x, normal(3, 4)),
        Case(DivScalar, "x / 4", lambda x: x / 4, normal(3, 4)),
        Case(RDivScalar, "2 / x (rdiv)", lambda x: 2.0 / x, uniform(0.5, 2, 5)),
        Case(PowScalar, "x ** 3", lambda x: x**3, normal(3, 4)),
        Case(PowScalar, "x ** 0.5, x > 0", lambda x: x**0.5, uniform(0.5, 2, 3, 4)),
        Case(RPowScalar, "2 ** x (rpow)", lambda x: 2.0**x, normal(5)),
        Case(Exp, "exp(x)", minidl.exp, normal(3, 4)),
        Case(Log, "log(x), x > 0", minidl.log, uniform(0.2, 3, 3, 4)),
        Case(Sqrt, "sqrt(x), x > 0", minidl.sqrt, uniform(0.2, 3, 3, 4)),
        Case(Abs, "abs(x), x away from 0", minidl.abs, lambda rng: [avoiding(rng, (3, 4))]),
        Case(Clamp, "clamp(x, -0.5, 0.5)", lambda x: minidl.clamp(x, -0.5, 0.5),
             lambda rng: [avoiding(rng, (3, 4), (-0.5, 0.5))]),
        Case(Clamp, "clamp(x, min=0)", lambda x: minidl.clamp(x, min=0.0), lambda rng: [avoiding(rng, (3, 4))]),
        Case(Maximum, "maximum(x, y), no ties", minidl.maximum,
             lambda rng: (lambda x: [x, x + avoiding(rng, x.shape, low=-0.5, high=0.5, margin=0.1)])(
                 rng.standard_normal((3, 4)))),
        Case(Minimum, "minimum(x, y), y broadcast, no ties", minidl.minimum,
             lambda rng: [avoiding(rng, (3, 4), (-0.3, 0.2, 0.6)), np.array([-0.3, 0.2, 0.6, 0.2])]),
        Case(Where, "where(c, x, y), y broadcast",
             lambda c, x, y: minidl.where(c, x, y),
             lambda rng: [minidl.tensor(rng.random((3, 4)) < 0.5), rng.standard_normal((3, 4)),
                          rng.standard_normal((1, 4))]),
        Case(Sin, "sin(x)", minidl.sin, normal(3, 4)),
        Case(Cos, "cos(x)", minidl.cos, normal(3, 4)),
        Case(Tan, "tan(x), |x| < 1.2", minidl.tan, uniform(-1.2, 1.2, 3, 4)),
        Case(Asin, "asin(x), |x| < 0.9", minidl.asin, uniform(-0.9, 0.9, 3, 4)),
        Case(Acos, "acos(x), |x| < 0.9", minidl.acos, uniform(-0.9, 0.9, 3, 4)),
        Case(Atan, "atan(x)", minidl.atan, lambda rng: [2 * rng.standard_normal((3, 4))]),
        Case(Sinh, "sinh(x)", minidl.sinh, normal(3, 4)),
        Case(Cosh, "cosh(x)", minidl.cosh, normal(3, 4)),
        Case(Log1p, "log1p(x), x > -0.8", minidl.log1p, uniform(-0.8, 3, 3, 4)),
        Case(Expm1, "expm1(x)", minidl.expm1, normal(3, 4)),
        Case(Log2, "log2(x), x > 0", minidl.log2, uniform(0.2, 3, 3, 4)),
        Case(Log10, "log10(x), x > 0", minidl.log10, uniform(0.2, 3, 3, 4)),
        Case(Reciprocal, "reciprocal(x), |x| in [0.5, 2]", minidl.reciprocal,
             lambda rng: [rng.uniform(0.5, 2, (3, 4)) * rng.choice([-1, 1], (3, 4))]),
        Case(Rsqrt, "rsqrt(x), x > 0", minidl.rsqrt, uniform(0.2, 3, 3, 4)),
        Case(Floor, "floor(x), away from integers (gradient 0)", minidl.floor,
             lambda rng: [avoiding(rng, (3, 4), (-2, -1, 0, 1, 2), low=-2, high=2)]),
        Case(Ceil, "ceil(x), away from integers (gradient 0)", minidl.ceil,
             lambda rng: [avoiding(rng, (3, 4), (-2, -1, 0, 1, 2), low=-2, high=2)]),
        Case(Round, "round(x, decimals=1), away from the halves (gradient 0)",
             lambda x: minidl.round(x, decimals=1),
             lambda rng: [avoiding(rng, (3, 4), tuple(np.arange(-0.95, 1, 0.1)), margin=0.02)]),
        Case(Trunc, "trunc(x), away from integers (gradient 0)", minidl.trunc,
             lambda rng: [avoiding(rng, (3, 4), (-2, -1, 0, 1, 2), low=-2, high=2)]),
        Case(Sign, "sign(x), away from 0 (gradient 0)", minidl.sign, lambda rng: [avoiding(rng, (3, 4))]),
    ]


def _activations() -> list[Case]:
    return [
        Case(ReLU, "relu(x), x away from 0", minidl.relu, lambda rng: [avoiding(rng, (3, 4))]),
        Case(LeakyReLU, "leaky_relu(x, 0.1)", lambda x: F.leaky_relu(x, 0.1),
             lambda rng: [avoiding(rng, (3, 4))]),
        Case(ELU, "elu(x, alpha=0.7), x away from 0", lambda x: F.elu(x, 0.7),
             lambda rng: [avoiding(rng, (3, 4), low=-3, high=2)]),
        Case(Sigmoid, "sigmoid(x)", minidl.sigmoid, lambda rng: [3 * rng.standard_normal((3, 4))]),
        Case(Tanh, "tanh(x)", minidl.tanh, normal(3, 4)),
        Case(Softplus, "softplus(x)", F.softplus, lambda rng: [3 * rng.standard_normal((3, 4))]),
        Case(Softplus, "softplus(x, beta=2, threshold=2)", lambda x: F.softplus(x, beta=2.0, threshold=2.0),
             lambda rng: [avoiding(rng, (3, 4), (1.0,), low=-2, high=2)]),
        Case(GELU, "gelu(x)", F.gelu, lambda rng: [2 * rng.standard_normal((3, 4))]),
        Case(GELU, "gelu(x, approximate='tanh')", lambda x: F.gelu(x, approximate="tanh"),
             lambda rng: [2 * rng.standard_normal((3, 4))]),
        Case(Softmax, "softmax(x, dim=1)", lambda x: minidl.softmax(x, 1), normal(2, 3, 4)),
        Case(Softmax, "softmax(x, dim=0)", lambda x: minidl.softmax(x, 0), normal(3, 4)),
        Case(LogSoftmax, "log_softmax(x, dim=-1)", lambda x: minidl.log_softmax(x, -1), normal(3, 4)),
        Case(LogSumExp, "logsumexp(x, dim=1)", lambda x: minidl.logsumexp(x, 1), normal(3, 4)),
        Case(LogSumExp, "logsumexp(x, dim=(0, 2), keepdim)", lambda x: minidl.logsumexp(x, (0, 2), keepdim=True),
             normal(2, 3, 4)),
    ]


def _reductions() -> list[Case]:
    return [
        Case(Sum, "sum(x)", lambda x: x.sum(), normal(3, 4)),
        Case(Sum, "sum(x, dim=(0, 2), keepdim)", lambda x: x.sum((0, 2), keepdim=True), normal(2, 3, 4)),
        Case(Mean, "mean(x, dim=1)", lambda x: x.mean(1), normal(3, 4)),
        Case(Var, "var(x, dim=1)", lambda x: x.var(1), normal(3, 5)),
        Case(Var, "var(x), correction 0", lambda x: minidl.var(x, correction=0), normal(3, 4)),
        Case(Extreme, "max(x), distinct values", lambda x: x.max(), lambda rng: [distinct(rng, 3, 4)]),
        Case(Extreme, "amin(x, dim=(0, 2)), distinct values", lambda x: x.amin((0, 2)),
             lambda rng: [distinct(rng, 2, 3, 4)]),
        Case(ExtremeAlongDim, "max(x, dim=1).values", lambda x: x.max(1).values, lambda rng: [distinct(rng, 3, 4)]),
        Case(ExtremeAlongDim, "min(x, dim=0, keepdim).values", lambda x: x.min(0, keepdim=True).values,
             lambda rng: [distinct(rng, 3, 4)]),
    ]


def _shapes() -> list[Case]:
    return [
        Case(Reshape, "reshape(x, 4, 6)", lambda x: x.reshape(4, 6), normal(2, 3, 4)),
        Case(Reshape, "flatten(x, 1)", lambda x: x.flatten(1), normal(2, 3, 4)),
        Case(Permute, "permute(x, 2, 0, 1)", lambda x: x.permute(2, 0, 1), normal(2, 3, 4)),
        Case(Permute, "transpose(x, 0, 1)", lambda x: x.transpose(0, 1), normal(3, 4)),
        Case(Expand, "expand(x, 2, 3, 4)", lambda x: x.expand(2, 3, 4), normal(3, 1)),
        Case(Index, "x[1:, ::2]", lambda x: x[1:, ::2], normal(3, 5)),
        Case(Index, "x[[0, 2, 0]] (repeated rows)", lambda x: x[minidl.tensor([0, 2, 0])], normal(3, 4)),
        Case(Index, "x[mask]", lambda x: x[x.detach() > 0], normal(3, 4)),
        Case(Index, "pad(x, (2, 1), 'reflect')", lambda x: F.pad(x, (2, 1), mode="reflect"), normal(2, 5)),
        Case(Cat, "cat([x, y, z], dim=1)", lambda x, y, z: minidl.cat([x, y, z], 1),
             normals((2, 1), (2, 2), (2, 3))),
        Case(Stack, "stack([x, y], dim=1)", lambda x, y: minidl.stack([x, y], 1), both(normal(2, 3), normal(2, 3))),
        Case(ConstantPad, "pad(x, (1, 2, -1, 1), value=0.5)", lambda x: F.pad(x, (1, 2, -1, 1), value=0.5),
             normal(3, 4)),
    ]


def _products() -> list[Case]:
    return [
        Case(MatMul, "(3, 4) @ (4, 5)", lambda a, b: a @ b, both(normal(3, 4), normal(4, 5))),
        Case(MatMul, "batched, broadcast", lambda a, b: a @ b, both(normal(2, 3, 4), normal(4, 2))),
        Case(MatMul, "matrix @ vector", lambda a, b: a @ b, both(normal(3, 4), normal(4))),
        Case(Norm, "norm(x), Euclidean", minidl.norm, normal(3, 4)),
        Case(Norm, "norm(x, p=3, dim=1, keepdim)", lambda x: minidl.norm(x, 3, 1, keepdim=True),
             lambda rng: [avoiding(rng, (3, 4))]),
        Case(Linear, "linear(x, W, b)", F.linear, normals((2, 3, 4), (5, 4), (5,))),
        Case(Linear, "linear(x, W), no bias", F.linear, both(normal(3, 4), normal(2, 4))),
        Case(Convolution, "conv1d, stride 2, padding 1, dilation 2",
             lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2), normals((2, 3, 9), (4, 3, 3), (4,))),
        Case(Convolution, "conv1d, unbatched, padding 'same', no bias",
             lambda x, w: F.conv1d(x, w, padding="same"), both(normal(2, 6), normal(3, 2, 4))),
        Case(Convolution, "conv2d, groups 2, padding 1", lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=2),
             normals((2, 4, 4, 4), (4, 2, 3, 3), (4,))),
        Case(Convolution, "conv2d, stride (2, 1), no bias", lambda x, w: F.conv2d(x, w, stride=(2, 1)),
             both(normal(1, 2, 5, 4), normal(3, 2, 2, 3))),
        Case(Convolution, "conv1d, channels last (C/G >= 2P), groups 2, padding 1",
             lambda x, w, b: F.conv1d(x, w, b, padding=1, groups=2), normals((2, 12, 3), (4, 6, 3), (4,))),
        Case(Convolution, "conv2d, channels last, stride 2, padding 1, no bias",
             lambda x, w: F.conv2d(x, w, stride=2, padding=1), both(normal(1, 8, 3, 3), normal(3, 8, 2, 2))),
    ]


def _pooling() -> list[Case]:
    return [
        Case(MaxPool, "max_pool1d(x, 3, stride 2, padding 1)", lambda x: F.max_pool1d(x, 3, 2, padding=1),
             lambda rng: [distinct(rng, 2, 3, 8)]),
        Case(MaxPool, "max_pool2d(x, 2), dilation 2, ceil_mode", lambda x: F.max_pool2d(
            x, 2, dilation=2, ceil_mode=True), lambda rng: [distinct(rng, 1, 2, 5, 6)]),
        Case(AvgPool, "avg_pool1d(x, 3, stride 2, padding 1)", lambda x: F.avg_pool1d(x, 3, 2, padding=1),
             normal(2, 3, 8)),
        Case(AvgPool, "avg_pool2d(x, 2), ceil_mode, exclude pad", lambda x: F.avg_pool2d(
            x, 2, padding=1, ceil_mode=True, count_include_pad=False), normal(1, 2, 5, 4)),
        Case(AdaptiveAvgPool, "adaptive_avg_pool1d(x, 3)", lambda x: F.adaptive_avg_pool1d(x, 3), normal(2, 3, 7)),
        Case(AdaptiveAvgPool, "adaptive_avg_pool2d(x, (2, 3))", lambda x: F.adaptive_avg_pool2d(x, (2, 3)),
             normal(1, 2, 5, 4)),
    ]


def _normalisation() -> list[Case]:
    def batch_norm_running(rng: np.random.Generator) -> list[Any]:
        return [rng.standard_normal((4, 3, 2)), _constant(rng.standard_normal(3)), _constant(rng.uniform(0.5, 2, 3)),
                rng.uniform(0.5, 1.5, 3), rng.standard_normal(3)]

    return [
        Case(BatchNorm, "batch_norm, training, running stats", lambda x, m, v, w, b: F.batch_norm(
            x, m, v, w, b, training=True), batch_norm_running),
        Case(BatchNorm, "batch_norm, training, 2-D input", lambda x, w, b: F.batch_norm(
            x, None, None, w, b, training=True), lambda rng: [rng.standard_normal((5, 3)), rng.uniform(0.5, 1.5, 3),
                                                              rng.standard_normal(3)]),
        Case(BatchNormInference, "batch_norm, evaluation", lambda x, m, v, w, b: F.batch_norm(
            x, m, v, w, b, training=False), batch_norm_running),
        Case(Normalize, "layer_norm(x, (3, 4))", lambda x, w, b: F.layer_norm(x, (3, 4), w, b),
             lambda rng: [rng.standard_normal((2, 3, 4)), rng.uniform(0.5, 1.5, (3, 4)), rng.standard_normal((3, 4))]),
        Case(Normalize, "layer_norm(x, 5), no affine", lambda x: F.layer_norm(x, 5), normal(3, 5)),
    ]


def _regularisation() -> list[Case]:
    def fixed_mask(rng: np.random.Generator) -> list[Any]:
        p = 0.35
        return [rng.standard_normal((4, 5)), _constant((rng.random((4, 5)) >= p) / (1 - p))]

    return [
        Case(Dropout, "dropout, p 0.35, a fixed mask",
             lambda x, mask: Dropout.apply(x, mask=mask.array), fixed_mask),
        Case(Cast, "x.float() (float32 output: eps 1e-2)", lambda x: x.float(), normal(3, 4), eps=1e-2, atol=1e-4),
        Case(ToDevice, "to the same device", lambda x: ToDevice.apply(x, device=x.device), normal(3, 4)),
        Case(Clone, "clone(x) * x", lambda x: minidl.clone(x) * x, normal(3, 4)),
    ]


def _losses() -> list[Case]:
    def logits_targets(rng: np.random.Generator) -> list[Any]:
        return [2 * rng.standard_normal((3, 4)), rng.random((3, 4))]

    def probabilities_targets(rng: np.random.Generator) -> list[Any]:
        return [rng.uniform(0.1, 0.9, (3, 4)), rng.random((3, 4))]

    def class_targets(rng: np.random.Generator) -> list[Any]:
        return [rng.standard_normal((5, 4)), minidl.tensor(np.array([0, 3, 1, -100, 3]))]

    def class_targets_2d(rng: np.random.Generator) -> list[Any]:
        return [rng.standard_normal((2, 3, 2)), minidl.tensor(rng.integers(0, 3, (2, 2)))]

    weights = _constant(np.array([0.5, 1.0, 2.0, 1.5]))
    return [
        Case(BinaryCrossEntropyWithLogits, "bce_with_logits, mean", F.binary_cross_entropy_with_logits,
             logits_targets),
        Case(BinaryCrossEntropyWithLogits, "bce_with_logits, weight and pos_weight, none",
             lambda x, t: F.binary_cross_entropy_with_logits(x, t, weights, pos_weight=weights * 2, reduction="none"),
             logits_targets),
        Case(BinaryCrossEntropy, "bce, mean", F.binary_cross_entropy, probabilities_targets),
        Case(BinaryCrossEntropy, "bce, weight, sum", lambda x, t: F.binary_cross_entropy(x, t, weights,
                                                                                         reduction="sum"),
             probabilities_targets),
        Case(MSELoss, "mse_loss, mean", F.mse_loss, both(normal(3, 4), normal(3, 4))),
        Case(MSELoss, "mse_loss, none", lambda x, t: F.mse_loss(x, t, reduction="none"),
             both(normal(3, 4), normal(3, 4))),
        Case(CrossEntropy, "cross_entropy, indices, weight, ignore_index",
             lambda x, t: F.cross_entropy(x, t, weights), class_targets),
        Case(CrossEntropy, "cross_entropy, indices, smoothing 0.2, sum",
             lambda x, t: F.cross_entropy(x, t, reduction="sum", label_smoothing=0.2), class_targets),
        Case(CrossEntropy, "cross_entropy, (N, C, d) indices, none",
             lambda x, t: F.cross_entropy(x, t, reduction="none"), class_targets_2d),
        Case(CrossEntropyWithProbabilities, "cross_entropy, probabilities, mean", F.cross_entropy,
             both(normal(3, 4), lambda rng: [rng.dirichlet(np.ones(4), 3)])),
        Case(CrossEntropyWithProbabilities, "cross_entropy, probabilities, weight, smoothing 0.1",
             lambda x, t: F.cross_entropy(x, t, weights, label_smoothing=0.1),
             both(normal(3, 4), lambda rng: [rng.dirichlet(np.ones(4), 3)])),
    ]


#: every case, grouped by family: elementwise, activations, reductions, shapes, products, pooling, ...
CASES: tuple[Case, ...] = (*_elementwise(), *_activations(), *_reductions(), *_shapes(), *_products(),
                           *_pooling(), *_normalisation(), *_regularisation(), *_losses())
