"""Every differentiable primitive, and the Tensor methods and operators that call them.

Each module holds ``Function`` subclasses (forward and backward side by side) and the small
PyTorch-named functions users call on tensors (``add``, ``sum``, ``reshape``, ``relu``...).
Importing this package attaches those functions to ``Tensor`` (``a + b``, ``x.sum(1)``,
``x.relu()``, ...): ``autograd`` sits below ``ops`` and does not know about them.  The layer
functions with argument checks (``F.linear``, ``F.conv1d``, the losses) live in
:mod:`minidl.functional`.

Levels: a class here is a graph node (a ``Function``: forward and backward on arrays); a class in
:mod:`minidl.nn` is a layer (a ``Module``).  Where both levels have a PyTorch name they share it:
``minidl.ops.activation.ReLU`` is the node that ``nn.ReLU`` (the layer) and ``F.relu`` create,
and ``grad_fn`` shows it as ``ReLUBackward``.

Primitives -- the maths a reader needs, each small enough to check by eye:

    elementwise.py   Add, Sub, Mul, Div, Neg, Pow (two tensors); AddScalar, RSubScalar, MulScalar,
                     DivScalar, RDivScalar, PowScalar, RPowScalar (a tensor and a number);
                     Exp, Log, Sqrt, Abs, Clamp, Maximum, Minimum, Where; Sin, Cos, Tan, Asin, Acos,
                     Atan, Sinh, Cosh, Log1p, Expm1, Log2, Log10, Reciprocal, Rsqrt; the steps Floor,
                     Ceil, Round, Trunc, Sign (gradient 0)
    activation.py    LeakyReLU, ELU, Tanh, GELU (silu is x * sigmoid(x), two nodes)
    reduction.py     Sum, Mean, Var, Extreme, ExtremeAlongDim
    shape.py         Reshape, Permute, Expand, Index, Cat, Stack, ConstantPad
    linalg.py        MatMul (and mm, bmm, addmm, t built on it), Norm
    split.py         split, chunk (views made by Index)
    convert.py       Cast, ToDevice, Clone
    dropout.py       Dropout

Fused conveniences -- one node for what a few primitives compute; each has ``<op>_reference``
built from primitives right above it, and ``tests/test_references.py`` checks that the two agree
(values and gradients, float64).  Why each exists:

    ``ReLU``                              speed: backward multiplies by a mask (no select)
    ``Sigmoid``, ``Softplus``             stability: e^-x and e^(beta x) never overflow
    ``Softmax``, ``LogSoftmax``,          stability: the maximum is subtracted before exp
    ``LogSumExp``
    ``Linear``                            speed: one node and one BLAS product per gradient
    ``Convolution``                       speed: im2col (two layouts), one matrix product per group
    ``MaxPool``, ``AvgPool``,             speed and memory: no stacked copy of every window,
    ``AdaptiveAvgPool``                   no mean per output
    ``Normalize``, ``BatchNorm``,         speed and memory: one node and a closed-form backward
    ``BatchNormInference``                instead of about ten nodes
    ``BinaryCrossEntropyWithLogits``,     stability: log sigmoid and log softmax are never formed
    ``CrossEntropy``,                     from exponentials; speed: one node each
    ``CrossEntropyWithProbabilities``
    ``BinaryCrossEntropy``                PyTorch's gradient (x (1 - x) bounded below); speed
    ``MSELoss``                           speed: one node, one temporary
"""

from __future__ import annotations

from typing import Any

from minidl.autograd.tensor import Tensor
from minidl.backend import promote_types
from minidl.ops import activation
from minidl.ops.activation import *  # noqa: F403 - every activation function (its __all__)
from minidl.ops.common import is_strict_promotion, set_strict_promotion, strict_promotion
from minidl.ops.convert import clone, to
from minidl.ops.elementwise import (
    abs,
    acos,
    add,
    asin,
    atan,
    ceil,
    clamp,
    cos,
    cosh,
    div,
    eq,
    exp,
    expm1,
    floor,
    ge,
    gt,
    le,
    log,
    log1p,
    log2,
    log10,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    rdiv,
    reciprocal,
    round,
    rpow,
    rsqrt,
    rsub,
    sign,
    sin,
    sinh,
    sqrt,
    square,
    sub,
    tan,
    trunc,
    where,
)
from minidl.ops.inplace import add_, clamp_, copy_, div_, fill_, mul_, neg_, setitem, sub_, zero_
from minidl.ops.linalg import addmm, bmm, matmul, mm, norm, t
from minidl.ops.reduction import amax, amin, argmax, argmin, max, mean, min, sum, var
from minidl.ops.shape import (
    cat,
    contiguous,
    expand,
    flatten,
    index,
    pad,
    permute,
    reshape,
    squeeze,
    stack,
    t_reverse,
    transpose,
    unsqueeze,
    view,
)
from minidl.ops.split import chunk, split

