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

In-place safety (version counters, as PyTorch).  ``Mul`` keeps ``x`` and ``y`` for backward;
if ``x`` is then changed in place (``x.mul_(2)``, an optimizer step, ``x[0] = 5``), backward
would silently use the new values.  So ``apply`` finds out, after ``forward``, what the node
saved: every input (and the output) whose array shares memory with an array the node keeps as
an attribute (``self.x = x``, ``self.w = w.reshape(...)``, ``self.y = <the output>``).  It
notes each one's version (:class:`~minidl.autograd.tensor.VersionCounter`), and the engine
calls :meth:`Function.check_saved_versions` before ``backward``: a changed version is PyTorch's
error "one of the variables needed for gradient computation has been modified by an inplace
operation", naming the tensor and the node.  Nothing is declared per op; the rule for a new
primitive is only: keep what backward needs as direct attributes of ``self`` (not inside a
list).  A node that keeps a derived array instead (``Clamp`` keeps a mask, not ``x``) does not
need ``x`` unchanged, and no edit of ``x`` can make its gradient wrong.  The same test finds
views: an output that shares memory with an input (``reshape``, ``x[0]``, ``permute``) shares
that input's version counter.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from minidl import backend
from minidl.autograd.grad_mode import is_grad_enabled
from minidl.autograd.tensor import Tensor, VersionCounter

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
    #: set by ``Tensor.register_hook`` on the output: hooks on the output's gradient (array in, array out)
    _backward_hooks: dict[int, Callable[[Array], Array]] | None = None
    #: what the node keeps for backward (set by ``apply``): for each such input (and the output, whose
    #: index is ``len(inputs)``), ``(index, version counter, version then, shape, dtype)``
    saved_versions: tuple[tuple[int, VersionCounter, int, tuple[int, ...], Any], ...] = ()

    def __init__(self, **params: Any) -> None:
        if params.keys() != _declared_set(type(self)):  # unknown or missing ones (or defaults used)
            _check_parameters(type(self), params, self.parameters())
        for name, value in params.items():
            setattr(self, name, value)

    @classmethod
    def parameters(cls) -> tuple[str, ...]:
        """The parameters the node declares: its annotated class attributes (and its bases')."""
        return _declared(cls)

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
        return _node_name(type(self))

    @classmethod
    def apply(cls, *inputs: Tensor | None, **params: Any) -> Tensor:
        """Run the primitive on tensors and record it in the graph when gradients are needed."""
        fn = cls(**params)
        given = [t for t in inputs if t is not None]
        if len(given) > 1:
            _check_same_device(fn, given)
        try:
            out = Tensor(fn.forward(*[None if t is None else t.array for t in inputs]))
        except (ValueError, IndexError) as error:  # NumPy/CuPy complaints, restated with the op and shapes
            shapes = ", ".join(str(tuple(t.shape)) for t in given)
            raise type(error)(f"{fn.op_name}: invalid input shapes {shapes}: {error}") from error
        if not fn.changes_dtype and out.array.dtype == backend.float64:
            _check_no_upcast(fn, given)
        _share_version_with_base(out, given)
        needs_input_grad = tuple([t is not None and t.requires_grad for t in inputs])
        if True in needs_input_grad and is_grad_enabled():
            fn.saved_versions = _saved_versions(fn, inputs, out)
            fn.inputs = inputs
            fn.needs_input_grad = needs_input_grad
            out.requires_grad = True
            out.grad_fn = fn
        return out

    def check_saved_versions(self) -> None:
        """Raise PyTorch's error if a tensor this node saved was modified in place since ``forward``."""
        for index, counter, version, shape, dtype in self.saved_versions:
            if counter.version != version:
                role = f"input {index}" if index < len(self.inputs) else "output 0"
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: [{dtype} tensor of shape {list(shape)}], which is {role} of {_op(type(self))}, "
                    f"is at version {counter.version}; expected version {version} instead. Hint: {self.name} "
                    "needs its value from the forward pass; modify it after backward, or use an out-of-place "
                    "operation (x = x * 2 instead of x.mul_(2))")

    def release(self) -> None:
        """Drop the inputs and everything saved for backward (called after backward)."""
        self.__dict__.clear()
        self.inputs = None

    @property
    def next_functions(self) -> tuple[tuple[Function | None, int], ...]:
        """The nodes that made this node's inputs, as PyTorch's ``grad_fn.next_functions``:
        ``(node, 0)`` per input; for a leaf that requires grad an :class:`AccumulateGrad`, for a
        tensor that needs no gradient (or a missing input) ``None``."""
        return tuple((_next_node(t), 0) for t in self.inputs or ())

    def __repr__(self) -> str:
        return f"<{self.name}>"


