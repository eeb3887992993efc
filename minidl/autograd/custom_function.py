"""PyTorch's custom autograd functions: ``forward(ctx, ...)`` and ``backward(ctx, ...)`` on tensors.

This is ``minidl.autograd.Function``, and a subclass of it may take either form:

* **PyTorch's form** (static methods on tensors, a ``ctx`` between them)::

      class MyExp(minidl.autograd.Function):
          @staticmethod
          def forward(ctx, x):
              y = x.exp()
              ctx.save_for_backward(y)
              return y

          @staticmethod
          def backward(ctx, grad_output):
              y, = ctx.saved_tensors
              return grad_output * y

      y = MyExp.apply(x)

  ``forward`` runs with grad mode off (its tensor operations record nothing); ``apply`` then
  records one graph node per differentiable output.  When the engine reaches it, ``backward``
  runs, also with grad mode off, with one gradient per output (zeros for an output that got
  none, as PyTorch) and returns one gradient per ``forward`` argument (None for a non-tensor or
  an input that needs none).  ``ctx.needs_input_grad``, ``ctx.mark_non_differentiable`` and
  PyTorch 2's ``setup_context(ctx, inputs, output)`` (with a ``forward`` without ``ctx``) work
  as in PyTorch.

* **minidl's form** (``forward(self, *arrays)``/``backward(self, gy)`` on arrays, parameters as
  annotated attributes), the form of every primitive of :mod:`minidl.ops`: see
  :mod:`minidl.autograd.function`.  ``apply`` passes such a class on to that base unchanged.

The form is told by ``forward``: a ``staticmethod`` is PyTorch's form.  With several outputs, a
node is recorded for each, and each calls ``backward`` with zeros for the others; by linearity the
gradients add up to PyTorch's single call (at the cost of one ``backward`` call per output).
``docs/custom-functions.md`` says when to use which form.
"""

from __future__ import annotations

import inspect
from typing import Any

from minidl import backend
from minidl.autograd import function
from minidl.autograd.grad_mode import is_grad_enabled, no_grad
from minidl.autograd.tensor import Tensor

Array = backend.Array


class FunctionCtx:
    """The ``ctx`` of a custom function: what ``forward`` leaves for ``backward``.

    Any attribute may be set on it (``ctx.scale = 2``); tensors that ``backward`` needs go through
    :meth:`save_for_backward` and come back as :attr:`saved_tensors`.
    """

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        #: for each argument of ``forward``: whether it is a tensor that requires grad
        self.needs_input_grad = needs_input_grad
        self.to_save: tuple[Tensor | None, ...] = ()
        self.non_differentiable: list[Tensor] = []

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keep ``tensors`` (inputs, outputs or intermediate values) for ``backward``."""
        self.to_save = tensors

    @property
    def saved_tensors(self) -> tuple[Tensor | None, ...]:
        """The tensors given to :meth:`save_for_backward`, in the same order."""
        return self.to_save

    def mark_non_differentiable(self, *outputs: Tensor) -> None:
        """Declare outputs (indices, masks) that get no gradient: they come out without ``grad_fn``."""
        self.non_differentiable.extend(outputs)


class Function(function.Function):
    """The base class of custom autograd functions, in PyTorch's form or in minidl's (see the module docstring)."""

    @staticmethod
    def setup_context(ctx: FunctionCtx, inputs: tuple[Any, ...], output: Any) -> None:
        """PyTorch 2's alternative to a ``ctx`` argument of ``forward``: override it to fill ``ctx``."""
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run the function on ``args`` and record it in the graph when a tensor argument requires grad."""
        if not isinstance(inspect.getattr_static(cls, "forward"), staticmethod):
            return super().apply(*args, **kwargs)  # minidl's form: forward(self, *arrays)
        return _apply_with_ctx(cls, args, kwargs)


def _apply_with_ctx(cls: type[Function], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """PyTorch's form of ``apply``: forward without grad, then one node per differentiable output."""
    recording = is_grad_enabled()
    ctx = FunctionCtx(tuple(recording and isinstance(a, Tensor) and a.requires_grad for a in args))
    with no_grad():
        if cls.setup_context is Function.setup_context:
            result = cls.forward(ctx, *args, **kwargs)
        else:
            result = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, result)
    if not any(ctx.needs_input_grad):
        return result
    outputs = result if isinstance(result, tuple) else (result,)
    inputs = tuple(a if isinstance(a, Tensor) else None for a in args)
    wrapped = tuple(_record(cls, ctx, inputs, outputs, i) for i in range(len(outputs)))
    return wrapped if isinstance(result, tuple) else wrapped[0]


def _record(cls: type[Function], ctx: FunctionCtx, inputs: tuple[Tensor | None, ...], outputs: tuple[Any, ...],
            i: int) -> Any:
    """Output ``i`` as a new tensor whose ``grad_fn`` is a :class:`CustomFunctionBackward` node; a
    non-tensor, a non-floating tensor or one marked non-differentiable comes back as it is."""
    output = outputs[i]
    if not isinstance(output, Tensor) or not backend.is_floating(output.dtype) or \
            any(output is marked for marked in ctx.non_differentiable):
        return output
    node = CustomFunctionBackward()
    node.function, node.ctx, node.output = cls, ctx, i
    node.like = [o.array if isinstance(o, Tensor) else None for o in outputs]
    node.inputs = inputs
    node.needs_input_grad = ctx.needs_input_grad
    node.saved_versions = _saved_versions(ctx.saved_tensors, inputs)
    out = Tensor(output.array, requires_grad=True)
    out._version_counter = output._version_counter  # the same memory: an edit of either is seen
    out.grad_fn = node
    return out


def _saved_versions(saved: tuple[Tensor | None, ...], inputs: tuple[Tensor | None, ...]
                    ) -> tuple[tuple[int, Any, int, tuple[int, ...], Any], ...]:
    """What ``ctx.save_for_backward`` kept, with its versions now (``Function.saved_versions``):
    indexed as the input it is, else as the output (``len(inputs)``)."""
    def index(t: Tensor) -> int:
        return next((k for k, x in enumerate(inputs) if x is t), len(inputs))
    return tuple((index(t), t._version_counter, t._version, t.shape, t.dtype) for t in saved if t is not None)


class CustomFunctionBackward(function.Function):
    """The graph node of output ``output`` of a custom function: the gradient of its inputs is the
    user's ``backward(ctx, *grads)``, called with dL/d(output) and zeros for the other outputs."""

    def backward(self, gy: Array) -> tuple[Array | None, ...]:
        xp = backend.xp_of(gy)
        grads = [None if like is None else Tensor(gy if k == self.output else xp.zeros_like(like))
                 for k, like in enumerate(self.like)]
        with no_grad():
            result = self.function.backward(self.ctx, *grads)
        result = result if isinstance(result, tuple) else (result,)
        n = len(self.inputs)
        if len(result) < n or any(g is not None for g in result[n:]):
            raise RuntimeError(f"function {self.name} returned an incorrect number of gradients "
                               f"(expected {n}, got {len(result)})")
        for g in result[:n]:
            if g is not None and not isinstance(g, Tensor):
                raise TypeError(f"function {self.name}: backward must return tensors or None, got "
                                f"{type(g).__name__}")
        return tuple(None if g is None else g.array for g in result[:n])

    @property
    def name(self) -> str:
        """``MyExpBackward`` for a custom function ``MyExp``, as PyTorch names it."""
        return f"{self.function.__name__}Backward"

    def release(self) -> None:
        """Free what backward needed (the context, the inputs), keeping the function for the name."""
        user_function = self.function
        super().release()
        self.function = user_function
