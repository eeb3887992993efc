"""The backward engine: reverse-mode automatic differentiation, iteratively.

``backward(root, gradient)`` walks the graph recorded by ``Function.apply`` from ``root.grad_fn``
back to the leaves:

1. order the nodes topologically with an explicit stack (no recursion, so a chain of 100,000
   ops works), outputs before inputs;
2. visit each node once, when all gradient contributions to its output have been summed, check
   that nothing it saved for backward was modified in place since (``check_saved_versions``),
   call its ``backward``, reduce each broadcast gradient to its input's shape (the one central
   place that does so) and pass it on: into a later node's sum, or into a leaf's ``.grad``;
3. free each node after its visit unless ``retain_graph=True``.

Where a gradient ends is the job of a :class:`Gradients` object (the dict of gradients in
flight): ``backward`` puts a leaf's into its ``.grad``; ``grad`` (``minidl.autograd.grad``)
keeps those of the tensors asked for and touches no ``.grad``.  Hooks registered with
``Tensor.register_hook`` run on a tensor's gradient as soon as it is complete: for a leaf
before it is stored, for an intermediate tensor before its node's ``backward``.

The engine works on raw arrays and knows tensors only through a few attributes and one method:
``requires_grad``, ``grad_fn``, ``shape``, ``_backward_hooks`` and ``_accumulate_grad``.
"""

from __future__ import annotations

from typing import Any

from minidl import backend

Array = backend.Array


