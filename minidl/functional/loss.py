"""Losses, as in ``torch.nn.functional``: fused, numerically stable nodes from :mod:`minidl.ops.loss`.

Every loss takes ``reduction='mean' | 'sum' | 'none'``.  The deprecated ``size_average`` and
``reduce`` arguments of PyTorch are not supported, so the arguments after ``weight`` are
keyword-only (a positional call written for PyTorch fails loudly instead of misbinding).

Dtypes: targets and weights must have the input's dtype.  (PyTorch would promote a float32
input with a float64 target to a float64 loss; minidl refuses, as it never upcasts silently.)
"""

from __future__ import annotations

from minidl import backend
from minidl.autograd.tensor import Tensor
from minidl.functional._checks import check_floating, check_like, check_reduction
from minidl.ops.loss import (
    BinaryCrossEntropy,
    BinaryCrossEntropyWithLogits,
    CrossEntropy,
    CrossEntropyWithProbabilities,
    MSELoss,
)
from minidl.ops.shape import reshape


def _check_input_target(op: str, input: Tensor, target: Tensor) -> None:
    """A floating input, and a target of the same shape, dtype and device."""
    check_floating(op, input)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{op}: target size {tuple(target.shape)} must be the same as input size "
                         f"{tuple(input.shape)}")
    check_like(op, "target", target, input)


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
    return value.data


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None, *,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """-w [p_w t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))] for logits x, computed stably.

    input: logits of any shape; target: probabilities in [0, 1] of the same shape; ``weight``
    broadcasts to it; ``pos_weight`` (the weight of positive examples, e.g. one per class)
    broadcasts against the target.  Differentiable in input and target.
    """
    op = "binary_cross_entropy_with_logits"
    check_reduction(reduction)
    _check_input_target(op, input, target)
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
    return BinaryCrossEntropy.apply(input, target, weight=_constant(op, "weight", weight, input, tuple(input.shape)),
                                    reduction=reduction)


def mse_loss(input: Tensor, target: Tensor, *, reduction: str = "mean") -> Tensor:
    """(input - target)^2, reduced.  Differentiable in input and target.

    Unlike PyTorch, which broadcasts a target of a different shape (with a warning), a shape
    mismatch is an error: it is almost always a bug.
    """
    check_reduction(reduction)
    _check_input_target("mse_loss", input, target)
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
    if target.device != input.device:
        raise RuntimeError(f"{op}: target is on {target.device} but input is on {input.device}")
    t = target.data.astype(backend.int64, copy=False)
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
