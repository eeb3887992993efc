"""``Function``: the base class of every differentiable primitive.

A primitive is one small class with ``forward`` and ``backward`` side by side::

    class Mul(Function):
        '''z = x * y;  dz/dx = y, dz/dy = x.'''

        def forward(self, x, y):
            self.x, self.y = x, y          # save what backward needs
            return x * y

        def backward(self, gz):
            return gz * self.y, gz * self.x

Both work on raw arrays (NumPy or CuPy), never on tensors, so backward builds no graph.
``Mul.apply(a, b)`` unwraps the tensors, runs ``forward``, wraps the result and, when grad
mode is on and an input requires grad, records the call as the result's ``grad_fn``: the node
that the backward engine later visits.

Parameters (everything that is not a differentiable input: ``dim``, ``stride``, a number
operand ``c``) are declared as annotated class attributes, with a default when they are
optional, and passed as keyword arguments of ``apply``::

    class MulScalar(Function):
        '''z = x * c for a number c;  dz/dx = c.'''

        c: float

        def forward(self, x):
            return x * self.c

        def backward(self, gz):
            return gz * self.c

``MulScalar.apply(x, c=0.5)`` sets ``self.c``; an undeclared or missing parameter is an error.
A node derives everything else (output sizes, paddings) from its inputs' shapes and its
parameters.  An optional input (a layer's bias) is passed as ``None``: ``forward`` receives
``None`` and ``backward`` returns ``None`` for it.

Contract for ``backward(gy)``: return one gradient per input (``None`` where an input needs
none), each with the broadcast shape of the forward computation; the engine reduces broadcast
gradients to each input's shape.  A returned gradient is either a fresh array or ``gy`` itself
(or a view of it); the engine copies before it hands a shared array to a leaf's ``.grad``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from minidl import backend
from minidl.autograd.grad_mode import is_grad_enabled
from minidl.autograd.tensor import Tensor

Array = backend.Array


class Function:
    """One node of the graph: a primitive applied to some tensors."""

    #: tensors the node was applied to (``None`` once the graph is freed)
    inputs: tuple[Tensor | None, ...] | None
    #: for each input, whether backward must produce its gradient
    needs_input_grad: tuple[bool, ...]
    #: True for a primitive whose job is to change the dtype (``Cast``): exempt from the upcast check
    changes_dtype: bool = False
    #: set by ``Tensor.retain_grad``: a weak reference to the output whose ``.grad`` to keep
    retained_output: Callable[[], Any] | None = None

    def __init__(self, **params: Any) -> None:
        declared = self.parameters()
        unknown = [name for name in params if name not in declared]
        missing = [name for name in declared if name not in params and not hasattr(type(self), name)]
        if unknown or missing:
            raise TypeError(f"{type(self).__name__}: unexpected parameters {unknown}, missing {missing}; "
                            f"it declares {list(declared)}")
        for name, value in params.items():
            setattr(self, name, value)

    @classmethod
    def parameters(cls) -> tuple[str, ...]:
        """The parameters the node declares: its annotated class attributes (and its bases')."""
        names: list[str] = []
        for klass in reversed(cls.__mro__[:cls.__mro__.index(Function)]):
            names += [n for n in vars(klass).get("__annotations__", {}) if n not in names]
        return tuple(names)

    # --------------------------------------------------------------- to implement in subclasses
    def forward(self, *xs: Array) -> Array:
        """Compute the output array from the input arrays."""
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, gy: Array) -> Array | tuple[Array | None, ...]:
        """Given dL/dy, return dL/dx for every input x (vector-Jacobian product)."""
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    # ------------------------------------------------------------------------------ machinery
    @property
    def op_name(self) -> str:
        """The op's lower-case name used in error messages (``mul`` for ``Mul`` and ``MulScalar``)."""
        return _op(type(self)).lower()

    @property
    def name(self) -> str:
        """``MulBackward`` for ``Mul`` and ``MulScalar``: the name PyTorch users know from ``grad_fn``."""
        return f"{_op(type(self))}Backward"

    @classmethod
    def apply(cls, *inputs: Tensor | None, **params: Any) -> Tensor:
        """Run the primitive on tensors and record it in the graph when gradients are needed."""
        fn = cls(**params)
        given = tuple(t for t in inputs if t is not None)
        _check_same_device(fn.name, given)
        try:
            out = Tensor(fn.forward(*(None if t is None else t.data for t in inputs)))
        except (ValueError, IndexError) as error:  # NumPy/CuPy complaints, restated with the op and shapes
            shapes = ", ".join(str(tuple(t.shape)) for t in given)
            raise type(error)(f"{fn.op_name}: invalid input shapes {shapes}: {error}") from error
        if not fn.changes_dtype:
            _check_no_upcast(fn.name, given, out)
        if is_grad_enabled() and any(t.requires_grad for t in given):
            fn.inputs = inputs
            fn.needs_input_grad = tuple(t is not None and t.requires_grad for t in inputs)
            out.requires_grad = True
            out.grad_fn = fn
        return out

    def release(self) -> None:
        """Drop the inputs and everything saved for backward (called after backward)."""
        self.__dict__.clear()
        self.inputs = None

    def __repr__(self) -> str:
        return f"<{self.name}>"


def _op(cls: type[Function]) -> str:
    """The op a node class computes: its name without the operand kind ``Scalar`` (``MulScalar``: ``Mul``)."""
    return cls.__name__.removesuffix("Scalar")


def _check_same_device(op: str, inputs: tuple[Tensor, ...]) -> None:
    """A clear error when the inputs of one op live on different devices."""
    devices = {t.device for t in inputs}
    if len(devices) > 1:
        found = ", ".join(f"{tuple(x.shape)} on {x.device}" for x in inputs)
        raise RuntimeError(f"{op}: expected all tensors on the same device, got {found}")


def _check_no_upcast(op: str, inputs: tuple[Tensor, ...], out: Tensor) -> None:
    """Refuse a float32 computation whose result silently became float64."""
    dtypes = {t.dtype for t in inputs}
    if out.dtype == backend.float64 and backend.float32 in dtypes and backend.float64 not in dtypes:
        raise TypeError(f"{op}: float32 inputs produced a float64 result (accidental upcast)")
