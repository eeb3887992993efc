"""``minidl.autograd.grad``: gradients returned instead of accumulated into ``.grad``.

``grad(y, [w, b])`` runs the same backward pass as ``y.backward()`` (``engine.grad``), but keeps
the gradients of the tensors asked for and hands them back; no tensor's ``.grad`` changes.  Useful
for a gradient penalty's inner gradient, a meta-learning step, or checking one gradient by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

from minidl import backend
from minidl.autograd import engine
from minidl.autograd.tensor import Tensor

Tensors = Tensor | Sequence[Tensor]


def grad(outputs: Tensors, inputs: Tensors, grad_outputs: Tensors | Sequence[Tensor | None] | None = None,
         retain_graph: bool | None = None, create_graph: bool = False, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple[Tensor | None, ...]:
    """sum_k d(outputs[k])/d(inputs[i]) . grad_outputs[k] for each input, as ``torch.autograd.grad``.

    ``grad_outputs[k]`` may be None for a one-element output (then 1).  An input the outputs do not
    depend on is an error unless ``allow_unused=True`` (then its gradient is None, or zeros with
    ``materialize_grads=True``).  The graph is freed unless ``retain_graph=True``.  minidl's
    backward builds no graph, so ``create_graph=True`` (double backward) is refused.
    """
    if create_graph or is_grads_batched:
        raise NotImplementedError("grad: create_graph=True and is_grads_batched=True are not supported: minidl's "
                                  "backward works on arrays and records no graph (no double backward)")
    outputs, inputs = _as_list(outputs, "outputs"), _as_list(inputs, "inputs")
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    grad_outputs = [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad: grad_outputs has {len(grad_outputs)} entries, expected {len(outputs)} "
                           "(one per output)")
    for i, out in enumerate(outputs):
        if not out.requires_grad:
            raise RuntimeError(f"grad: element {i} of outputs does not require grad and does not have a grad_fn")
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            raise RuntimeError(f"grad: element {i} of inputs does not require grad (one of the differentiated "
                               "Tensors does not require grad)")
    upstream = [out._upstream(g) for out, g in zip(outputs, grad_outputs)]
    found = engine.grad(outputs, upstream, inputs, retain_graph=bool(retain_graph))
    return tuple(_result(g, x, i, allow_unused or materialize_grads, materialize_grads)
                 for i, (g, x) in enumerate(zip(found, inputs)))


def _as_list(tensors: Tensors, what: str) -> list[Tensor]:
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if not tensors or not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError(f"grad: {what} must be a tensor or a non-empty sequence of tensors")
    return tensors


def _result(g: object, x: Tensor, i: int, allow_unused: bool, materialize: bool) -> Tensor | None:
    """The gradient of input ``i`` as a tensor, or None / zeros where it was not reached."""
    if g is not None:
        return Tensor(g)
    if not allow_unused:
        raise RuntimeError(f"grad: input {i} (shape {tuple(x.shape)}) appears to not have been used in the graph. "
                           "Set allow_unused=True if this is the desired behavior.")
    return Tensor(backend.xp_of(x.array).zeros_like(x.array)) if materialize else None
