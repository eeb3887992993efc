"""``Tensor``: an array plus what autograd needs to know about it.

A tensor holds

* ``array`` -- the NumPy (CPU) or CuPy (CUDA) array with the values (``data``, as in PyTorch,
  is a tensor: the same values without the history);
* ``requires_grad`` -- whether gradients should flow to it;
* ``grad_fn`` -- the ``Function`` node that produced it (``None`` for a leaf);
* ``grad`` -- the accumulated gradient, a ``Tensor`` (leaves, or after ``retain_grad()``);
* ``_version`` -- how many times its memory was modified in place (see :class:`VersionCounter`);
* ``_backward_hooks`` -- a leaf's gradient hooks (``register_hook``; an intermediate tensor's
  hooks live on its ``grad_fn``, where the engine meets its gradient).

Arithmetic, reductions and the other operations are attached as methods by ``minidl.ops``
(``a + b`` calls ``ops.add``), so this module stays about the graph, not the maths.
"""

from __future__ import annotations

import numbers
import weakref
from collections.abc import Callable
from typing import Any

import numpy

from minidl import backend
from minidl.autograd import engine, printing
from minidl.autograd.hooks import RemovableHandle, add_hook

Array = backend.Array


class VersionCounter:
    """How many in-place modifications the memory of a tensor has seen, as PyTorch's ``_version``.

    A tensor and every view of its memory (``x[0]``, ``x.t()``, ``x.view(3, 4)``, ``x.detach()``)
    share one counter, so writing through any of them bumps the version all of them report.
    Every in-place operation (``add_``, ``mul_``, ``x[i] = v``, ``x += y``...) calls :meth:`bump`;
    a graph node notes the version of each tensor it saved for backward, and backward refuses to
    run if the version has changed since (``Function.check_saved_versions``).
    """

    __slots__ = ("version",)

    def __init__(self) -> None:
        self.version = 0

    def bump(self) -> None:
        """Record one in-place modification."""
        self.version += 1


class Tensor:
    """A multi-dimensional array that records the operations applied to it."""

    __slots__ = ("array", "requires_grad", "grad_fn", "grad", "_version_counter", "_backward_hooks", "__weakref__")
    __array_ufunc__ = None  # make ``numpy_array * tensor`` call Tensor.__rmul__

    def __init__(self, *data: Any, requires_grad: bool = False) -> None:
        """``Tensor(array)`` wraps a NumPy or CuPy array without copying it: what every op does.

        PyTorch's legacy forms make float32 tensors on the default device: ``Tensor([[1, 2]])``
        copies the values, ``Tensor(2, 3)`` (or ``Tensor(Size([2, 3]))``) is uninitialised with
        that shape, ``Tensor()`` is empty.  ``minidl.tensor(...)`` is the factory to prefer.
        """
        array = data[0] if len(data) == 1 and isinstance(data[0], backend.ARRAY_TYPES) else _legacy_array(data)
        if isinstance(array, numpy.generic):  # NumPy reductions return scalars, not 0-d arrays
            array = numpy.asarray(array)
        self.array = array
        self.requires_grad = requires_grad
        self.grad_fn = None
        self.grad: Tensor | None = None
        self._version_counter = VersionCounter()
        self._backward_hooks: dict[int, Any] | None = None

    @property
    def data(self) -> Tensor:
        """As PyTorch's ``.data``: a tensor with the same memory but no history (``requires_grad``
        false) and its own version counter, so edits through it are not checked by autograd
        (``p.data.add_(...)``); assigning a tensor to it replaces this tensor's values."""
        return Tensor(self.array)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data: expected a Tensor, got {type(value).__name__}; assign to .array for a raw array")
        self.array = value.array

    # ------------------------------------------------------------------------- properties
    @property
    def shape(self) -> backend.Size:
        return backend.Size(self.array.shape)

    @property
    def dtype(self) -> backend.dtype:
        np_dtype = self.array.dtype
        return backend.DTYPES.get(np_dtype) or backend.dtype(np_dtype)

    @property
    def device(self) -> str:
        return backend.device_of(self.array)

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (not by an op that recorded a graph)."""
        return self.grad_fn is None

    @property
    def _version(self) -> int:
        """How many times this tensor's memory (shared with its views) was modified in place."""
        return self._version_counter.version

    def is_contiguous(self) -> bool:
        """Whether the elements lie in memory in row-major order without gaps (as PyTorch, the
        strides of size-1 dimensions do not matter).  ``view`` needs a layout like this."""
        return bool(self.array.flags.c_contiguous)

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return int(self.array.size)

    def size(self, dim: int | None = None) -> backend.Size | int:
        return self.shape if dim is None else self.shape[dim]

    # ------------------------------------------------------------------------------ autograd
    def backward(self, gradient: Tensor | Array | None = None, retain_graph: bool = False) -> None:
        """Compute d(self)/d(leaf) for every leaf that requires grad and add it to ``leaf.grad``.

        ``gradient`` is dL/d(self), the upstream gradient; it may be omitted only for a tensor
        with a single element (then it is 1).  The graph is freed afterwards unless
        ``retain_graph=True``.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: element 0 of tensors does not require grad and does not have "
                               "a grad_fn")
        engine.backward(self, self._upstream(gradient), retain_graph=retain_graph)

    def _upstream(self, gradient: Tensor | Array | None) -> Array:
        """The upstream gradient array for ``backward``, checked against this tensor."""
        if gradient is None:
            if self.array.size != 1:
                raise RuntimeError(f"backward: grad can be implicitly created only for scalar outputs; "
                                   f"this tensor has shape {tuple(self.shape)}, pass gradient=")
            return backend.xp_of(self.array).ones(self.shape, dtype=self.dtype)
        g = gradient.array if isinstance(gradient, Tensor) else gradient
        if g.shape != self.shape:
            raise RuntimeError(f"backward: gradient has shape {tuple(g.shape)} but the tensor has shape "
                               f"{tuple(self.shape)}")
        if g.dtype != self.dtype:
            raise TypeError(f"backward: gradient has dtype {g.dtype} but the tensor has dtype {self.array.dtype}")
        if backend.device_of(g) != self.device:
            raise RuntimeError(f"backward: gradient is on {backend.device_of(g)}, tensor on {self.device}")
        return g

    def _accumulate_grad(self, grad: Array, shared: bool) -> None:
        """Add ``grad`` into ``self.grad`` (in place after the first time, as in PyTorch).

        ``shared`` says that ``grad`` may be referenced elsewhere, so it is copied before this
        tensor owns it (a later in-place accumulation must not write into someone else's array).
        """
        if self.grad is None:
            self.grad = Tensor(grad.copy() if shared else grad)
        else:
            self.grad.array += grad

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: can't retain_grad on a tensor that has requires_grad=False")
        if self.grad_fn is not None:
            self.grad_fn.retained_output = weakref.ref(self)
        return self

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``hook(grad)`` with this tensor's gradient during backward, as soon as it is
        complete; a tensor it returns replaces the gradient (same shape and dtype).  A leaf's hooks
        run before ``.grad`` is updated; an intermediate tensor's before its node's backward.
        Hooks run in registration order; ``handle.remove()`` removes one."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't require gradient")
        owner = self if self.grad_fn is None else self.grad_fn
        if owner._backward_hooks is None:
            owner._backward_hooks = {}
        return add_hook(owner._backward_hooks, _on_arrays(hook, self.shape, self.dtype))

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place on a leaf tensor; returns ``self``."""
        if not self.is_leaf:
            raise RuntimeError("requires_grad_: you can only change requires_grad flags of leaf variables")
        if requires_grad and not backend.is_floating(self.dtype):
            raise RuntimeError(f"requires_grad_: only tensors of floating point dtype can require "
                               f"gradients, got {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def detach(self) -> Tensor:
        """A new leaf tensor sharing the same data (and version counter), cut from the graph."""
        out = Tensor(self.array)
        out._version_counter = self._version_counter
        return out

    # ------------------------------------------------------------------------- conversions
    def numpy(self) -> numpy.ndarray:
        """The values as a NumPy array (shares memory on the CPU, as in PyTorch)."""
        if self.requires_grad:
            raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad; "
                               "use tensor.detach().numpy()")
        if self.device != "cpu":
            raise TypeError("numpy: can't convert a cuda tensor to numpy; use tensor.cpu() first")
        return self.array

    def item(self) -> float | int | bool:
        """The single value of a one-element tensor as a Python number."""
        if self.array.size != 1:
            raise RuntimeError(f"item: a Tensor with {self.array.size} elements cannot be converted "
                               "to a Python scalar")
        return self.array.reshape(()).item()

    def tolist(self) -> Any:
        return backend.to_numpy(self.array).tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self.array.size} values is ambiguous")
        return bool(self.item())

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> numpy.ndarray:
        """``numpy.asarray(t)``, as PyTorch: the values of a CPU tensor that needs no grad."""
        array = self.numpy()
        return array.astype(dtype) if dtype is not None else (array.copy() if copy else array)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return printing.format_tensor(self)


