"""A description translated into minidl: modules, a loss, an optimizer (and a runner for the parity check).

The model is an ``nn.Sequential`` with one named child per description layer (``"0"``, ``"1"``,
..., then ``"output"``), each a ``Sequential`` of named parts: ``fc``/``conv``/``block`` (the
weights), ``act``, ``dropout``, and the reshapes a layer needs (``flatten``, ``to_channels``,
``to_image``).  So ``state_dict`` keys read like ``"1.fc.weight"``, the same in every backend,
and a forward hook on each child sees one description layer's output.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from minidl import backend, nn, optim
from minidl.autograd import Tensor, get_rng_state, manual_seed, no_grad, set_rng_state, tensor
from minidl.functional import mse_loss
from minidl.nn.utils import l2_penalty
from minidl.spec import schema
from minidl.spec.masks import DropoutMasks

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU,
    "none": nn.Identity}
OPTIMIZERS = {"adam": optim.Adam, "rmsprop": optim.RMSprop, "sgd_momentum": optim.SGD}
Parts = list[tuple[str, nn.Module]]
__all__ = ["Built", "Runner", "build", "get_weights", "load_optimizer_state", "load_random_state", "map_arrays",
           "optimizer_state", "predict", "random_state", "set_weights", "to_numpy", "to_tensor", "train_step"]


class ClipToChannels(nn.Module):
    """(N, frames, values) -> (N, values, frames): a clip read as ``values`` channels over time (NCW)."""

    def forward(self, input: Tensor) -> Tensor:
        return input.transpose(1, 2)


class ClipToImage(nn.Module):
    """(N, frames, values) -> (N, 1, frames, values): a clip read as a one-channel image (NCHW)."""

    def forward(self, input: Tensor) -> Tensor:
        return input.unsqueeze(1)


class GlobalPool(nn.Module):
    """The mean or the maximum over ``axes``: (N, C, L) -> (N, C) for axes (2,)."""

    def __init__(self, op: str, axes: tuple[int, ...]) -> None:
        super().__init__()
        self.op, self.axes = op, axes

    def forward(self, input: Tensor) -> Tensor:
        return input.mean(self.axes) if self.op == "mean" else input.amax(self.axes)

    def extra_repr(self) -> str:
        return f"op={self.op!r}, axes={self.axes}"


class MaskedDropout(nn.Module):
    """Dropout whose masks come from a shared :class:`~minidl.spec.masks.DropoutMasks` (parity checks)."""

    def __init__(self, rate: float, masks: DropoutMasks, key: int) -> None:
        super().__init__()
        self.rate, self.masks, self.key = rate, masks, key

    def forward(self, input: Tensor) -> Tensor:
        if not self.training:
            return input
        mask = self.masks(self.key, tuple(input.shape), self.rate).astype(input.dtype)
        return input * tensor(mask, device=input.device)


class AttentionPool(nn.Module):
    """(N, T, D) -> (N, U): ``sum_t softmax_t(x_t W_a^T) * activation(x_t W_v^T + b_v)`` (Kong et al., 2019)."""

    def __init__(self, in_features: int, units: int, activation: str) -> None:
        super().__init__()
        self.values = nn.Linear(in_features, units)
        self.attention = nn.Linear(in_features, units, bias=False)  # a bias would cancel in the softmax
        self.act = ACTIVATIONS[activation]()

    def forward(self, input: Tensor) -> Tensor:
        weights = self.attention(input).softmax(dim=1)  # (N, T, U): over the frames
        return (weights * self.act(self.values(input))).sum(dim=1)


class SigmoidMSELoss(nn.Module):
    """The paper's mean squared error option: ``mean((sigmoid(logits) - target)^2)``."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return mse_loss(input.sigmoid(), target)


class Objective(nn.Module):
    """``criterion(output, target) + l2 / 2 * sum of squared weights`` (the paper's regularisation loss)."""

    def __init__(self, criterion: nn.Module, l2: float, weights: list[nn.Parameter]) -> None:
        super().__init__()
        self.criterion, self.l2, self.weights = criterion, l2, weights

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        loss = self.criterion(output, target)
        return loss + l2_penalty(self.weights, self.l2) if self.l2 > 0 else loss


class Built(NamedTuple):
    model: Any
    loss_fn: Any
    optimizer: Any


# ---------------------------------------------------------------------------------- layers
def _flatten(shape: schema.Shape) -> Parts:
    return [] if shape.layout == "flat" else [("flatten", nn.Flatten())]


