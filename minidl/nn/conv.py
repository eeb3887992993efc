"""``Conv1d`` and ``Conv2d``: convolution layers, as ``torch.nn.Conv1d`` / ``torch.nn.Conv2d``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from minidl.autograd.tensor import Tensor
from minidl.functional._checks import expand_param
from minidl.functional.conv import conv1d, conv2d, conv_padding
from minidl.nn import init
from minidl.nn.linear import add_weight_and_bias
from minidl.nn.module import Module
from minidl.ops.conv import padding_pairs
from minidl.ops.shape import pad

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """The shared part of :class:`Conv1d` and :class:`Conv2d` (``nd`` spatial dimensions).

    ``weight`` is (out_channels, in_channels / groups, *kernel_size) and ``bias`` (out_channels,)
    (None when ``bias=False``).  PyTorch's default initialisation: kaiming_uniform_(a=sqrt(5))
    for the weight, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels / groups
    * prod(kernel_size), and the same bound for the bias.  ``padding_mode`` other than 'zeros'
    pads the input explicitly (:func:`minidl.pad`) and then convolves without padding.
    """

    nd: int  #: number of spatial dimensions
    _conv: Callable[..., Tensor]  #: conv1d or conv2d

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: str | int | tuple[int, ...] = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: str | None = None, dtype: Any = None) -> None:
        super().__init__()
        name, nd = type(self).__name__, self.nd
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
        for what, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
            if channels % groups:
                raise ValueError(f"{name}: {what} must be divisible by groups, got {what}={channels}, "
                                 f"groups={groups}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = expand_param(name, "kernel_size", kernel_size, nd, minimum=1)
        self.stride = expand_param(name, "stride", stride, nd, minimum=1)
        self.dilation = expand_param(name, "dilation", dilation, nd, minimum=1)
        self.padding = conv_padding(name, padding, nd, self.stride)
        pads = padding_pairs(self.padding, self.kernel_size, self.dilation)
        self.padding_mode = padding_mode
        # F.pad's argument for the non-zero modes: last dimension first, (before, after) each
        self._reversed_padding_repeated_twice = [p for lo_hi in reversed(pads) for p in lo_hi]
        add_weight_and_bias(self, (out_channels, in_channels // groups, *self.kernel_size), bias, device, dtype)

    def reset_parameters(self) -> None:
        """Draw the weight and bias again with PyTorch's default initialisation."""
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        if self.padding_mode == "zeros":
            return self._conv(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        padded = pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
        return self._conv(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def extra_repr(self) -> str:
        """PyTorch's text: ``128, 256, kernel_size=(3,), stride=(1,), padding=(1,)`` (defaults left out)."""
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self.nd:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-D convolution layer: (N, in_channels, L) or (in_channels, L) -> (N, out_channels, L_out);
    see :func:`minidl.functional.conv1d` for the output length and the padding strings."""

    nd = 1
    _conv = staticmethod(conv1d)


class Conv2d(_ConvNd):
    """2-D convolution layer: (N, in_channels, H, W) or (in_channels, H, W) -> (N, out_channels, H_out,
    W_out); see :func:`minidl.functional.conv2d`."""

    nd = 2
    _conv = staticmethod(conv2d)