def legacy_shape(args: tuple[Any, ...]) -> tuple[int, ...] | None:
    """The shape PyTorch's legacy constructors read from their arguments, or None when the arguments
    are data: ``(2, 3)`` and ``(Size([2, 3]),)`` are the shape (2, 3), ``()`` is (0,) (an empty tensor)."""
    if len(args) == 1 and isinstance(args[0], backend.Size):
        return tuple(args[0])
    if all(isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in args):
        return tuple(int(n) for n in args) or (0,)
    return None


def _legacy_array(data: tuple[Any, ...]) -> Array:
    """The float32 array of PyTorch's legacy ``Tensor(...)`` forms (see ``Tensor.__init__``)."""
    xp = backend.module_for(backend.get_default_device())
    shape = legacy_shape(data)
    if shape is not None:
        return xp.empty(shape, dtype=backend.float32)
    if len(data) == 1 and isinstance(data[0], Tensor):
        return data[0].array
    if len(data) == 1 and isinstance(data[0], (list, tuple)):
        return xp.asarray(data[0], dtype=backend.float32)
    raise TypeError(f"Tensor(): expected an array, a sequence of numbers or a shape of ints, got "
                    f"({', '.join(type(d).__name__ for d in data)})")


def _on_arrays(hook: Callable[[Tensor], Tensor | None], shape: tuple[int, ...], dtype: Any
               ) -> Callable[[Array], Array]:
    """``hook`` as the engine calls it: array in, array out (the input when the hook returns None)."""
    def run(grad: Array) -> Array:
        result = hook(Tensor(grad))
        if result is None:
            return grad
        if not isinstance(result, Tensor) or result.shape != shape or result.dtype != dtype:
            got = f"{tuple(result.shape)} {result.dtype}" if isinstance(result, Tensor) else type(result).__name__
            raise RuntimeError(f"hook '{getattr(hook, '__name__', hook)}' returned {got}; expected a tensor of "
                               f"shape {tuple(shape)} and dtype {dtype}, like the gradient")
        return result.array
    return run
