"""``Linear``: a fully connected layer, y = x W^T + b."""

from __future__ import annotations

from typing import Any

from minidl.autograd.creation import zeros
from minidl.autograd.tensor import Tensor
from minidl.functional.linear import linear
from minidl.nn import init
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter


class Linear(Module):
    """y = x W^T + b for x (*, in_features) -> y (*, out_features), as ``torch.nn.Linear``.

    ``weight`` is (out_features, in_features) and ``bias`` (out_features,) (None when
    ``bias=False``).  PyTorch's default initialisation: kaiming_uniform_(a=sqrt(5)) for the
    weight, which is U(-1/sqrt(in_features), 1/sqrt(in_features)), and the same bound for the
    bias; drawn from the generator of ``minidl.manual_seed`` in the parameter's dtype.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: str | None = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        add_weight_and_bias(self, (out_features, in_features), bias, device, dtype)

    def reset_parameters(self) -> None:
        """Draw the weight and bias again with PyTorch's default initialisation."""
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def add_weight_and_bias(module: Module, weight_shape: tuple[int, ...], bias: bool, device: str | None,
                        dtype: Any) -> None:
    """Register ``weight`` (weight_shape) and ``bias`` (weight_shape[0],), or ``bias = None``, on a
    Linear or Conv layer, initialised as PyTorch does (:func:`minidl.nn.init.default_layer_init_`)."""
    module.weight = Parameter(zeros(*weight_shape, device=device, dtype=dtype))
    if bias:
        module.bias = Parameter(zeros(weight_shape[0], device=device, dtype=dtype))
    else:
        module.register_parameter("bias", None)
    module.reset_parameters()
