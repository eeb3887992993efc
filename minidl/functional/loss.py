"""Losses, as in ``torch.nn.functional``: fused, numerically stable nodes from :mod:`minidl.ops.loss`, and
the piecewise losses (``l1_loss``, ``smooth_l1_loss``, ``huber_loss``) and ``nll_loss`` built from
primitives (abs, where, indexing), which are stable and fast enough as they are.

Every loss takes ``reduction='mean' | 'sum' | 'none'``.  The deprecated ``size_average`` and
``reduce`` arguments of PyTorch are not supported, so the arguments after ``weight`` are
keyword-only (a positional call written for PyTorch fails loudly instead of misbinding).

Dtypes, as PyTorch: the regression losses (``mse_loss``, ``l1_loss``, ``smooth_l1_loss``,
``huber_loss``) promote input and target (:func:`minidl.ops.common.result_type`: an int64 target
with a float32 input gives a float32 loss, a float64 target a float64 one);
``binary_cross_entropy_with_logits`` promotes a floating target; the other losses and all weights
need the input's dtype.  In strict promotion mode every difference is an error.
"""

from __future__ import annotations

import math

from minidl import backend
from minidl.autograd.tensor import Tensor
from minidl.functional._checks import check_floating, check_like, check_reduction, check_same_device
from minidl.ops.common import promote
from minidl.ops.elementwise import abs, where
from minidl.ops.loss import (
    BinaryCrossEntropy,
    BinaryCrossEntropyWithLogits,
    CrossEntropy,
    CrossEntropyWithProbabilities,
    MSELoss,
)
from minidl.ops.shape import index, reshape


def _check_input_target(op: str, input: Tensor, target: Tensor) -> None:
    """A floating input, and a target of the same shape, dtype and device."""
    _check_shapes(op, input, target)
    check_like(op, "target", target, input)


def _check_shapes(op: str, input: Tensor, target: Tensor) -> None:
    """A floating input, and a target tensor of the same shape."""
    check_floating(op, input)
    if not isinstance(target, Tensor):
        raise TypeError(f"{op}: target must be a Tensor, got {type(target).__name__}")
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{op}: target size {tuple(target.shape)} must be the same as input size "
                         f"{tuple(input.shape)}")


def _promoted(op: str, input: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """A floating input and a target of its shape, both in their promoted dtype (PyTorch's
    regression losses): an integer target with a float32 input makes a float32 loss."""
    _check_shapes(op, input, target)
    check_same_device(op, "target", target, input)
    return promote(op, input, target)


def _constant(op: str, name: str, value: Tensor | None, input: Tensor,
              shape: tuple[int, ...]) -> backend.Array | None:
    """The array of an optional, non-differentiable weight that must broadcast to ``shape``."""
    if value is None:
        return None
    check_like(op, name, value, input)
    if value.requires_grad:
        raise RuntimeError(f"{op}: the loss is not differentiable with respect to {name}; "
                           f"this input cannot have requires_grad=True")
    given = tuple(value.shape)
    if len(given) > len(shape) or any(n not in (1, m) for n, m in zip(given[::-1], shape[::-1])):
        raise ValueError(f"{op}: {name} of shape {tuple(value.shape)} does not broadcast to the input shape {shape}")
    return value.array


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None, *,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """-w [p_w t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))] for logits x, computed stably.

    input: logits of any shape; target: probabilities in [0, 1] of the same shape; ``weight``
    broadcasts to it; ``pos_weight`` (the weight of positive examples, e.g. one per class)
    broadcasts against the target.  Differentiable in input and target.
    """
    op = "binary_cross_entropy_with_logits"
    check_reduction(reduction)
    _check_shapes(op, input, target)
    if backend.is_floating(target.dtype):
        input, target = promote(op, input, target)
    check_like(op, "target", target, input)
    shape = tuple(input.shape)
    return BinaryCrossEntropyWithLogits.apply(
        input, target, weight=_constant(op, "weight", weight, input, shape),
        pos_weight=_constant(op, "pos_weight", pos_weight, input, shape), reduction=reduction)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, *,
                         reduction: str = "mean") -> Tensor:
    """-w [t log x + (1 - t) log(1 - x)] for probabilities x in [0, 1], logs clamped at -100.

    Prefer :func:`binary_cross_entropy_with_logits` on logits (stable, no clamping).
    Differentiable in input and target.
    """
    op = "binary_cross_entropy"
    check_reduction(reduction)
    _check_input_target(op, input, target)
    if not bool(((target.array >= 0) & (target.array <= 1)).all()):  # NaN fails too, as in PyTorch
        raise RuntimeError(f"{op}: all elements of target should be between 0 and 1")
    return BinaryCrossEntropy.apply(input, target, weight=_constant(op, "weight", weight, input, tuple(input.shape)),
                                    reduction=reduction)


