"""Weight initialisation, as ``torch.nn.init``.

Every initialiser fills a tensor in place (under ``no_grad``) and returns it.  Random ones draw
from the generator behind ``minidl.manual_seed`` on the tensor's device, directly in the
tensor's dtype (a float32 weight gets float32 draws, never float64 draws cast down).

Fans follow PyTorch: for a weight of shape (out, in, *kernel) the receptive field is
prod(kernel), ``fan_in = in * receptive`` and ``fan_out = out * receptive`` (so a Linear
weight (out, in) has fan_in = in).

The paper's "weight scale" hyper-parameter is the standard deviation ``std`` of
:func:`normal_`: weights ~ N(0, weight_scale^2).
"""

from __future__ import annotations

import math
import warnings

from minidl import backend
from minidl.autograd import random
from minidl.autograd.grad_mode import no_grad
from minidl.autograd.tensor import Tensor
from minidl.ops.inplace import copy_, fill_

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for weights followed by ``nonlinearity``, as PyTorch:

    linear/conv*/sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu sqrt(2 / (1 + slope^2))
    (slope = ``param``, default 0.01), selu 3/4.
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) = (in * receptive, out * receptive) for a weight (out, in, *kernel)."""
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
                         f"(got shape {tuple(tensor.shape)})")
    receptive_field_size = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field_size, tensor.shape[0] * receptive_field_size


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill_random(op: str, tensor: Tensor, kind: str, scale: float, shift: float) -> Tensor:
    """tensor <- scale * draw + shift, with ``draw`` from the generator's ``kind`` in tensor's dtype."""
    if not backend.is_floating(tensor.dtype):
        raise TypeError(f"{op}: can only fill a floating-point tensor, got dtype {tensor.dtype}")
    draw = getattr(random.generator(tensor.device), kind)(tensor.shape, dtype=tensor.dtype)
    draw *= float(scale)
    draw += float(shift)
    with no_grad():
        return copy_(tensor, draw)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with samples of U[a, b)."""
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={a} > to={b}")
    return _fill_random("uniform_", tensor, "random", b - a, a)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with samples of N(mean, std^2) (``std`` is the paper's "weight scale")."""
    if std < 0:
        raise RuntimeError(f"normal_ expects std >= 0.0, but found std {std}")
    return _fill_random("normal_", tensor, "standard_normal", std, mean)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with the value ``val``."""
    with no_grad():
        return fill_(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def _no_op_if_empty(tensor: Tensor) -> bool:
    """True (with PyTorch's warning) when the tensor has no elements to initialise."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def _xavier_std(tensor: Tensor, gain: float) -> float:
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    bound = math.sqrt(3.0) * _xavier_std(tensor, gain)
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    return normal_(tensor, 0.0, _xavier_std(tensor, gain))


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """He uniform: U(-bound, bound) with bound = gain * sqrt(3 / fan_mode).

    ``a`` is the negative slope of the leaky ReLU (gain = sqrt(2 / (1 + a^2))); ``a=sqrt(5)``
    gives PyTorch's default Linear init U(-1/sqrt(fan_in), 1/sqrt(fan_in)).  A tensor with no
    elements is left alone (with a warning), as in PyTorch.
    """
    if _no_op_if_empty(tensor):
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """He normal: N(0, std^2) with std = gain / sqrt(fan_mode) (see :func:`kaiming_uniform_`)."""
    if _no_op_if_empty(tensor):
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity))



def default_layer_init_(weight: Tensor, bias: Tensor | None) -> None:
    """PyTorch's default initialisation of ``Linear`` and ``ConvNd`` (their ``reset_parameters``).

    weight ~ kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias from
    the same uniform distribution (0 when fan_in is 0).
    """
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)
