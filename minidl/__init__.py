"""minidl: a readable deep learning engine in NumPy (CuPy on a GPU) that matches PyTorch.

Layers, each importing only from the ones before it::

    backend   NumPy or CuPy, devices, dtypes, the random generator
    autograd  Tensor, Function, the backward engine, no_grad, gradcheck, factories
    ops       every differentiable primitive (and the Tensor methods that call them)
    functional, nn, optim, data, metrics, cli
"""

from minidl import backend, cuda, functional, nn, optim
from minidl.autograd import (
    Function,
    GradcheckError,
    Tensor,
    arange,
    enable_grad,
    from_numpy,
    full,
    full_like,
    get_rng_state,
    gradcheck,
    is_grad_enabled,
    manual_seed,
    no_grad,
    ones,
    ones_like,
    rand,
    rand_like,
    randn,
    randn_like,
    set_rng_state,
    tensor,
    zeros,
    zeros_like,
)
from minidl.backend import bool_, float32, float64, get_num_threads, int32, int64, set_num_threads, uint8
from minidl.ops import *  # noqa: F403 - the PyTorch-style top-level functions (minidl.exp, minidl.cat, ...)
from minidl.ops import __all__ as _ops_all
from minidl.serialization import SerializationError, load, save

float = float32  # noqa: A001 - PyTorch's aliases: minidl.float is float32, minidl.double is float64
double = float64
long = int64

__version__ = "0.1.0"
__all__ = [
    "Function", "GradcheckError", "SerializationError", "Tensor", "arange", "backend", "bool_", "cuda",
    "double", "enable_grad", "float", "float32", "float64", "from_numpy", "functional", "full", "full_like",
    "get_num_threads", "get_rng_state", "gradcheck", "int32", "int64", "is_grad_enabled", "load", "long",
    "manual_seed", "nn",
    "no_grad", "optim", "ones", "ones_like", "rand", "rand_like", "randn", "randn_like", "save",
    "set_num_threads", "set_rng_state", "tensor", "uint8", "zeros", "zeros_like", *_ops_all,
]