def mse_loss(input: Tensor, target: Tensor, *, reduction: str = "mean") -> Tensor:
    """(input - target)^2, reduced.  Differentiable in input and target.

    Unlike PyTorch, which broadcasts a target of a different shape (with a warning), a shape
    mismatch is an error: it is almost always a bug.
    """
    check_reduction(reduction)
    input, target = _promoted("mse_loss", input, target)
    return MSELoss.apply(input, target, reduction=reduction)


def _class_targets(op: str, input: Tensor, target: Tensor, ignore_index: int) -> backend.Array:
    """Class indices (N, d1, ...) as int64, checked against input (N, C, d1, ...) as PyTorch does."""
    if target.dtype not in (backend.int64, backend.uint8):
        raise TypeError(f"{op}: expected target dtype to be int64 (class indices) or a floating dtype "
                        f"(class probabilities), got {target.dtype}")
    expected = (input.shape[0], *input.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(f"{op}: expected target of shape {expected} for input of shape "
                         f"{tuple(input.shape)} (N, C, d1, ...), got {tuple(target.shape)}")
    check_same_device(op, "target", target, input)
    t = target.array.astype(backend.int64, copy=False)
    bad = (t != ignore_index) & ((t < 0) | (t >= input.shape[1]))
    if bool(bad.any()):
        raise IndexError(f"{op}: Target {int(t[bad][0])} is out of bounds for {input.shape[1]} classes")
    return t


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, *, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy between logits and class indices (or class probabilities), as PyTorch.

    input: (C,) or (N, C) or (N, C, d1, ...) logits.  target: class indices () / (N,) /
    (N, d1, ...) of dtype int64 (or uint8) -- entries equal to ``ignore_index`` are skipped --
    or class probabilities of input's shape and dtype.  ``weight`` (C,) rescales each class;
    with class indices the mean is the weighted mean sum_i w_{t_i} l_i / sum_i w_{t_i}.
    ``label_smoothing`` e mixes the target with the uniform distribution: (1 - e) t + e / C.
    Computed as log_softmax + negative log likelihood in one node.
    """
    op = "cross_entropy"
    check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    check_floating(op, input)
    if input.ndim == 0 or input.shape[-1 if input.ndim == 1 else 1] == 0:
        raise ValueError(f"{op}: expected input of shape (C,) or (N, C, d1, ...) with C >= 1, got "
                         f"{tuple(input.shape)}")
    n_classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    if weight is not None and tuple(weight.shape) != (n_classes,):
        raise ValueError(f"{op}: weight should have one entry per class, ({n_classes},), got {tuple(weight.shape)}")
    w = _constant(op, "weight", weight, input, (n_classes,))
    if input.ndim == 1:  # one unbatched sample: add the batch dimension and remove it again
        loss = cross_entropy(reshape(input, 1, n_classes), reshape(target, 1, *target.shape), weight,
                             ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing)
        return reshape(loss, ()) if reduction == "none" else loss
    params = dict(weight=w, label_smoothing=label_smoothing, reduction=reduction)
    if backend.is_floating(target.dtype):
        _check_input_target(op, input, target)
        return CrossEntropyWithProbabilities.apply(input, target, **params)
    t = _class_targets(op, input, target, ignore_index)
    return CrossEntropy.apply(input, target=t, ignore_index=ignore_index, **params)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, *, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """The negative log likelihood l_i = -w_{t_i} x_{i t_i} of log-probabilities x, as PyTorch.

    input: (C,) or (N, C) or (N, C, d1, ...) log-probabilities (``log_softmax`` outputs); target:
    class indices () / (N,) / (N, d1, ...), int64 (or uint8); entries equal to ``ignore_index`` give
    0 and count for nothing.  ``weight`` (C,) rescales each class; the mean is the weighted mean
    sum_i l_i / sum_i w_{t_i} over the targets kept (NaN when none is).  Built from indexing, so a
    target's gradient goes to its own entry only (a -inf elsewhere in the row does no harm).
    """
    op = "nll_loss"
    check_reduction(reduction)
    check_floating(op, input)
    if input.ndim == 1:  # one unbatched sample: add the batch dimension and remove it again
        loss = nll_loss(reshape(input, 1, input.shape[0]), reshape(target, 1, *target.shape), weight,
                        ignore_index=ignore_index, reduction=reduction)
        return reshape(loss, ()) if reduction == "none" else loss
    if input.ndim == 0 or input.shape[1] == 0:
        raise ValueError(f"{op}: expected input of shape (C,) or (N, C, d1, ...) with C >= 1, got {tuple(input.shape)}")
    n_classes = input.shape[1]
    if weight is not None and tuple(weight.shape) != (n_classes,):
        raise ValueError(f"{op}: weight should have one entry per class, ({n_classes},), got {tuple(weight.shape)}")
    w = _constant(op, "weight", weight, input, (n_classes,))
    t = _class_targets(op, input, target, ignore_index)
    xp = backend.xp_of(t)
    kept = t != ignore_index
    safe = xp.where(kept, t, 0)  # ignored targets read class 0, then are masked out
    rows = xp.indices(t.shape, sparse=True)  # the sample (and position) of each target
    picked = where(Tensor(kept), index(input, (rows[0], safe, *rows[1:])), 0.0)
    w_t = kept.astype(input.dtype) if w is None else w[safe] * kept
    loss = -picked if w is None else -(picked * Tensor(w_t))
    return _reduced(loss, reduction, total=float(w_t.sum()))


def _reduced(loss: Tensor, reduction: str, total: float | None = None) -> Tensor:
    """``loss``, its sum, or its sum / ``total`` (default: its number of elements; NaN when 0, as PyTorch)."""
    if reduction == "none":
        return loss
    total = loss.numel() if total is None else total
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / total if total > 0 else loss.sum() * math.nan


def _elementwise_weight(op: str, weight: Tensor | None, input: Tensor) -> Tensor | None:
    """A per-element ``weight`` of the input's size, dtype and device (no gradient), or None."""
    if weight is not None and tuple(weight.shape) != tuple(input.shape):
        raise ValueError(f"{op}: weights and input must have the same size, got {tuple(weight.shape)} and "
                         f"{tuple(input.shape)}")
    return None if weight is None else Tensor(_constant(op, "weight", weight, input, tuple(input.shape)))


def l1_loss(input: Tensor, target: Tensor, *, reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """|input - target|, reduced (gradient sign(input - target), 0 where they are equal).

    With a per-element ``weight``, as PyTorch: w |input - target|, and the mean is the weighted mean
    sum(w |d|) / sum(w).  Differentiable in input and target.
    """
    op = "l1_loss"
    check_reduction(reduction)
    input, target = _promoted(op, input, target)
    loss = abs(input - target)
    w = _elementwise_weight(op, weight, input)
    if w is None:
        return _reduced(loss, reduction)
    return _reduced(loss * w, reduction, total=float(w.array.sum()))


def smooth_l1_loss(input: Tensor, target: Tensor, *, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta, for d = input - target (PyTorch's
    formula; beta = 0 is the L1 loss).  Differentiable in input and target."""
    op = "smooth_l1_loss"
    check_reduction(reduction)
    if beta < 0:
        raise RuntimeError(f"{op} does not support negative values for beta.")
    input, target = _promoted(op, input, target)
    d = input - target
    if beta == 0:
        return _reduced(abs(d), reduction)
    return _reduced(where(abs(d) < beta, d * d * (0.5 / beta), abs(d) - 0.5 * beta), reduction)


def huber_loss(input: Tensor, target: Tensor, *, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta), for d = input - target (PyTorch's formula:
    ``smooth_l1_loss`` times beta = delta).  A per-element ``weight`` multiplies the loss; then the mean
    is a plain mean, as PyTorch.  Differentiable in input and target."""
    op = "huber_loss"
    check_reduction(reduction)
    if delta <= 0:
        raise RuntimeError(f"{op} does not support non-positive values for delta.")
    input, target = _promoted(op, input, target)
    d = input - target
    loss = where(abs(d) < delta, d * d * 0.5, (abs(d) - 0.5 * delta) * delta)
    w = _elementwise_weight(op, weight, input)
    return _reduced(loss if w is None else loss * w, reduction)
