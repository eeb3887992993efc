"""Tensors and reverse-mode automatic differentiation.

``tensor`` (the ``Tensor`` class), ``function`` (the ``Function`` base class of every primitive),
``custom_function`` (``minidl.autograd.Function``: PyTorch's custom functions, ``forward(ctx, ...)``),
``engine`` (the iterative backward pass), ``gradients`` (``grad``: gradients returned, not accumulated),
``hooks`` (hook registries and their handles), ``grad_mode`` (``no_grad``/``enable_grad``),
``creation`` (factories), ``random`` (the seeded generators) and ``gradcheck``; ``anomaly``
(``detect_anomaly``: stop at the first NaN or Inf) and ``wrapping`` (how it and the profiler hook in).
"""

from minidl.autograd.anomaly import detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled, set_detect_anomaly
from minidl.autograd.creation import (
    DoubleTensor,
    FloatTensor,
    LongTensor,
    arange,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from minidl.autograd.custom_function import Function
from minidl.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad
from minidl.autograd.gradcheck import GradcheckError, gradcheck
from minidl.autograd.gradients import grad
from minidl.autograd.random import Generator, get_rng_state, initial_seed, manual_seed, set_rng_state
from minidl.autograd.tensor import Tensor

__all__ = [
    "Function", "Generator", "GradcheckError", "Tensor", "arange", "enable_grad", "from_numpy", "full", "full_like",
    "get_rng_state", "gradcheck", "initial_seed", "is_grad_enabled", "manual_seed", "no_grad", "ones", "ones_like",
    "rand", "rand_like", "randn", "randn_like", "set_rng_state", "tensor", "zeros", "zeros_like",
    "DoubleTensor", "FloatTensor", "LongTensor", "empty", "empty_like", "eye", "linspace", "logspace", "normal",
    "randint", "randperm",
    "grad", "detect_anomaly", "is_anomaly_check_nan_enabled", "is_anomaly_enabled", "set_detect_anomaly",
]
