"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d`` and ``LayerNorm``, as in ``torch.nn``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from minidl import backend
from minidl.autograd.creation import ones, tensor, zeros
from minidl.autograd.tensor import Tensor
from minidl.functional.normalization import as_shape, batch_norm, layer_norm
from minidl.nn import init
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter


def _register_affine(module: Module, shape: tuple[int, ...], weight: bool, bias: bool, factory: dict) -> None:
    """Parameters ``weight`` = 1 and ``bias`` = 0 of ``shape``, or None where not wanted (as PyTorch)."""
    module.register_parameter("weight", Parameter(ones(shape, **factory)) if weight else None)
    module.register_parameter("bias", Parameter(zeros(shape, **factory)) if weight and bias else None)


def _reset_affine(module: Module) -> None:
    """weight = 1 and bias = 0 (those that exist)."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _BatchNorm(Module):
    """Batch normalisation over the channel dimension 1 of (N, C, *) inputs, as PyTorch.

    Parameters ``weight`` (C,) = 1 and ``bias`` (C,) = 0 when ``affine``; buffers
    ``running_mean`` = 0, ``running_var`` = 1 and ``num_batches_tracked`` (int64) when
    ``track_running_stats``.  In training the batch statistics normalise and the running ones
    are updated with ``momentum`` (``momentum=None``: a cumulative average, factor
    1 / num_batches_tracked); in evaluation the running statistics normalise (or the batch
    ones when they are not tracked).
    """

    #: the input ranks this layer accepts, for the error message
    ranks: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: str | None = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        factory = {"device": device, "dtype": dtype}
        _register_affine(self, (num_features,), affine, bias, factory)
        stats = (zeros(num_features, **factory), ones(num_features, **factory),
                 tensor(0, dtype=backend.int64, device=device))
        for name, value in zip(("running_mean", "running_var", "num_batches_tracked"), stats):
            self.register_buffer(name, value if track_running_stats else None)

    def reset_running_stats(self) -> None:
        """running_mean = 0, running_var = 1, num_batches_tracked = 0."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Reset the running statistics, weight = 1 and bias = 0."""
        self.reset_running_stats()
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in self.ranks:
            expected = " or ".join(f"{n}D" for n in self.ranks)
            raise ValueError(f"{type(self).__name__}: expected {expected} input (got {input.ndim}D input)")
        if input.shape[1] != self.num_features:
            raise RuntimeError(f"{type(self).__name__}({self.num_features}): expected input with {self.num_features} "
                               f"channels (dimension 1), got input of shape {tuple(input.shape)}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.item())
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                          self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, C) or (N, C, L) inputs; statistics over N (and L) per channel."""

    ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm of (N, C, H, W) inputs; statistics over N, H and W per channel."""

    ranks = (4,)


class LayerNorm(Module):
    """Normalise each sample over its last dimensions ``normalized_shape``, as ``torch.nn.LayerNorm``.

    ``weight`` = 1 and ``bias`` = 0 of shape ``normalized_shape`` when ``elementwise_affine``
    (``bias=False`` drops the bias).
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: str | None = None, dtype: Any = None) -> None:
        super().__init__()
        shape = as_shape(normalized_shape)
        self.normalized_shape = shape
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _register_affine(self, shape, elementwise_affine, bias, {"device": device, "dtype": dtype})

    def reset_parameters(self) -> None:
        """weight = 1, bias = 0."""
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")
