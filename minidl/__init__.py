"""minidl: a readable deep learning engine in NumPy (CuPy on a GPU) that matches PyTorch.

Layers, each importing only from the ones before it::

    backend   NumPy or CuPy, devices, dtypes (and speed: the process-wide speed settings)
    autograd  Tensor, Function, the backward engine, no_grad, gradcheck, factories, the random state
    ops       every differentiable primitive (and the Tensor methods that call them)
    functional, nn, optim, data, metrics, cli
"""

from minidl import accelerator, backend, cuda, functional, nn, optim, profiler, speed, utils
from minidl.autograd import (
    DoubleTensor,
    FloatTensor,
    Generator,
    GradcheckError,
    LongTensor,
    Tensor,
    arange,
    empty,
    empty_like,
    enable_grad,
    eye,
    from_numpy,
    full,
    full_like,
    get_rng_state,
    gradcheck,
    initial_seed,
    is_grad_enabled,
    linspace,
    logspace,
    manual_seed,
    no_grad,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    set_rng_state,
    tensor,
    zeros,
    zeros_like,
)
from minidl.autograd.function import Function  # the primitives' base (minidl.autograd.Function takes both forms)
from minidl.backend import Size, device, dtype, get_default_device, set_default_device
from minidl.ops import *  # noqa: F403 - the PyTorch-style top-level functions (minidl.exp, minidl.cat, ...)
from minidl.ops import __all__ as _ops_all
from minidl.serialization import SerializationError, load, save
from minidl.speed import get_num_threads, set_num_threads

speed.apply()  # the process-wide speed settings, each with its measured effect: see minidl/speed.py

# The dtypes, as torch's: they print as ``minidl.float32`` and NumPy accepts them as dtypes.
float32, float64, float16 = dtype("float32"), dtype("float64"), dtype("float16")
int64, int32, int16, int8, uint8 = dtype("int64"), dtype("int32"), dtype("int16"), dtype("int8"), dtype("uint8")
bool = bool_ = dtype("bool")  # noqa: A001 - PyTorch's name
float = float32  # noqa: A001 - PyTorch's aliases: minidl.float is float32, minidl.double is float64, ...
double, half, long, int, short = float64, float16, int64, int32, int16  # noqa: A001

__version__ = "0.1.0"
__all__ = [
    "Function", "Generator", "GradcheckError", "SerializationError", "Tensor", "arange", "backend", "bool_", "cuda",
    "double", "enable_grad", "float", "float32", "float64", "from_numpy", "functional", "full", "full_like",
    "get_num_threads", "get_rng_state", "gradcheck", "initial_seed", "int32", "int64", "is_grad_enabled", "load",
    "long", "manual_seed", "nn", "profiler", "speed",
    "no_grad", "optim", "ones", "ones_like", "rand", "rand_like", "randn", "randn_like", "save",
    "set_num_threads", "set_rng_state", "tensor", "uint8", "utils", "zeros", "zeros_like", *_ops_all,
    "DoubleTensor", "FloatTensor", "LongTensor", "Size", "accelerator", "device", "empty", "empty_like", "eye",
    "get_default_device", "linspace", "logspace", "normal", "randint", "randperm", "set_default_device",
    "bool", "dtype", "float16", "half", "int", "int8", "int16", "short",
]
