"""PyTorch interop, for tests and benchmarks: tensors, equivalent modules, weights both ways.

This is the only module of minidl that imports ``torch`` (a test-only dependency); ``import
minidl`` never imports it.  Use it as::

    from minidl.interop import torch as interop

    ref = interop.to_torch(model)            # an equivalent torch.nn.Module with the same weights
    interop.copy_to_torch(model, ref)        # minidl -> torch, by state-dict key
    interop.copy_from_torch(ref, model)      # torch -> minidl

``to_torch`` rebuilds the module tree (containers, layers, activations, the residual blocks)
with PyTorch's classes and the same constructor arguments, so state-dict keys, reprs and
outputs agree.  A module type without a known equivalent is an error, never a silent guess.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import torch

from minidl import backend
from minidl import nn as mnn
from minidl.autograd.creation import tensor as md_tensor
from minidl.autograd.tensor import Tensor

#: constructor arguments copied by name from a minidl module to its torch.nn namesake
_ARGS: dict[str, tuple[str, ...]] = {
    "Identity": (), "ReLU": (), "Sigmoid": (), "Tanh": (),
    "LeakyReLU": ("negative_slope",), "GELU": ("approximate",), "Softplus": ("beta", "threshold"),
    "ELU": ("alpha",), "SiLU": (), "Embedding": ("num_embeddings", "embedding_dim", "padding_idx"),
    "Softmax": ("dim",), "LogSoftmax": ("dim",), "Flatten": ("start_dim", "end_dim"), "Dropout": ("p",),
    "Linear": ("in_features", "out_features"),
    "Conv1d": ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups"),
    "Conv2d": ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups"),
    "BatchNorm1d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "BatchNorm2d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "LayerNorm": ("normalized_shape", "eps", "elementwise_affine"),
    "MaxPool1d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    "MaxPool2d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    "AvgPool1d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"),
    "AvgPool2d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"),
    "AdaptiveAvgPool1d": ("output_size",), "AdaptiveAvgPool2d": ("output_size",),
}
#: layers whose ``bias`` argument says whether a bias parameter exists
_HAS_BIAS_ARG = {"Linear", "Conv1d", "Conv2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm"}
_CONTAINERS = {"Sequential", "ModuleList"}
_TORCH_DTYPES = {backend.float32: torch.float32, backend.float64: torch.float64}


class ResidualBlock(torch.nn.Module):
    """The torch twin of :class:`minidl.nn.ResidualBlock`: activation(branch(x) + shortcut(x))."""

    def __init__(self, branch: torch.nn.Module, shortcut: torch.nn.Module, activation: torch.nn.Module) -> None:
        super().__init__()
        self.branch = branch
        self.shortcut = shortcut
        self.activation = activation

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return self.activation(self.branch(input) + self.shortcut(input))


class ResidualBlock1d(ResidualBlock):
    """The torch twin of :class:`minidl.nn.ResidualBlock1d` (same computation, Conv1d layers)."""


_RESIDUALS = {"ResidualBlock": ResidualBlock, "ResidualBlock1d": ResidualBlock1d}


# ---------------------------------------------------------------------------------- tensors
def to_torch_tensor(t: Tensor) -> torch.Tensor:
    """A torch CPU tensor with a copy of ``t``'s values (same dtype; no graph)."""
    return torch.from_numpy(np.array(backend.to_numpy(t.array)))


def from_torch_tensor(t: torch.Tensor, device: str | None = None) -> Tensor:
    """A minidl tensor with a copy of ``t``'s values (same dtype), on ``device`` (default CPU)."""
    return md_tensor(t.detach().cpu().numpy(), device=device)


# ---------------------------------------------------------------------------------- modules
def _convert(module: Any) -> torch.nn.Module:
    """The torch module equivalent to ``module`` (its children converted recursively)."""
    name = type(module).__name__
    supported = {*_ARGS, *_CONTAINERS, *_RESIDUALS}
    if name not in supported or type(module) is not getattr(mnn, name, None):  # no subclass: its forward may differ
        raise TypeError(f"to_torch: no PyTorch equivalent for module {name} ({type(module).__module__}); "
                        f"supported: minidl.nn's {', '.join(sorted(supported))}")
    children = OrderedDict((key, _convert(child)) for key, child in module.named_children())
    if name in _CONTAINERS:
        built = getattr(torch.nn, name)(children) if name == "Sequential" else torch.nn.ModuleList(children.values())
    elif name in _RESIDUALS:
        built = _RESIDUALS[name](**children)
    else:
        kwargs = {arg: getattr(module, arg) for arg in _ARGS[name]}
        if name in _HAS_BIAS_ARG:
            kwargs["bias"] = module.bias is not None
        built = getattr(torch.nn, name)(**kwargs)
    built.training = module.training
    return built


def to_torch(module: Any) -> torch.nn.Module:
    """An equivalent torch.nn.Module (CPU, same dtype, same train/eval modes) with ``module``'s weights."""
    built = _convert(module)
    dtypes = {p.dtype for p in module.parameters()}
    if len(dtypes) > 1:
        raise TypeError(f"to_torch: parameters of mixed dtypes {sorted(map(str, dtypes))}")
    if dtypes:
        built = built.to(_TORCH_DTYPES[dtypes.pop()])
    copy_to_torch(module, built)
    return built


def copy_to_torch(module: Any, torch_module: torch.nn.Module) -> None:
    """Copy every parameter and buffer of ``module`` into ``torch_module`` (keys must match exactly)."""
    torch_module.load_state_dict(OrderedDict((k, to_torch_tensor(v)) for k, v in module.state_dict().items()))


def copy_from_torch(torch_module: torch.nn.Module, module: Any) -> None:
    """Copy every parameter and buffer of ``torch_module`` into ``module`` (keys must match exactly)."""
    device = next((p.device for p in module.parameters()), None)
    module.load_state_dict(OrderedDict((k, from_torch_tensor(v, device))
                                       for k, v in torch_module.state_dict().items()))