__all__ = [
    "abs", "add", "amax", "amin", "argmax", "argmin", "cat", "clamp", "clone", "div", "eq", "exp", "expand",
    "flatten", "ge", "gt", "le", "log", "lt", "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "ne",
    "neg", "pad", "permute", "pow", "reshape", "sqrt", "squeeze", "stack", "sub", "sum", "to", "transpose",
    "unsqueeze", "var", "where", *activation.__all__,
    "acos", "addmm", "asin", "atan", "bmm", "ceil", "chunk", "cos", "cosh", "expm1", "floor", "log10", "log1p",
    "log2", "mm", "norm", "reciprocal", "round", "rsqrt", "sign", "sin", "sinh", "split", "square", "t", "tan",
    "trunc", "is_strict_promotion", "promote_types", "set_strict_promotion", "strict_promotion",
]


def _iterate(self: Tensor) -> Any:
    """Iterate over the first dimension (each item a differentiable view)."""
    if self.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return (index(self, i) for i in range(self.shape[0]))


def _format(self: Tensor, format_spec: str) -> str:
    """``f"{loss:.4f}"``: a 0-d tensor formats as its value, as PyTorch; another only with an empty spec."""
    if self.ndim == 0:
        return format(self.item(), format_spec)
    return object.__format__(self, format_spec)


_METHODS = {
    # operators
    "__add__": add, "__radd__": add, "__sub__": sub, "__rsub__": rsub, "__mul__": mul, "__rmul__": mul,
    "__truediv__": div, "__rtruediv__": rdiv, "__neg__": neg, "__pow__": pow, "__rpow__": rpow,
    "__matmul__": matmul, "__rmatmul__": lambda self, other: matmul(other, self), "__abs__": abs,
    "__getitem__": index, "__setitem__": setitem, "__iter__": _iterate, "__format__": _format,
    "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
    # arithmetic and activations
    "add": add, "sub": sub, "mul": mul, "div": div, "neg": neg, "pow": pow, "matmul": matmul,
    "exp": exp, "log": log, "sqrt": sqrt, "abs": abs, "clamp": clamp, "clip": clamp,
    "maximum": maximum, "minimum": minimum, "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge,
    "relu": activation.relu, "sigmoid": activation.sigmoid, "tanh": activation.tanh,
    "softmax": activation.softmax, "log_softmax": activation.log_softmax, "logsumexp": activation.logsumexp,
    "sin": sin, "cos": cos, "tan": tan, "asin": asin, "acos": acos, "atan": atan, "sinh": sinh, "cosh": cosh,
    "log1p": log1p, "expm1": expm1, "log2": log2, "log10": log10, "reciprocal": reciprocal, "rsqrt": rsqrt,
    "square": square, "floor": floor, "ceil": ceil, "round": round, "trunc": trunc, "sign": sign,
    "mm": mm, "bmm": bmm, "addmm": addmm, "t": t, "norm": norm,
    # reductions
    "sum": sum, "mean": mean, "var": var, "max": max, "min": min, "amax": amax, "amin": amin,
    "argmax": argmax, "argmin": argmin,
    # shapes
    "reshape": reshape, "view": view, "flatten": flatten, "permute": permute, "transpose": transpose,
    "squeeze": squeeze, "unsqueeze": unsqueeze, "expand": expand, "split": split, "chunk": chunk,
    "expand_as": lambda self, other: expand(self, other.shape),
    "reshape_as": lambda self, other: reshape(self, other.shape),
    "view_as": lambda self, other: view(self, other.shape),
    # conversions
    "to": to, "clone": clone, "contiguous": contiguous,
    "cpu": lambda self: to(self, device="cpu"), "cuda": lambda self: to(self, device="cuda"),
    "float": lambda self: to(self, dtype="float32"), "double": lambda self: to(self, dtype="float64"),
    # in place (no graph; they bump the version counter)
    "zero_": zero_, "fill_": fill_, "copy_": copy_, "add_": add_, "sub_": sub_, "mul_": mul_, "div_": div_,
    "clamp_": clamp_, "clip_": clamp_, "neg_": neg_,
    "__iadd__": add_, "__isub__": sub_, "__imul__": mul_, "__itruediv__": div_,
}


def _install() -> None:
    """Attach the functions above to ``Tensor`` as methods (``x.sum()``) and operators."""
    for name, function in _METHODS.items():
        setattr(Tensor, name, function)
    Tensor.T = property(t_reverse, doc="All dimensions reversed (a matrix transpose for 2-D tensors).")


_install()
