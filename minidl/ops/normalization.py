"""Fused normalisation layers: batch norm (training and inference) and layer norm.

All three compute  y = xhat * w + b  with a per-feature scale w and shift b, where

    xhat = (x - mean) / sqrt(var + eps)

and differ only in where mean and var come from:

* :class:`Normalize` -- statistics of the input itself over ``axes`` (biased variance):
  layer norm (the last dimensions) and batch norm in training (every axis but channels);
* :class:`BatchNorm` -- :class:`Normalize` that also updates running statistics, as
  PyTorch's kernel does;
* :class:`BatchNormInference` -- fixed (running) statistics, an affine map of x.

``w`` and ``b`` span the axes ``param_axes`` of x (channels for batch norm, the normalised
trailing axes for layer norm); the functional API passes ones and zeros when the layer has
no affine parameters.  Users call :mod:`minidl.functional`.
"""

from __future__ import annotations

from minidl import backend
from minidl.autograd.function import Function
from minidl.autograd.tensor import Tensor

Array = backend.Array


class _Affine(Function):
    """Shared by the normalisations: y = xhat * w + b, with w and b spanning ``param_axes`` of x.

    dL/dw = sum(gy * xhat), dL/db = sum(gy), both over the axes that w does not span.
    """

    param_axes: tuple[int, ...]

    def _broadcast(self, x: Array, w: Array) -> tuple[int, ...]:
        """Remember w's shape and the axes to sum parameter gradients over; return the shape
        (x's sizes on ``param_axes``, 1 elsewhere) in which w and b broadcast against x."""
        self.param_shape = w.shape
        self.reduce_axes = tuple(i for i in range(x.ndim) if i not in self.param_axes)
        return tuple(n if i in self.param_axes else 1 for i, n in enumerate(x.shape))

    def _param_grads(self, gy: Array, xhat: Array | None) -> tuple[Array | None, Array | None]:
        """(dL/dw, dL/db), each only when needed; ``xhat`` may be None when dL/dw is not."""
        axes, shape = self.reduce_axes, self.param_shape
        gw = (gy * xhat).sum(axis=axes).reshape(shape) if self.needs_input_grad[1] else None
        gb = gy.sum(axis=axes).reshape(shape) if self.needs_input_grad[2] else None
        return gw, gb


def _param_shape(x: Tensor, param_axes: tuple[int, ...]) -> tuple[int, ...]:
    """x's sizes on ``param_axes``, 1 elsewhere: the shape in which w and b broadcast against x."""
    return tuple(n if i in param_axes else 1 for i, n in enumerate(x.shape))


def normalize_reference(x: Tensor, w: Tensor, b: Tensor, axes: tuple[int, ...], param_axes: tuple[int, ...],
                        eps: float) -> Tensor:
    """:class:`Normalize` from primitives: (x - mean) / sqrt(var + eps) * w + b, statistics over ``axes``."""
    centered = x - x.mean(axes, keepdim=True)
    xhat = centered / ((centered * centered).mean(axes, keepdim=True) + eps).sqrt()
    shape = _param_shape(x, param_axes)
    return xhat * w.reshape(shape) + b.reshape(shape)


class Normalize(_Affine):
    """y = (x - mean) / sqrt(var + eps) * w + b, mean and (biased) var of x over ``axes``.

    With g = gy * w and M the number of elements each statistic averages,

        dL/dx = invstd * (g - mean(g) - xhat * mean(g * xhat))      (means over ``axes``)
        dL/dw = sum(gy * xhat),  dL/db = sum(gy)                    (over axes w does not span)

    (the first line is the derivative through mean and var: d xhat_i / d x_j =
    invstd (delta_ij - 1/M - xhat_i xhat_j / M)).  The fused form of :func:`normalize_reference`
    (for speed and memory: one node instead of ten, and this closed-form backward).
    """

    axes: tuple[int, ...]
    eps: float

    def forward(self, x: Array, w: Array, b: Array) -> Array:
        xp = backend.xp_of(x)
        self.mean = x.mean(axis=self.axes, keepdims=True)
        xhat = x - self.mean
        self.var = (xhat * xhat).mean(axis=self.axes, keepdims=True)
        self.invstd = 1 / xp.sqrt(self.var + self.eps)
        xhat *= self.invstd
        shape = self._broadcast(x, w)
        self.xhat, self.w = xhat, w.reshape(shape)
        return xhat * self.w + b.reshape(shape)

    def backward(self, gy: Array) -> tuple[Array | None, ...]:
        gx = None
        if self.needs_input_grad[0]:
            xhat, axes = self.xhat, self.axes
            g = gy * self.w
            gx = g - g.mean(axis=axes, keepdims=True) - xhat * (g * xhat).mean(axis=axes, keepdims=True)
            gx *= self.invstd
        return (gx, *self._param_grads(gy, self.xhat))