def _act(name: str) -> Parts:
    return [] if name == "none" else [("act", ACTIVATIONS[name]())]


def _dropout(rate: float, masks: DropoutMasks | None, key: int) -> Parts:
    if rate == 0:
        return []
    return [("dropout", nn.Dropout(rate) if masks is None else MaskedDropout(rate, masks, key))]


def _parts(layer: schema.Layer, shape: schema.Shape, masks: DropoutMasks | None, key: int) -> Parts:
    """The named modules of one description layer whose per-sample input is ``shape``."""
    drop = _dropout(getattr(layer, "dropout", getattr(layer, "rate", 0.0)), masks, key)
    match layer:
        case schema.FC():
            return [*_flatten(shape), ("fc", nn.Linear(shape.size, layer.units)), *_act(layer.activation), *drop]
        case schema.FrameFC():  # Linear acts on the last axis: every frame alike
            return [("fc", nn.Linear(shape.dims[1], layer.units)), *_act(layer.activation), *drop]
        case schema.AttentionPool():
            return [("attention", AttentionPool(shape.dims[1], layer.units, layer.activation))]
        case schema.Residual():
            block = nn.ResidualBlock(shape.size, layer.units, activation=ACTIVATIONS[layer.activation],
                                     depth=layer.depth)
            return [*_flatten(shape), ("block", block), *drop]
        case schema.Conv1d():
            clip = shape.layout == "clip"  # (frames, values) is read as values channels x frames
            conv = nn.Conv1d(shape.dims[1] if clip else shape.dims[0], layer.channels, layer.kernel, layer.stride,
                             layer.padding)
            return [*([("to_channels", ClipToChannels())] if clip else []), ("conv", conv), *_act(layer.activation),
                    *drop]
        case schema.Conv2d():
            clip = shape.layout == "clip"  # (frames, values) is read as 1 channel x frames x values
            conv = nn.Conv2d(1 if clip else shape.dims[0], layer.channels, layer.kernel, layer.stride, layer.padding)
            return [*([("to_image", ClipToImage())] if clip else []), ("conv", conv), *_act(layer.activation), *drop]
        case schema.Pool():
            return [("pool", GlobalPool(layer.op, layer.axes(shape)))]
        case schema.BatchNorm():
            return [("norm", (nn.BatchNorm2d if shape.layout == "image" else nn.BatchNorm1d)(shape.dims[0]))]
        case schema.Activation():
            return _act(layer.activation)
        case schema.Flatten():
            return [("flatten", nn.Flatten())]
        case schema.Dropout():
            return drop
    raise TypeError(f"the minidl backend cannot build a {layer.type!r} layer")


def build_model(desc: schema.Description, masks: DropoutMasks | None = None) -> nn.Sequential:
    """The model (float32, CPU): one child per layer, then ``"output"``; weights drawn from the current seed."""
    children = [(str(i), nn.Sequential(OrderedDict(_parts(layer, desc.in_shape(i), masks, i))))
                for i, layer in enumerate(desc.layers)]
    out_shape = desc.in_shape(len(desc.layers))
    children.append(("output", nn.Sequential(OrderedDict(
        [*_flatten(out_shape), ("fc", nn.Linear(out_shape.size, desc.output.units))]))))
    model = nn.Sequential(OrderedDict(children))
    if desc.init.scheme == "normal":
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                nn.init.normal_(module.weight, 0.0, desc.init.weight_scale)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
    return model


def build(desc: schema.Description, device: str = "cpu", dtype: Any = "float32",
          masks: DropoutMasks | None = None) -> Built:
    """(model, loss_fn, optimizer) for ``desc``; the initial weights come from seed ``desc.training.seed``."""
    manual_seed(desc.training.seed)
    model = build_model(desc, masks).to(device=device, dtype=backend.as_dtype(dtype))
    criterion = nn.BCEWithLogitsLoss() if desc.loss.type == "sigmoid_cross_entropy" else SigmoidMSELoss()
    weights = [p for p in model.parameters() if p.ndim > 1]
    optimizer = OPTIMIZERS[desc.optimizer.type](model.parameters(), **desc.optimizer.kwargs())
    return Built(model, Objective(criterion, desc.regularization.l2, weights), optimizer)


# ---------------------------------------------------------------------------------- parity runner
def get_weights(model: nn.Module) -> dict[str, np.ndarray]:
    """Every parameter and buffer as a NumPy array, by ``state_dict`` key."""
    return {k: backend.to_numpy(v.array).copy() for k, v in model.state_dict().items()}