def backward(root: Any, gradient: Array, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) . ``gradient`` into the ``.grad`` of every leaf that requires grad."""
    grads = Gradients()
    if root.grad_fn is None:
        grads.to_leaf(root, gradient, shared=True)
    else:
        grads[root.grad_fn] = gradient
        _run(grads, topological_order(root.grad_fn), retain_graph)
    grads.finish()


def grad(outputs: list[Any], gradients: list[Array], inputs: list[Any], retain_graph: bool = False
         ) -> list[Array | None]:
    """sum_k d(outputs[k])/d(x) . gradients[k] for every x in ``inputs`` (None where x is not
    reached), returned instead of accumulated: no ``.grad`` changes.  Only the nodes on a path
    to an input run (and are freed), as in PyTorch: the rest of the graph stays usable."""
    grads = Captured(inputs)
    for out, g in zip(outputs, gradients):
        if out.grad_fn is None:
            grads.to_leaf(out, g, shared=True)
        else:
            grads.add(out.grad_fn, g)
    order = topological_order(*(out.grad_fn for out in outputs if out.grad_fn is not None))
    _run(grads, order, retain_graph, needed=_leading_to(order, inputs))
    grads.finish()
    return [grads.found.get(id(x)) for x in inputs]


def _run(grads: Gradients, order: list[Any], retain_graph: bool, needed: set[Any] | None = None) -> None:
    """Visit the nodes in topological ``order``, passing gradients on; with ``needed``, only those
    nodes run their backward (the others just receive their gradient)."""
    for fn in order:
        runs = needed is None or fn in needed
        if runs and fn.inputs is None:
            raise RuntimeError(
                f"Trying to backward through the graph a second time ({fn.name} was already freed). "
                "Specify retain_graph=True on the first backward if you need to backward twice.")
        gy = grads.pop(fn, None)
        if gy is not None:  # None: every consumer returned None for it, a zero gradient (as PyTorch)
            if fn._backward_hooks:  # rare: no per-node work when nobody hooked this tensor
                gy = run_hooks(fn._backward_hooks, gy)
            grads.at_node(fn, gy)
            if runs:
                _propagate(fn, gy, grads)
        if runs and not retain_graph:
            fn.release()


def _leading_to(order: list[Any], inputs: list[Any]) -> set[Any]:
    """The nodes of ``order`` whose backward reaches one of ``inputs`` (a leaf, or a node's output)."""
    needed: set[Any] = set()
    for fn in reversed(order):  # the inputs' side first
        for t in fn.inputs or ():
            if t is not None and (any(t is x for x in inputs) or t.grad_fn in needed):
                needed.add(fn)
                break
    return needed


class Gradients(dict):
    """The gradients in flight, ``{node: d(root)/d(node's output)}``, and where the complete
    gradient of a tensor goes: a leaf's into its ``.grad``, a non-leaf's into its ``.grad`` only if
    it asked with ``retain_grad()``.  A leaf with hooks first has its contributions summed, and its
    hooks see the total once, at the end of the pass (``finish``)."""

    def __init__(self) -> None:
        super().__init__()
        self.hooked_leaves: dict[int, tuple[Any, Array]] = {}

    def add(self, fn: Any, g: Array) -> None:
        """One more contribution to the gradient of ``fn``'s output."""
        self[fn] = self[fn] + g if fn in self else g

    def to_leaf(self, t: Any, g: Array, shared: bool) -> None:
        if t._backward_hooks:
            self.add_to_leaf(t, g)
        else:
            t._accumulate_grad(g, shared=shared)

    def add_to_leaf(self, t: Any, g: Array) -> None:
        """One more contribution to leaf ``t``'s gradient, summed until ``finish``."""
        key = id(t)
        self.hooked_leaves[key] = (t, self.hooked_leaves[key][1] + g if key in self.hooked_leaves else g)

    def at_node(self, fn: Any, gy: Array) -> None:
        output = fn.retained_output() if fn.retained_output is not None else None
        if output is not None:
            output._accumulate_grad(gy, shared=True)

    def finish(self) -> None:
        """The summed gradients of the leaves with hooks: through their hooks, into ``.grad``."""
        for t, g in self.hooked_leaves.values():
            t._accumulate_grad(run_hooks(t._backward_hooks, g), shared=True)


class Captured(Gradients):
    """For ``grad``: the complete gradients of ``inputs`` (by ``id``) are kept in ``found``."""

    def __init__(self, inputs: list[Any]) -> None:
        super().__init__()
        self.inputs = inputs
        self.found: dict[int, Array] = {}

    def to_leaf(self, t: Any, g: Array, shared: bool) -> None:
        if any(t is x for x in self.inputs):
            self.add_to_leaf(t, g)

    def at_node(self, fn: Any, gy: Array) -> None:
        for x in self.inputs:
            if x.grad_fn is fn:
                self.found[id(x)] = gy.copy()

    def finish(self) -> None:
        for t, g in self.hooked_leaves.values():
            self.found[id(t)] = run_hooks(t._backward_hooks, g).copy()


def run_hooks(hooks: dict[int, Any] | None, g: Array) -> Array:
    """``g`` passed through each hook in turn (each returns the array to pass on)."""
    for hook in list((hooks or {}).values()):
        g = hook(g)
    return g


def topological_order(*root_fns: Any) -> list[Any]:
    """Every node reachable from ``root_fns``, each after all nodes that consume its output.

    Iterative depth-first search: a node is appended once all its inputs' nodes are appended
    (post-order); the reversed list puts the roots first.
    """
    order: list[Any] = []
    visited: set[int] = set()
    stack: list[tuple[Any, bool]] = [(fn, False) for fn in reversed(root_fns)]
    while stack:
        fn, inputs_done = stack.pop()
        if inputs_done:
            order.append(fn)
            continue
        if id(fn) in visited:
            continue
        visited.add(id(fn))
        stack.append((fn, True))
        for t in fn.inputs or ():
            if t is not None and t.grad_fn is not None and id(t.grad_fn) not in visited:
                stack.append((t.grad_fn, False))
    order.reverse()
    return order


def _propagate(fn: Any, gy: Array, grads: Gradients) -> None:
    """Run ``fn.backward(gy)`` and route each input gradient to its producer or leaf."""
    fn.check_saved_versions()
    input_grads = fn.backward(gy)
    if not isinstance(input_grads, tuple):
        input_grads = (input_grads,)
    if len(input_grads) != len(fn.inputs):
        raise RuntimeError(f"{fn.name}: backward returned {len(input_grads)} gradients "
                           f"for {len(fn.inputs)} inputs")
    for i, (t, needed, gx) in enumerate(zip(fn.inputs, fn.needs_input_grad, input_grads)):
        if not needed or gx is None:
            continue
        gx = reduce_to_shape(gx, t, fn.name)
        if t.grad_fn is None:
            grads.to_leaf(t, gx, shared=not _owned(gx, gy, input_grads[:i] + input_grads[i + 1:]))
        else:
            grads.add(t.grad_fn, gx)


def _owned(grad: Array, gy: Array, others: tuple[Array | None, ...]) -> bool:
    """Whether a leaf may keep ``grad`` as its ``.grad`` without a copy: a compact array (not a
    read-only broadcast view) that shares no memory with the upstream gradient ``gy`` or with the
    ``others`` gradients the same ``backward`` returned (a later in-place ``+=`` would change them too)."""
    compact = grad.flags.c_contiguous or grad.flags.f_contiguous
    xp = backend.xp_of(grad)
    return compact and not any(g is not None and xp.may_share_memory(grad, g) for g in (gy, *others))


def reduce_to_shape(grad: Array, t: Any, op: str) -> Array:
    """Sum a broadcast gradient back to the shape of tensor ``t``, and check shape and dtype.

    Broadcasting prepends dimensions and stretches size-1 ones; the gradient of a broadcast
    is the sum over exactly those dimensions.
    """
    shape = t.array.shape
    if grad.shape != shape:
        lead = grad.ndim - len(shape)
        if lead < 0:
            raise RuntimeError(f"{op}: gradient of shape {grad.shape} for an input of shape {tuple(shape)}")
        axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                          if n == 1 and grad.shape[lead + i] != 1)
        grad = grad.sum(axis=axes, keepdims=True) if axes else grad
        if grad.shape[lead:] != shape:
            raise RuntimeError(f"{op}: gradient of shape {grad.shape} for an input of shape {tuple(shape)}")
        grad = grad.reshape(shape)
    if grad.dtype != t.array.dtype:
        raise RuntimeError(f"{op}: backward produced a {grad.dtype} gradient for a {t.array.dtype} input "
                           "(accidental dtype change)")
    return grad