def batch_norm_reference(x: Tensor, w: Tensor, b: Tensor, axes: tuple[int, ...], param_axes: tuple[int, ...],
                         eps: float, running_mean: Array | None, running_var: Array | None, momentum: float) -> Tensor:
    """:class:`BatchNorm` from primitives: :func:`normalize_reference`, and the running statistics'
    update written out (on the arrays, outside the graph)."""
    if running_mean is not None:  # PyTorch tracks the unbiased variance
        running_mean[...] = (1 - momentum) * running_mean + momentum * x.array.mean(axis=axes)
        running_var[...] = (1 - momentum) * running_var + momentum * x.array.var(axis=axes, ddof=1)
    return normalize_reference(x, w, b, axes, param_axes, eps)


class BatchNorm(Normalize):
    """Batch norm in training: :class:`Normalize` over every axis but channels (``axes``), which
    also updates ``running_mean`` and ``running_var`` (arrays of shape (C,), in place) as PyTorch:

        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)

    normalising with the biased variance but tracking the unbiased one (M values per channel).
    ``running_mean``/``running_var`` may be ``None`` (no tracking).  Gradients: :class:`Normalize`.
    The fused form of :func:`batch_norm_reference`.
    """

    running_mean: Array | None
    running_var: Array | None
    momentum: float

    def forward(self, x: Array, w: Array, b: Array) -> Array:
        y = super().forward(x, w, b)
        if self.running_mean is not None:
            m = self.momentum
            count = x.size // self.mean.size
            self.running_mean *= 1.0 - m
            self.running_mean += m * self.mean.reshape(-1)
            self.running_var *= 1.0 - m
            self.running_var += (m * count / (count - 1)) * self.var.reshape(-1)
        return y


def batch_norm_inference_reference(x: Tensor, w: Tensor, b: Tensor, param_axes: tuple[int, ...],
                                   running_mean: Array, running_var: Array, eps: float) -> Tensor:
    """:class:`BatchNormInference` from primitives: (x - running_mean) / sqrt(running_var + eps) * w + b."""
    shape = _param_shape(x, param_axes)
    mean, var = Tensor(running_mean).reshape(shape), Tensor(running_var).reshape(shape)
    return (x - mean) / (var + eps).sqrt() * w.reshape(shape) + b.reshape(shape)


class BatchNormInference(_Affine):
    """Batch norm in evaluation: y = (x - running_mean) * invstd * w + b, invstd = 1 / sqrt(running_var + eps).

    The fused form of :func:`batch_norm_inference_reference` (for speed: one node, one pass).
    An affine map of x, computed as x * scale + shift (scale = w invstd, shift = b - mean scale,
    per channel, as PyTorch's CPU kernel):

        dL/dx = gy * w * invstd,   dL/dw = sum(gy * xhat),   dL/db = sum(gy).
    """

    running_mean: Array
    running_var: Array
    eps: float

    def forward(self, x: Array, w: Array, b: Array) -> Array:
        xp = backend.xp_of(x)
        shape = self._broadcast(x, w)
        self.x, self.mean = x, self.running_mean.reshape(shape).copy()  # the buffer may change before backward
        self.invstd = (1 / xp.sqrt(self.running_var + self.eps)).reshape(shape)
        self.scale = w.reshape(shape) * self.invstd
        return x * self.scale + (b.reshape(shape) - self.mean * self.scale)

    def backward(self, gy: Array) -> tuple[Array | None, ...]:
        gx = gy * self.scale if self.needs_input_grad[0] else None
        xhat = (self.x - self.mean) * self.invstd if self.needs_input_grad[1] else None
        return (gx, *self._param_grads(gy, xhat))
