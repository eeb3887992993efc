"""A description translated into PyTorch: its own translator, written from the description alone.

This module imports ``torch`` (a test-only dependency) and is itself imported only when a caller
asks for ``backend="torch"`` (:func:`minidl.spec.build`).  It does not copy minidl's module tree:
each layer type is translated here with ``torch.nn``'s classes, so a translation bug on either
side shows as a parity failure.  Module names (and so ``state_dict`` keys) follow the same
convention as :mod:`minidl.spec.backend_minidl`: ``"0.fc.weight"``, ..., ``"output.fc.bias"``.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from minidl.spec import backend_minidl, schema
from minidl.spec.backend_minidl import Built, map_arrays
from minidl.spec.masks import DropoutMasks

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU,
               "none": nn.Identity}
OPTIMIZERS = {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop, "sgd_momentum": torch.optim.SGD}
DTYPES = {"float32": torch.float32, "float64": torch.float64}
Parts = list[tuple[str, nn.Module]]


class ClipToChannels(nn.Module):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return input.transpose(1, 2)


class ClipToImage(nn.Module):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return input.unsqueeze(1)


class GlobalPool(nn.Module):
    def __init__(self, op: str, axes: tuple[int, ...]) -> None:
        super().__init__()
        self.op, self.axes = op, axes

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return input.mean(self.axes) if self.op == "mean" else input.amax(self.axes)


class Residual(nn.Module):
    """act(branch(x) + shortcut(x)); branch = Linear, act, ..., Linear (``depth`` Linear layers)."""

    def __init__(self, n_in: int, n_out: int, depth: int, activation: str) -> None:
        super().__init__()
        widths = [n_in] + [n_out] * depth
        layers: list[nn.Module] = []
        for a, b in zip(widths, widths[1:]):
            layers += [nn.Linear(a, b), ACTIVATIONS[activation]()]
        self.branch = nn.Sequential(*layers[:-1])
        self.shortcut = nn.Identity() if n_in == n_out else nn.Linear(n_in, n_out, bias=False)
        self.activation = ACTIVATIONS[activation]()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return self.activation(self.branch(input) + self.shortcut(input))


class AttentionPool(nn.Module):
    def __init__(self, in_features: int, units: int, activation: str) -> None:
        super().__init__()
        self.values = nn.Linear(in_features, units)
        self.attention = nn.Linear(in_features, units, bias=False)  # a bias would cancel in the softmax
        self.act = ACTIVATIONS[activation]()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return (torch.softmax(self.attention(input), dim=1) * self.act(self.values(input))).sum(dim=1)


class MaskedDropout(nn.Module):
    def __init__(self, rate: float, masks: DropoutMasks, key: int) -> None:
        super().__init__()
        self.rate, self.masks, self.key = rate, masks, key

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return input
        return input * torch.from_numpy(self.masks(self.key, tuple(input.shape), self.rate)).to(input.dtype)


class SigmoidMSELoss(nn.Module):
    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(torch.sigmoid(input), target)


class Objective(nn.Module):
    def __init__(self, criterion: nn.Module, l2: float, weights: list[nn.Parameter]) -> None:
        super().__init__()
        self.criterion, self.l2, self.weights = criterion, l2, weights

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = self.criterion(output, target)
        if self.l2 > 0:
            loss = loss + self.l2 / 2 * sum((w * w).sum() for w in self.weights)
        return loss


def _parts(layer: schema.Layer, shape: schema.Shape, masks: DropoutMasks | None, key: int) -> Parts:
    flatten = [] if shape.layout == "flat" else [("flatten", nn.Flatten())]
    rate = getattr(layer, "dropout", getattr(layer, "rate", 0.0))
    drop = [] if rate == 0 else [("dropout", nn.Dropout(rate) if masks is None else MaskedDropout(rate, masks, key))]
    act = [] if getattr(layer, "activation", "none") == "none" else [("act", ACTIVATIONS[layer.activation]())]
    match layer:
        case schema.FC():
            return [*flatten, ("fc", nn.Linear(shape.size, layer.units)), *act, *drop]
        case schema.FrameFC():
            return [("fc", nn.Linear(shape.dims[1], layer.units)), *act, *drop]
        case schema.AttentionPool():
            return [("attention", AttentionPool(shape.dims[1], layer.units, layer.activation))]
        case schema.Residual():
            return [*flatten, ("block", Residual(shape.size, layer.units, layer.depth, layer.activation)), *drop]
        case schema.Conv1d():
            clip = shape.layout == "clip"
            conv = nn.Conv1d(shape.dims[1] if clip else shape.dims[0], layer.channels, layer.kernel, layer.stride,
                             layer.padding)
            return [*([("to_channels", ClipToChannels())] if clip else []), ("conv", conv), *act, *drop]
        case schema.Conv2d():
            clip = shape.layout == "clip"
            conv = nn.Conv2d(1 if clip else shape.dims[0], layer.channels, layer.kernel, layer.stride, layer.padding)
            return [*([("to_image", ClipToImage())] if clip else []), ("conv", conv), *act, *drop]
        case schema.Pool():
            return [("pool", GlobalPool(layer.op, layer.axes(shape)))]
        case schema.BatchNorm():
            return [("norm", (nn.BatchNorm2d if shape.layout == "image" else nn.BatchNorm1d)(shape.dims[0]))]
        case schema.Activation():
            return act
        case schema.Flatten():
            return [("flatten", nn.Flatten())]
        case schema.Dropout():
            return drop
    raise TypeError(f"the torch backend cannot build a {layer.type!r} layer")


def build(desc: schema.Description, device: str = "cpu", dtype: Any = "float32",
          masks: DropoutMasks | None = None) -> Built:
    """(model, loss_fn, optimizer) in PyTorch; initial weights from ``torch.manual_seed(desc.training.seed)``."""
    torch.manual_seed(desc.training.seed)
    children = [(str(i), nn.Sequential(OrderedDict(_parts(layer, desc.in_shape(i), masks, i))))
                for i, layer in enumerate(desc.layers)]
    shape = desc.in_shape(len(desc.layers))
    flatten = [] if shape.layout == "flat" else [("flatten", nn.Flatten())]
    children.append(("output", nn.Sequential(OrderedDict([*flatten, ("fc", nn.Linear(shape.size,
                                                                                      desc.output.units))]))))
    model = nn.Sequential(OrderedDict(children))
    if desc.init.scheme == "normal":
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                nn.init.normal_(module.weight, 0.0, desc.init.weight_scale)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
    model = model.to(device=device, dtype=DTYPES[str(dtype).removeprefix("minidl.")])
    criterion = nn.BCEWithLogitsLoss() if desc.loss.type == "sigmoid_cross_entropy" else SigmoidMSELoss()
    weights = [p for p in model.parameters() if p.ndim > 1]
    optimizer = OPTIMIZERS[desc.optimizer.type](model.parameters(), **desc.optimizer.kwargs())
    return Built(model, Objective(criterion, desc.regularization.l2, weights), optimizer)


def get_weights(model: nn.Module) -> dict[str, np.ndarray]:
    """Every parameter and buffer as a NumPy array, by ``state_dict`` key."""
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def set_weights(model: nn.Module, weights: dict[str, np.ndarray]) -> None:
    """Load NumPy arrays (by ``state_dict`` key) into ``model``, in its dtype and on its device."""
    like = next(model.parameters())
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)).to(like.device, like.dtype if v.dtype.kind == "f"
                                                                  else None) for k, v in weights.items()})


# ---------------------------------------------------------------------------------- for the trainer
no_grad = torch.no_grad


# ---------------------------------------------------------------------------------- for the trainer
# The same names as minidl.spec.backend_minidl's (see there).
def to_tensor(array: np.ndarray, device: str = "cpu") -> torch.Tensor:
    return torch.from_numpy(array).to(device)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


#: PyTorch's training step and inference are minidl's, word for word (see backend_minidl.train_step)
train_step = partial(backend_minidl.train_step, to_tensor=to_tensor, to_numpy=to_numpy)
predict = partial(backend_minidl.predict, to_tensor=to_tensor, to_numpy=to_numpy, no_grad=torch.no_grad)


def random_state(model: nn.Module) -> np.ndarray:
    """PyTorch's CPU generator (dropout draws from it)."""
    return torch.get_rng_state().numpy().copy()


def load_random_state(model: nn.Module, state: np.ndarray) -> None:
    torch.set_rng_state(torch.from_numpy(np.asarray(state, np.uint8)))


def optimizer_state(optimizer: torch.optim.Optimizer) -> Any:
    return map_arrays(optimizer.state_dict(), to_numpy, torch.Tensor)


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: Any, device: str = "cpu") -> None:
    optimizer.load_state_dict(map_arrays(state, lambda a: torch.from_numpy(np.array(a)).to(device), np.ndarray))


class Runner(backend_minidl.Runner):
    """One training step at a time on NumPy batches (see :class:`minidl.spec.backend_minidl.Runner`)."""

    build = staticmethod(build)
    train_step = staticmethod(train_step)
