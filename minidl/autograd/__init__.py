"""Tensors and reverse-mode automatic differentiation.

``tensor`` (the ``Tensor`` class), ``function`` (the ``Function`` base class of every primitive),
``engine`` (the iterative backward pass), ``grad_mode`` (``no_grad``/``enable_grad``),
``creation`` (factories), ``random`` (the seeded generators) and ``gradcheck``.
"""

from minidl.autograd.creation import (
    arange,
    from_numpy,
    full,
    full_like,
    ones,
    ones_like,
    rand,
    rand_like,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from minidl.autograd.function import Function
from minidl.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad
from minidl.autograd.gradcheck import GradcheckError, gradcheck
from minidl.autograd.random import Generator, get_rng_state, initial_seed, manual_seed, set_rng_state
from minidl.autograd.tensor import Tensor

__all__ = [
    "Function", "Generator", "GradcheckError", "Tensor", "arange", "enable_grad", "from_numpy", "full", "full_like",
    "get_rng_state", "gradcheck", "initial_seed", "is_grad_enabled", "manual_seed", "no_grad", "ones", "ones_like",
    "rand", "rand_like", "randn", "randn_like", "set_rng_state", "tensor", "zeros", "zeros_like",
]
