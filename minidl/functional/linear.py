"""``linear``: the affine map of a fully connected layer, and the argument check shared by the
functional layers and losses (:func:`check_like`)."""

from __future__ import annotations

from minidl import backend
from minidl.autograd.tensor import Tensor
from minidl.ops.linear import Linear


def check_like(op: str, name: str, value: Tensor, like: Tensor) -> None:
    """Require ``value`` (argument ``name`` of ``op``) to be a tensor with ``like``'s dtype and device.

    minidl never promotes a float32 computation to float64 behind your back, so a float64
    weight or target next to a float32 input is an error, not a silent upcast.
    """
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(value).__name__}")
    if value.dtype != like.dtype:
        raise TypeError(f"{op}: {name} has dtype {value.dtype} but input has dtype {like.dtype}; "
                        f"convert it explicitly (e.g. {name}.to(input.dtype))")
    if value.device != like.device:
        raise RuntimeError(f"{op}: {name} is on {value.device} but input is on {like.device}")


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input W^T + b:  input (*, in_features), weight (out_features, in_features),
    bias (out_features,) or None -> y (*, out_features).  One fused node (:class:`~minidl.ops.linear.Linear`)."""
    if not backend.is_floating(input.dtype):
        raise TypeError(f"linear: input must be a floating tensor, got {input.dtype}")
    check_like("linear", "weight", weight, input)
    if weight.ndim != 2 or input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise RuntimeError(f"linear: input of shape {tuple(input.shape)} and weight of shape "
                           f"{tuple(weight.shape)} (out_features, in_features) cannot be multiplied")
    if bias is None:
        return Linear.apply(input, weight)
    check_like("linear", "bias", bias, input)
    if tuple(bias.shape) != (weight.shape[0],):
        raise RuntimeError(f"linear: bias of shape {tuple(bias.shape)} does not match out_features = "
                           f"{weight.shape[0]}; expected shape ({weight.shape[0]},)")
    return Linear.apply(input, weight, bias)
