"""The backward engine: reverse-mode automatic differentiation, iteratively.

``backward(root, gradient)`` walks the graph recorded by ``Function.apply`` from ``root.grad_fn``
back to the leaves:

1. order the nodes topologically with an explicit stack (no recursion, so a chain of 100,000
   ops works), outputs before inputs;
2. visit each node once, when all gradient contributions to its output have been summed, call
   its ``backward``, reduce each broadcast gradient to its input's shape (the one central place
   that does so) and pass it on: into a later node's sum, or into a leaf's ``.grad``;
3. free each node after its visit unless ``retain_graph=True``.

The engine works on raw arrays and knows tensors only through three attributes and one method:
``requires_grad``, ``grad_fn``, ``shape`` and ``_accumulate_grad``.
"""

from __future__ import annotations

from typing import Any

from minidl import backend

Array = backend.Array


def backward(root: Any, gradient: Array, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) . ``gradient`` into the ``.grad`` of every leaf that requires grad."""
    if root.grad_fn is None:
        root._accumulate_grad(gradient, shared=True)
        return
    grads: dict[Any, Array] = {root.grad_fn: gradient}
    for fn in topological_order(root.grad_fn):
        if fn.inputs is None:
            raise RuntimeError(
                f"Trying to backward through the graph a second time ({fn.name} was already freed). "
                "Specify retain_graph=True on the first backward if you need to backward twice.")
        gy = grads.pop(fn, None)
        if gy is not None:  # None: every consumer returned None for it, a zero gradient (as PyTorch)
            output = fn.retained_output() if fn.retained_output is not None else None
            if output is not None:
                output._accumulate_grad(gy, shared=True)
            _propagate(fn, gy, grads)
        if not retain_graph:
            fn.release()


def topological_order(root_fn: Any) -> list[Any]:
    """Every node reachable from ``root_fn``, each after all nodes that consume its output.

    Iterative depth-first search: a node is appended once all its inputs' nodes are appended
    (post-order); the reversed list puts the root first.
    """
    order: list[Any] = []
    visited: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root_fn, False)]
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


def _propagate(fn: Any, gy: Array, grads: dict[Any, Array]) -> None:
    """Run ``fn.backward(gy)`` and route each input gradient to its producer or leaf."""
    input_grads = fn.backward(gy)
    if not isinstance(input_grads, tuple):
        input_grads = (input_grads,)
    if len(input_grads) != len(fn.inputs):
        raise RuntimeError(f"{fn.name}: backward returned {len(input_grads)} gradients "
                           f"for {len(fn.inputs)} inputs")
    for t, needed, gx in zip(fn.inputs, fn.needs_input_grad, input_grads):
        if not needed or gx is None:
            continue
        gx = reduce_to_shape(gx, t, fn.name)
        if t.grad_fn is None:
            t._accumulate_grad(gx, shared=not _owned(gx, gy))
        elif t.grad_fn in grads:
            grads[t.grad_fn] = grads[t.grad_fn] + gx
        else:
            grads[t.grad_fn] = gx


def _owned(grad: Array, gy: Array) -> bool:
    """Whether a leaf may keep ``grad`` as its ``.grad`` without a copy: a compact array (not a
    read-only broadcast view) that shares no memory with the upstream gradient ``gy``."""
    compact = grad.flags.c_contiguous or grad.flags.f_contiguous
    return compact and not backend.xp_of(grad).may_share_memory(grad, gy)


def reduce_to_shape(grad: Array, t: Any, op: str) -> Array:
    """Sum a broadcast gradient back to the shape of tensor ``t``, and check shape and dtype.

    Broadcasting prepends dimensions and stretches size-1 ones; the gradient of a broadcast
    is the sum over exactly those dimensions.
    """
    shape = t.shape
    if grad.shape != shape:
        lead = grad.ndim - len(shape)
        if lead < 0:
            raise RuntimeError(f"{op}: gradient of shape {grad.shape} for an input of shape {shape}")
        axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                          if n == 1 and grad.shape[lead + i] != 1)
        grad = grad.sum(axis=axes, keepdims=True) if axes else grad
        if grad.shape[lead:] != shape:
            raise RuntimeError(f"{op}: gradient of shape {grad.shape} for an input of shape {shape}")
        grad = grad.reshape(shape)
    if grad.dtype != t.dtype:
        raise RuntimeError(f"{op}: backward produced a {grad.dtype} gradient for a {t.dtype} input "
                           "(accidental dtype change)")
    return grad