class AccumulateGrad:
    """Where a leaf's gradient ends, as PyTorch's ``AccumulateGrad`` node in ``next_functions``:
    ``variable`` is the leaf.  minidl's engine adds into ``leaf.grad`` directly; this object
    only names that step when a graph is inspected."""

    next_functions: tuple = ()

    def __init__(self, variable: Any) -> None:
        self.variable = variable

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


def _next_node(t: Any) -> Function | AccumulateGrad | None:
    """The node a gradient for input ``t`` flows into (see ``Function.next_functions``)."""
    if t is None or not t.requires_grad:
        return None
    return t.grad_fn if t.grad_fn is not None else AccumulateGrad(t)


def _op(cls: type[Function]) -> str:
    """The op a node class computes: its name without the operand kind ``Scalar`` (``MulScalar``: ``Mul``)."""
    return cls.__name__.removesuffix("Scalar")


def shares_memory(a: Array, b: Array) -> bool:
    """Whether arrays ``a`` and ``b`` may overlap in memory.

    The same array, or a view and something it may view (``may_share_memory`` compares the
    memory bounds, without scanning elements).  Two different arrays that both own their memory
    (``base`` None) never overlap, which settles most pairs without the call.
    """
    if a is b:
        return True
    if a.base is None and b.base is None:
        return False
    return bool(backend.xp_of(a).may_share_memory(a, b))


def _share_version_with_base(out: Tensor, inputs: list[Tensor]) -> None:
    """A view shares the version counter of the tensor whose memory it shows (PyTorch's rule):
    an in-place change through either is a change of both.  (An output that owns its memory,
    ``base`` None, can alias an input only by being that input's array.)"""
    data = out.array
    for t in inputs:
        if data is t.array or (data.base is not None and shares_memory(data, t.array)):
            out._version_counter = t._version_counter
            return


def _saved_versions(fn: Function, inputs: tuple[Tensor | None, ...],
                    out: Tensor) -> tuple[tuple[int, VersionCounter, int, tuple[int, ...], Any], ...]:
    """The inputs and the output (index ``len(inputs)``) whose memory ``fn`` keeps in an attribute
    after ``forward``, each with its version now: ``Function.saved_versions``."""
    array_type = backend.xp_of(out.array).ndarray
    kept = [value for value in vars(fn).values() if isinstance(value, array_type)]
    if not kept:
        return ()
    saved = []
    for index, t in enumerate((*inputs, out)):
        if t is None:
            continue
        for a in kept:
            if shares_memory(a, t.array):
                saved.append((index, t._version_counter, t._version_counter.version, t.array.shape, t.array.dtype))
                break
    return tuple(saved)


def _check_same_device(fn: Function, inputs: list[Tensor]) -> None:
    """A clear error when the inputs of one op live on different devices."""
    devices = {t.device for t in inputs}
    if len(devices) > 1:
        found = ", ".join(f"{tuple(x.shape)} on {x.device}" for x in inputs)
        raise RuntimeError(f"{fn.name}: expected all tensors on the same device, got {found}")


def _check_no_upcast(fn: Function, inputs: list[Tensor]) -> None:
    """Refuse a float32 computation whose result (float64, checked by the caller) silently widened."""
    dtypes = {t.array.dtype for t in inputs}
    if backend.float32 in dtypes and backend.float64 not in dtypes:
        raise TypeError(f"{fn.name}: float32 inputs produced a float64 result (accidental upcast)")


@functools.cache
def _node_name(cls: type[Function]) -> str:
    """``Function.name``, computed once per class (the engine names every node it runs)."""
    return f"{_op(cls)}Backward"


@functools.cache
def _declared(cls: type[Function]) -> tuple[str, ...]:
    """``cls.parameters()``: the annotated class attributes of ``cls`` and its bases up to ``Function``."""
    names: list[str] = []
    for klass in reversed(cls.__mro__[:cls.__mro__.index(Function)]):
        names += [n for n in vars(klass).get("__annotations__", {}) if n not in names]
    return tuple(names)


@functools.cache
def _declared_set(cls: type[Function]) -> frozenset[str]:
    return frozenset(_declared(cls))


def _check_parameters(cls: type[Function], params: dict[str, Any], declared: tuple[str, ...]) -> None:
    """A TypeError naming what is unknown or missing when ``params`` do not fit what ``cls`` declares
    (a missing one may have a default: a class attribute)."""
    unknown = [name for name in params if name not in declared]
    missing = [name for name in declared if name not in params and not hasattr(cls, name)]
    if unknown or missing:
        raise TypeError(f"{cls.__name__}: unexpected parameters {unknown}, missing {missing}; "
                        f"it declares {list(declared)}")
