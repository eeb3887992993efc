"""Pooling layers, as in ``torch.nn``: ``MaxPool1d/2d``, ``AvgPool1d/2d``, ``AdaptiveAvgPool1d/2d``.

Each stores its arguments exactly as PyTorch does (so ``repr`` matches) and calls the function
of the same name in :mod:`minidl.functional.pooling`.
"""

from __future__ import annotations

from typing import Any

from minidl.autograd.tensor import Tensor
from minidl.functional import pooling as P
from minidl.nn.module import Module


class _MaxPoolNd(Module):
    """Max pooling; ``stride`` defaults to ``kernel_size``.  ``return_indices=True`` is not supported."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        if return_indices:
            raise NotImplementedError(f"{type(self).__name__}: return_indices=True is not supported by minidl")
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """(N, C, L) or (C, L) -> (N, C, L_out): the max of each window (:func:`minidl.functional.max_pool1d`)."""

    def forward(self, input: Tensor) -> Tensor:
        return P.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)


class MaxPool2d(_MaxPoolNd):
    """(N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out): the max of each window
    (:func:`minidl.functional.max_pool2d`)."""

    def forward(self, input: Tensor) -> Tensor:
        return P.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)


class AvgPool1d(Module):
    """(N, C, L) or (C, L) -> (N, C, L_out): the mean of each window (:func:`minidl.functional.avg_pool1d`).

    As in PyTorch, the sizes are stored as 1-tuples.
    """

    def __init__(self, kernel_size: int | tuple[int], stride: int | tuple[int] | None = None,
                 padding: int | tuple[int] = 0, ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return P.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """(N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out): the mean of each window
    (:func:`minidl.functional.avg_pool2d`)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return P.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AdaptiveAvgPoolNd(Module):
    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """(N, C, L) or (C, L) -> (N, C, output_size) (:func:`minidl.functional.adaptive_avg_pool1d`);
    ``AdaptiveAvgPool1d(1)`` is global average pooling over time."""

    def forward(self, input: Tensor) -> Tensor:
        return P.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """(N, C, H, W) or (C, H, W) -> (N, C, *output_size) (:func:`minidl.functional.adaptive_avg_pool2d`)."""

    def forward(self, input: Tensor) -> Tensor:
        return P.adaptive_avg_pool2d(input, self.output_size)


def _single(value: Any) -> tuple:
    """PyTorch's ``_single``: an int as a 1-tuple, a tuple or list as a tuple."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)
