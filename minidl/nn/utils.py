"""Gradient clipping and the explicit L2 penalty, as ``torch.nn.utils`` (plus ``l2_penalty``).

* ``clip_grad_norm_`` -- rescale all gradients together so their joint norm is at most ``max_norm``;
* ``clip_grad_value_`` -- clamp every gradient element to ``[-clip_value, clip_value]``;
* ``l2_penalty`` -- the regularization loss ``(weight_decay / 2) * sum ||w||^2`` as a tensor.

L2 two ways.  Adding ``l2_penalty(params, wd)`` to the loss adds ``wd * w`` to each gradient,
which is exactly what ``weight_decay=wd`` does inside ``SGD``, ``RMSprop`` and ``Adam``
(``g <- g + wd * w``), so both give the same training run up to rounding.  The penalty makes the
regularization loss visible (it can be logged next to the data loss) and can pick which
tensors to decay (e.g. weights but not biases).  ``AdamW``'s decoupled decay is NOT this.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from minidl import backend, ops
from minidl.autograd import Tensor, zeros

Array = backend.Array
Parameters = Tensor | Iterable[Tensor]


def _as_list(op: str, parameters: Parameters) -> list[Tensor]:
    """``parameters`` (one tensor or an iterable of them) as a list, with a clear type error."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: parameters must be Tensors, but item {i} is a {type(p).__name__}")
    return params


def _vector_norm(x: Array, norm_type: float) -> Array:
    """||x||_p of all elements of ``x`` as a 0-d value of x's dtype (p = inf: max |x|)."""
    xp = backend.xp_of(x)
    if norm_type == math.inf:
        return xp.abs(x).max()
    if norm_type == 2.0:
        flat = x.ravel()
        return xp.sqrt(xp.dot(flat, flat))
    return (xp.abs(x) ** norm_type).sum() ** (1.0 / norm_type)


def clip_grad_norm_(parameters: Parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale the gradients in place so that their total norm is at most ``max_norm``; return that norm.

    As ``torch.nn.utils.clip_grad_norm_``: the total norm is the ``norm_type``-norm of the
    per-tensor norms (the norm of all gradients concatenated), and every gradient is multiplied
    by ``min(max_norm / (total_norm + 1e-6), 1)``.  Parameters without ``.grad`` are skipped;
    with none at all the result is ``tensor(0.)``.  A non-finite total norm raises RuntimeError
    when ``error_if_nonfinite`` (otherwise the gradients become NaN, as in PyTorch).

    Returns the total norm BEFORE clipping as a 0-d tensor in the gradients' dtype.
    """
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 (or inf), got {norm_type}")
    grads = [p.grad.array for p in _as_list("clip_grad_norm_", parameters) if p.grad is not None]
    if not grads:
        return zeros(())
    xp, dtype = backend.xp_of(grads[0]), grads[0].dtype
    norms = [_vector_norm(g, norm_type).astype(dtype) for g in grads if g.size]
    total = _vector_norm(xp.stack(norms), norm_type) if norms else xp.zeros((), dtype=dtype)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
                           f"non-finite ({float(total)}), so it cannot be clipped; pass "
                           "error_if_nonfinite=False to scale the gradients by it anyway")
    clip_coef = xp.minimum(float(max_norm) / (total + 1e-6), 1.0)
    for g in grads:
        g *= clip_coef
    return Tensor(xp.asarray(total))


def clip_grad_value_(parameters: Parameters, clip_value: float) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]`` in place (``torch.nn.utils``)."""
    clip_value = float(clip_value)
    for p in _as_list("clip_grad_value_", parameters):
        if p.grad is not None:
            backend.xp_of(p.grad.array).clip(p.grad.array, -clip_value, clip_value, out=p.grad.array)


def l2_penalty(parameters: Parameters, weight_decay: float) -> Tensor:
    """The L2 regularization loss ``(weight_decay / 2) * sum_w ||w||^2``, differentiable.

    Built from minidl ops, so ``backward`` adds ``weight_decay * w`` to each ``w.grad``: the same
    as an optimizer's ``weight_decay=weight_decay`` (see the module docstring).  Returns a 0-d
    tensor in the parameters' dtype.
    """
    params = _as_list("l2_penalty", parameters)
    if not params:
        raise ValueError("l2_penalty: got an empty list of parameters")
    if weight_decay < 0:
        raise ValueError(f"l2_penalty: weight_decay must be >= 0, got {weight_decay}")
    total: Any = None
    for w in params:
        square_sum = ops.sum(ops.mul(w, w))
        total = square_sum if total is None else ops.add(total, square_sum)
    return ops.mul(total, weight_decay / 2)
