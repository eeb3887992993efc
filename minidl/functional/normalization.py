"""``batch_norm`` and ``layer_norm`` (fused nodes from :mod:`minidl.ops.normalization`)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from minidl import backend
from minidl.autograd.tensor import Tensor
from minidl.functional._checks import check_like
from minidl.ops.normalization import BatchNorm, BatchNormInference, Normalize


def _affine_params(op: str, input: Tensor, weight: Tensor | None, bias: Tensor | None,
                   shape: tuple[int, ...]) -> tuple[Tensor, Tensor]:
    """``weight`` and ``bias`` checked to have ``shape``; ones and zeros where they are None."""
    xp = backend.xp_of(input.array)
    params = []
    for name, value, fill in (("weight", weight, 1), ("bias", bias, 0)):
        if value is None:
            params.append(Tensor(xp.full(shape, fill, dtype=input.dtype)))
            continue
        check_like(op, name, value, input)
        if tuple(value.shape) != shape:
            raise RuntimeError(f"{op}: expected {name} of shape {shape}, got {tuple(value.shape)}")
        params.append(value)
    return params[0], params[1]


def as_shape(normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    """``5`` -> ``(5,)``; a sequence of ints -> a tuple of ints (layer norm's ``normalized_shape``)."""
    if isinstance(normalized_shape, numbers.Integral):
        return (int(normalized_shape),)
    return tuple(int(n) for n in normalized_shape)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel of input (N, C, *) over the batch and every other axis.

    y = (x - mean) / sqrt(var + eps) * weight + bias per channel.  ``training=True``: mean and
    biased var of this batch, and ``running_mean``/``running_var`` (C,), when given, are updated
    in place with ``momentum`` (running_var with the unbiased variance), as PyTorch.
    ``training=False``: the running statistics are used (and are required).
    """
    op = "batch_norm"
    if input.ndim < 2:
        raise ValueError(f"{op}: expected input of shape (N, C, *), got {tuple(input.shape)}")
    channels = (input.shape[1],)
    w, b = _affine_params(op, input, weight, bias, channels)
    for name, stat in (("running_mean", running_mean), ("running_var", running_var)):
        if stat is not None:
            check_like(op, name, stat, input)
            if tuple(stat.shape) != channels:
                raise RuntimeError(f"{op}: expected {name} of shape {channels}, got {tuple(stat.shape)}")
    stat_axes = (0, *range(2, input.ndim))
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError(f"{op}: running_mean and running_var must be defined in evaluation mode")
        return BatchNormInference.apply(input, w, b, param_axes=(1,), eps=eps, running_mean=running_mean.array,
                                        running_var=running_var.array)
    if input.numel() // channels[0] <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{tuple(input.shape)}")
    if (running_mean is None) != (running_var is None):
        raise RuntimeError(f"{op}: give both running_mean and running_var, or neither")
    return BatchNorm.apply(input, w, b, axes=stat_axes, param_axes=(1,), eps=eps, momentum=momentum,
                           running_mean=None if running_mean is None else running_mean.array,
                           running_var=None if running_var is None else running_var.array)


def layer_norm(input: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last ``len(normalized_shape)`` dimensions of input (*, *normalized_shape).

    y = (x - mean) / sqrt(var + eps) * weight + bias, mean and biased var per sample;
    ``weight`` and ``bias`` have shape ``normalized_shape`` (or are None).
    """
    op = "layer_norm"
    shape = as_shape(normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise RuntimeError(f"{op}: given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size {list(input.shape)}")
    w, b = _affine_params(op, input, weight, bias, shape)
    axes = tuple(range(input.ndim - k, input.ndim))
    return Normalize.apply(input, w, b, axes=axes, param_axes=axes, eps=eps)
