"""``linear``: the affine map of a fully connected layer, with its argument checks."""

from __future__ import annotations

from minidl.autograd.tensor import Tensor
from minidl.functional._checks import check_floating, check_like
from minidl.ops.linear import Linear


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input W^T + b:  input (*, in_features), weight (out_features, in_features),
    bias (out_features,) or None -> y (*, out_features).
    One fused node (:class:`~minidl.ops.linear.Linear`)."""
    check_floating("linear", input)
    check_like("linear", "weight", weight, input)
    if weight.ndim != 2 or input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise RuntimeError(f"linear: input of shape {tuple(input.shape)} and weight of shape "
                           f"{tuple(weight.shape)} (out_features, in_features) cannot be multiplied")
    if bias is not None:
        check_like("linear", "bias", bias, input)
        if tuple(bias.shape) != (weight.shape[0],):
            raise RuntimeError(f"linear: bias of shape {tuple(bias.shape)} does not match out_features = "
                               f"{weight.shape[0]}; expected shape ({weight.shape[0]},)")
    return Linear.apply(input, weight, bias)