def set_weights(model: nn.Module, weights: dict[str, np.ndarray]) -> None:
    """Load NumPy arrays (by ``state_dict`` key) into ``model``, in its dtype and on its device."""
    dtype = next(model.parameters()).dtype
    device = next(model.parameters()).device
    with no_grad():
        model.load_state_dict({k: tensor(v, dtype=dtype if v.dtype.kind == "f" else None, device=device)
                               for k, v in weights.items()})


# ---------------------------------------------------------------------------------- for the trainer
# Every backend module has these names: the trainer (minidl.train) and the parity runner call only them.
def to_tensor(array: np.ndarray, device: str = "cpu") -> Tensor:
    """Wrap a batch's own fresh NumPy array as a tensor on ``device`` (no copy on the CPU)."""
    return Tensor(backend.to_device(array, device))


def to_numpy(t: Tensor) -> np.ndarray:
    return backend.to_numpy(t.detach().array)


def train_step(built: Built, x: np.ndarray, y: np.ndarray, device: str = "cpu",
               grads: dict[str, np.ndarray] | None = None, to_tensor: Callable = to_tensor,
               to_numpy: Callable = to_numpy) -> float:
    """One optimizer step on a NumPy batch; returns the loss.

    ``grads``, when given, receives every parameter's gradient (by ``state_dict`` key) before the
    update: the parity check compares them.  The body is PyTorch's training step as written, so
    :mod:`~minidl.spec.backend_torch` runs this same function with its own ``to_tensor``/``to_numpy``.
    """
    model, loss_fn, optimizer = built
    optimizer.zero_grad()
    loss = loss_fn(model(to_tensor(x, device)), to_tensor(y, device))
    loss.backward()
    if grads is not None:
        grads.update({k: to_numpy(p.grad).copy() for k, p in model.named_parameters()})
    optimizer.step()
    return loss.item()


def predict(model: nn.Module, x: np.ndarray, device: str = "cpu", to_tensor: Callable = to_tensor,
            to_numpy: Callable = to_numpy, no_grad: Callable = no_grad) -> np.ndarray:
    """The logits of a NumPy batch in eval mode, without a graph (PyTorch's code too, like :func:`train_step`)."""
    model.eval()
    with no_grad():
        out = to_numpy(model(to_tensor(x, device)))
    model.train()
    return out


def random_state(model: nn.Module) -> np.ndarray:
    """Everything random a run depends on after its start: minidl's generator (dropout draws from it)."""
    return get_rng_state()


def load_random_state(model: nn.Module, state: np.ndarray) -> None:
    set_rng_state(state)


def optimizer_state(optimizer: optim.Optimizer) -> Any:
    """The optimizer's state dict with NumPy arrays in place of tensors."""
    return map_arrays(optimizer.state_dict(), to_numpy, Tensor)


def load_optimizer_state(optimizer: optim.Optimizer, state: Any, device: str = "cpu") -> None:
    optimizer.load_state_dict(map_arrays(state, lambda a: tensor(a, device=device), np.ndarray))


def map_arrays(tree: Any, fn: Callable[[Any], Any], kind: type) -> Any:
    """``tree`` with ``fn`` applied to every leaf of type ``kind`` (dicts, lists and tuples traversed)."""
    if isinstance(tree, kind):
        return fn(tree)
    if isinstance(tree, dict):
        return {k: map_arrays(v, fn, kind) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(map_arrays(v, fn, kind) for v in tree)
    return tree


class Runner:
    """One training step at a time on NumPy batches, recording what the parity check compares.

    ``build`` and ``train_step`` are this module's; ``backend_torch.Runner`` swaps in PyTorch's.
    """

    build = staticmethod(build)
    train_step = staticmethod(train_step)

    def __init__(self, desc: schema.Description, dtype: str, masks: DropoutMasks) -> None:
        self.built = self.build(desc, "cpu", dtype, masks)
        self.model = self.built.model
        self.dtype = np.dtype(dtype)
        self.outputs: list[np.ndarray] = []
        for child in self.model.children():
            child.register_forward_hook(lambda m, args, out: self.outputs.append(out.detach().cpu().numpy().copy()))

    def step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray], dict[str, np.ndarray]]:
        """(loss, per-layer outputs, parameter gradients) of one step, then the optimizer's update."""
        self.outputs, grads = [], {}
        loss = self.train_step(self.built, x.astype(self.dtype), y.astype(self.dtype), grads=grads)
        return loss, self.outputs, grads
