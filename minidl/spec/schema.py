"""The model description format: a model as data (the paper's "flexible API", section 3.1).

A description has a structure (``layers``, then a linear ``output`` layer), a ``loss`` and an
``optimizer``, plus ``input``, ``regularization``, ``init`` and ``training``.  It is read from
TOML, JSON or a dict by :func:`load` and validated *before* anything is built: every error is a
:class:`SpecError` naming the field path (``layers[2].kernel``), the value and what was expected.

Every key is a dataclass field below, declared with :func:`key` (its default, its check and its
documentation), so the reference table (:func:`reference`, in ``docs/spec.md``) is generated from
the same declarations that validate.  Descriptions are immutable (frozen dataclasses, tuples);
:meth:`Description.replace` returns a re-validated copy with some values changed.

Shapes.  One clip is ``input.shape`` = (10, 128): 10 frames of 128 values.  Validation infers the
shape of every layer's output (:attr:`Description.shapes`), per sample, in one of four layouts:

=========  ================  =================================================================
layout     shape             made by
=========  ================  =================================================================
``clip``   (frames, values)  the input
``seq``    (channels, time)  ``conv1d`` (reads a clip as 128 channels x 10 frames: NCW)
``image``  (channels, H, W)  ``conv2d`` (reads a clip as 1 channel x 10 x 128: NCHW)
``flat``   (features,)       ``fc``, ``residual``, ``flatten``, global ``pool``
=========  ================  =================================================================

``fc`` and ``residual`` flatten any input (frame by frame for a clip, channel-major after a conv);
a convolution cannot follow a flat output.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

REQUIRED: Any = object()  # default of a key that must be given
ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu", "gelu", "none")
SCALES = ("centered", "youtube8m", "none")


class SpecError(ValueError):
    """An invalid description: ``path`` is the field (``layers[2].kernel``), the message says why."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


def key(default: Any, doc: str, *, kind: str | None = None, choices: tuple[str, ...] = (),
        low: float | None = None, high: float | None = None, open_low: bool = False,
        open_high: bool = False) -> Any:
    """A description key: its default (:data:`REQUIRED` if it has none), documentation and check.

    ``kind`` is ``int``, ``float``, ``str``, ``bool``, ``ints`` (an int or a list of ints),
    ``floats`` (a list of floats), ``padding`` ("same", "valid" or ints); by default the kind
    of the default value.  Numbers must lie in [low, high] (``open_low``/``open_high``: excluded).
    """
    if kind is None and default is REQUIRED:
        raise TypeError(f"key {doc!r}: a required key needs an explicit kind")
    kind = kind or type(default).__name__
    meta = {"doc": doc, "kind": kind, "choices": choices, "low": low, "high": high,
            "open_low": open_low, "open_high": open_high}
    if default is REQUIRED:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


# ---------------------------------------------------------------------------------- values
def _number(path: str, value: Any, kind: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind == "int" and isinstance(value, float)):
        raise SpecError(path, f"expected {'an integer' if kind == 'int' else 'a number'}, got {value!r}")
    if not math.isfinite(value):
        raise SpecError(path, f"expected a finite number, got {value!r}")
    return value if kind == "int" else float(value)


def _in_range(path: str, value: float, meta: Mapping[str, Any]) -> None:
    low, high = meta["low"], meta["high"]
    below = low is not None and (value <= low if meta["open_low"] else value < low)
    above = high is not None and (value >= high if meta["open_high"] else value > high)
    if below or above:
        raise SpecError(path, f"{value!r} is outside {_range_text(meta)}")


def _range_text(meta: Mapping[str, Any]) -> str:
    low = "-inf" if meta["low"] is None else meta["low"]
    high = "inf" if meta["high"] is None else meta["high"]
    return f"{'(' if meta['open_low'] else '['}{low}, {high}{')' if meta['open_high'] else ']'}"


def _value(path: str, value: Any, meta: Mapping[str, Any]) -> Any:
    """``value`` checked against a key's declaration, lists made tuples."""
    kind = meta["kind"]
    if kind == "padding" and isinstance(value, str):
        kind = "str"
    elif kind == "padding":
        kind = "ints"
    if kind == "ints" and not isinstance(value, (list, tuple)):
        kind = "int"
    if kind in ("ints", "floats"):
        if not isinstance(value, (list, tuple)) or not value:
            raise SpecError(path, f"expected a list of numbers, got {value!r}")
        return tuple(_value(f"{path}[{i}]", v, {**meta, "kind": kind[:-1]}) for i, v in enumerate(value))
    if kind in ("int", "float"):
        number = _number(path, value, kind)
        _in_range(path, number, meta)
        return number
    if kind == "bool":
        if not isinstance(value, bool):
            raise SpecError(path, f"expected true or false, got {value!r}")
        return value
    if not isinstance(value, str):
        raise SpecError(path, f"expected a string, got {value!r}")
    choices = meta["choices"] or (("same", "valid") if meta["kind"] == "padding" else ())
    if choices and value not in choices:
        raise SpecError(path, f"{value!r} is not one of {', '.join(map(repr, choices))}")
    return value


def _parse(cls: type, data: Any, path: str, skip: tuple[str, ...] = ()) -> Any:
    """An instance of dataclass ``cls`` from the mapping ``data``: unknown keys and bad values are errors."""
    if not isinstance(data, Mapping):
        raise SpecError(path, f"expected a table of keys, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and f.name not in skip}
    unknown = sorted(set(data) - set(fields) - set(skip))
    if unknown:
        raise SpecError(_join(path, unknown[0]), f"unknown key; {_kind_name(cls, path)} takes "
                        f"{', '.join(fields) if fields else 'no keys'}")
    values = {}
    for name, f in fields.items():
        if name in data:
            values[name] = _value(_join(path, name), data[name], f.metadata)
        elif f.default is dataclasses.MISSING:
            raise SpecError(_join(path, name), f"missing; {f.metadata['doc']}")
    return cls(**values)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _kind_name(cls: type, path: str) -> str:
    if not hasattr(cls, "type"):
        return f"[{path}]"
    return f"a {cls.type!r} {'layer' if issubclass(cls, Layer) else 'optimizer'}"


def _as_dict(obj: Any) -> dict[str, Any]:
    """A dataclass as plain JSON-able data (tuples as lists), its ``type`` first where it has one."""
    out: dict[str, Any] = {"type": obj.type} if hasattr(type(obj), "type") else {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            value = _as_dict(value)
        elif isinstance(value, tuple):
            value = [_as_dict(v) if dataclasses.is_dataclass(v) else v for v in value]
        out[f.name] = value
    return out


# ---------------------------------------------------------------------------------- shapes
@dataclass(frozen=True)
class Shape:
    """The per-sample shape of a layer's output and its layout (``clip``, ``seq``, ``image``, ``flat``)."""

    layout: str
    dims: tuple[int, ...]

    @property
    def size(self) -> int:
        return math.prod(self.dims)

    def __str__(self) -> str:
        return f"({', '.join(map(str, self.dims))}{',' if len(self.dims) == 1 else ''})"


def _conv_length(path: str, n: int, kernel: int, stride: int, padding: Any) -> int:
    """Output length of a convolution along one axis (PyTorch's formula)."""
    if padding == "same":
        if stride != 1:
            raise SpecError(path, f"padding 'same' needs stride 1, got stride {stride}")
        return n
    pad = 0 if padding == "valid" else padding
    return (n + 2 * pad - kernel) // stride + 1


def _pair(value: int | tuple[int, ...], path: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else value
    if len(pair) != 2:
        raise SpecError(path, f"expected an integer or a list of two, got {list(pair)}")
    return pair


# ---------------------------------------------------------------------------------- layers
class Layer:
    """Base of the layer types: ``type`` names it, ``infer`` gives its output shape and parameter count."""

    type: ClassVar[str]
    #: the layer types by their ``type`` string
    registry: ClassVar[dict[str, type[Layer]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Layer.registry[cls.type] = cls

    def infer(self, shape: Shape, path: str) -> tuple[Shape, int]:
        """(output shape, number of parameters) for an input of per-sample ``shape``."""
        raise NotImplementedError


def _needs(path: str, layer: Layer, shape: Shape, layouts: tuple[str, ...]) -> None:
    if shape.layout not in layouts:
        hint = " (a convolution cannot follow a flat output: put conv layers before fc, residual, flatten " \
               "and global pools)" if "flat" not in layouts and shape.layout == "flat" else ""
        raise SpecError(path, f"a {layer.type!r} layer cannot take a {shape.layout} input of shape {shape}; "
                        f"it takes {' or '.join(layouts)} inputs{hint}")


@dataclass(frozen=True)
class FC(Layer):
    """A fully connected layer (flattens its input): Linear, activation, dropout."""

    type: ClassVar[str] = "fc"
    units: int = key(REQUIRED, "output features", kind="int", low=1)
    activation: str = key("relu", "activation after the layer", choices=ACTIVATIONS)
    dropout: float = key(0.0, "dropout rate after the activation", low=0.0, high=1.0, open_high=True)

    def infer(self, shape: Shape, path: str) -> tuple[Shape, int]:
        return Shape("flat", (self.units,)), shape.size * self.units + self.units


@dataclass(frozen=True)
class Residual(Layer):
    """act(x + branch(x)), branch = ``depth`` Linear layers with act between; a projection when widths differ."""

    type: ClassVar[str] = "residual"
    units: int = key(REQUIRED, "output features (and the width inside the block)", kind="int", low=1)
    depth: int = key(2, "Linear layers inside the block", low=1)
    activation: str = key("relu", "activation inside the block and after the sum", choices=ACTIVATIONS)
    dropout: float = key(0.0, "dropout rate after the block", low=0.0, high=1.0, open_high=True)

    def infer(self, shape: Shape, path: str) -> tuple[Shape, int]:
        n_in, n = shape.size, self.units
        params = n_in * n + n + (self.depth - 1) * (n * n + n) + (n_in * n if n_in != n else 0)
        return Shape("flat", (n,)), params


@dataclass(frozen=True)
class Conv1d(Layer):
    """A 1-d convolution over time (a clip is read as values x frames, NCW), activation, dropout."""

    type: ClassVar[str] = "conv1d"
    channels: int = key(REQUIRED, "output channels", kind="int", low=1)
    kernel: int = key(REQUIRED, "kernel size (frames)", kind="int", low=1)
    stride: int = key(1, "stride", low=1)
    padding: Any = key("same", "'same' (stride 1), 'valid' or zeros on each side", kind="padding", low=0)
    activation: str = key("relu", "activation after the layer", choices=ACTIVATIONS)
    dropout: float = key(0.0, "dropout rate after the activation", low=0.0, high=1.0, open_high=True)

    def infer(self, shape: Shape, path: str) -> tuple[Shape, int]:
        _needs(path, self, shape, ("clip", "seq"))
        if not isinstance(self.padding, (int, str)):
            raise SpecError(f"{path}.padding", f"expected 'same', 'valid' or an integer, got {list(self.padding)}")
        channels, length = (shape.dims[1], shape.dims[0]) if shape.layout == "clip" else shape.dims
        out = _conv_length(f"{path}.padding", length, self.kernel, self.stride, self.padding)
        if out < 1:
            raise SpecError(f"{path}.kernel", f"kernel {self.kernel} does not fit the input {shape} "
                            f"(length {length}, padding {self.padding!r})")
        return Shape("seq", (self.channels, out)), channels * self.channels * self.kernel + self.channels


@dataclass(frozen=True)
class Conv2d(Layer):
    """A 2-d convolution (a clip is read as 1 channel x frames x values, NCHW), activation, dropout."""

    type: ClassVar[str] = "conv2d"
    channels: int = key(REQUIRED, "output channels", kind="int", low=1)
    kernel: Any = key(REQUIRED, "kernel size: an integer or [height, width]", kind="ints", low=1)
    stride: Any = key(1, "stride: an integer or [height, width]", kind="ints", low=1)
    padding: Any = key("same", "'same' (stride 1), 'valid', or zeros: an integer or [height, width]",
                       kind="padding", low=0)
    activation: str = key("relu", "activation after the layer", choices=ACTIVATIONS)
    dropout: float = key(0.0, "dropout rate after the activation", low=0.0, high=1.0, open_high=True)

    def infer(self, shape: Shape, path: str) -> tuple[Shape, int]:
        _needs(path, self, shape, ("clip", "image"))
        channels, *size = (1, *shape.dims) if shape.layout == "clip" else shape.dims
        kernel, stride = _pair(self.kernel, f"{path}.kernel"), _pair(self.stride, f"{path}.stride")
        padding = (self.padding,) * 2 if isinstance(self.padding, str) else _pair(self.padding, f"{path}.padding")
        out = tuple(_conv_length(f"{path}.padding", n, k, s, p) for n, k, s, p in zip(size, kernel, stride, padding))
        if min(out) < 1:
            raise SpecError(f"{path}.kernel", f"kernel {list(kernel)} does not fit the input {shape} "
                            f"(padding {self.padding!r})")
        return Shape("image", (self.channels, *out)), channels * self.channels * math.prod(kernel) + self.channels


@dataclass(frozen=True)
class Pool(Layer):
    """Global pooling: ``over`` = "time" (the frame axis) or "all" (every axis but the channels)."""

    type: ClassVar[str] = "pool"
    op: str = key("mean", "the reduction", choices=("mean", "max"))
    over: str = key("all", "the axes reduced", choices=("time", "all"))

    def axes(self, shape: Shape) -> tuple[int, ...]:
        """The axes of a batch (N, *shape.dims) that are reduced."""
        if shape.layout == "clip":
            return (1,)
        return (2,) if shape.layout == "seq" or self.over == "time" else (2, 3)

    def infer(self, shape: Shape, path: str) -> tuple[Shape, int]:
        _needs(path, self, shape, ("clip", "seq", "image"))
        kept = tuple(n for axis, n in enumerate(shape.dims, 1) if axis not in self.axes(shape))
        return Shape("seq" if len(kept) == 2 else "flat", kept), 0


@dataclass(frozen=True)
class Dropout(Layer):
    """Dropout: zero each value with probability ``rate`` in training, scale the rest by 1 / (1 - rate)."""

    type: ClassVar[str] = "dropout"
    rate: float = key(REQUIRED, "dropout rate", kind="float", low=0.0, high=1.0, open_high=True)

    def infer(self, shape: Shape, path: str) -> tuple[Shape, int]:
        return shape, 0


@dataclass(frozen=True)
class BatchNorm(Layer):
    """Batch normalisation over the channels (features of a flat input), with learned scale and shift."""

    type: ClassVar[str] = "batchnorm"

    def infer(self, shape: Shape, path: str) -> tuple[Shape, int]:
        _needs(path, self, shape, ("flat", "seq", "image"))
        return shape, 2 * shape.dims[0]


@dataclass(frozen=True)
class Activation(Layer):
    """An activation function on its own."""

    type: ClassVar[str] = "activation"
    activation: str = key(REQUIRED, "the function", kind="str", choices=ACTIVATIONS)

    def infer(self, shape: Shape, path: str) -> tuple[Shape, int]:
        return shape, 0


@dataclass(frozen=True)
class Flatten(Layer):
    """Flatten to one feature vector per sample (frame by frame for a clip, channel-major after a conv)."""

    type: ClassVar[str] = "flatten"

    def infer(self, shape: Shape, path: str) -> tuple[Shape, int]:
        return Shape("flat", (shape.size,)), 0


@dataclass(frozen=True)
class FrameFC(Layer):
    """A fully connected layer applied to every frame on its own: (frames, values) -> (frames, units)."""

    type: ClassVar[str] = "frame_fc"
    units: int = key(REQUIRED, "output values per frame", kind="int", low=1)
    activation: str = key("relu", "activation after the layer", choices=ACTIVATIONS)
    dropout: float = key(0.0, "dropout rate after the activation", low=0.0, high=1.0, open_high=True)

    def infer(self, shape: Shape, path: str) -> tuple[Shape, int]:
        _needs(path, self, shape, ("clip",))
        return Shape("clip", (shape.dims[0], self.units)), shape.dims[1] * self.units + self.units


@dataclass(frozen=True)
class AttentionPool(Layer):
    """Attention pooling over the frames (Kong et al., 2019): (frames, values) -> (units,).

    Per frame t, values ``v_t = activation(W_v x_t + b_v)`` and attention ``a_t = softmax over the
    frames of W_a x_t`` (no bias: it would cancel in the softmax), both (units,); the output is
    ``sum_t a_t * v_t``: each unit looks at the frames where its evidence is.  With the default
    sigmoid, each unit is a classifier and the pool weighs its per-frame decisions.
    """

    type: ClassVar[str] = "attention_pool"
    units: int = key(REQUIRED, "output features (one attention per feature)", kind="int", low=1)
    activation: str = key("sigmoid", "activation of the values", choices=ACTIVATIONS)

    def infer(self, shape: Shape, path: str) -> tuple[Shape, int]:
        _needs(path, self, shape, ("clip",))
        return Shape("flat", (self.units,)), 2 * shape.dims[1] * self.units + self.units


# ---------------------------------------------------------------------------------- sections
@dataclass(frozen=True)
class Input:
    """One clip: its shape and how its uint8 values become floats."""

    shape: tuple[int, ...] = key((10, 128), "(frames, values) of one clip, or (features,)", kind="ints", low=1)
    scale: str = key("centered", "centered: (q - 128) / 128; youtube8m: q * 4/255 + (4/512 - 2); none: q",
                     choices=SCALES)


@dataclass(frozen=True)
class Output:
    """The final linear layer: one logit per class."""

    units: int = key(527, "classes", low=1)


@dataclass(frozen=True)
class Loss:
    """The loss on the output logits."""

    type: str = key("sigmoid_cross_entropy", "sigmoid_cross_entropy (on logits, stable) or mse (on the "
                    "sigmoid outputs)", choices=("sigmoid_cross_entropy", "mse"))


class Optimizer:
    """Base of the optimizer types; keys are PyTorch's argument names."""

    type: ClassVar[str]
    registry: ClassVar[dict[str, type[Optimizer]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Optimizer.registry[cls.type] = cls

    def kwargs(self) -> dict[str, Any]:
        """The constructor arguments of the framework's optimizer (``torch.optim`` names)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


_LR = {"low": 0.0, "open_low": True}


@dataclass(frozen=True)
class Adam(Optimizer):
    """Adam (``torch.optim.Adam``)."""

    type: ClassVar[str] = "adam"
    lr: float = key(1e-3, "learning rate", **_LR)
    betas: tuple[float, float] = key((0.9, 0.999), "decay rates of the moment averages", kind="floats",
                                     low=0.0, high=1.0, open_high=True)
    eps: float = key(1e-8, "added to the denominator", low=0.0)
    amsgrad: bool = key(False, "use the running maximum of the second moment")


@dataclass(frozen=True)
class RMSprop(Optimizer):
    """RMSprop (``torch.optim.RMSprop``)."""

    type: ClassVar[str] = "rmsprop"
    lr: float = key(1e-3, "learning rate", **_LR)
    alpha: float = key(0.99, "decay rate of the squared-gradient average", low=0.0, high=1.0)
    eps: float = key(1e-8, "added to the denominator", low=0.0)
    momentum: float = key(0.0, "momentum", low=0.0)
    centered: bool = key(False, "divide by the gradient's variance estimate instead")


@dataclass(frozen=True)
class SGDMomentum(Optimizer):
    """SGD with momentum (``torch.optim.SGD``)."""

    type: ClassVar[str] = "sgd_momentum"
    lr: float = key(1e-2, "learning rate", **_LR)
    momentum: float = key(0.9, "momentum", low=0.0)
    dampening: float = key(0.0, "dampening of the momentum", low=0.0, high=1.0)
    nesterov: bool = key(False, "Nesterov momentum (needs dampening 0)")


@dataclass(frozen=True)
class Regularization:
    """The paper's regularisation loss."""

    l2: float = key(0.0, "adds l2/2 * (sum of squared weights, not biases) to the loss", low=0.0)


@dataclass(frozen=True)
class Init:
    """Initial weights."""

    scheme: str = key("default", "default: PyTorch's; normal: weights ~ N(0, weight_scale^2), biases 0",
                      choices=("default", "normal"))
    weight_scale: float = key(0.01, "standard deviation of the normal scheme", low=0.0, open_low=True)


@dataclass(frozen=True)
class Training:
    """How the trainer runs the description."""

    epochs: int = key(10, "passes over the training split", low=1)
    batch_size: int = key(256, "clips per step", low=1)
    seed: int = key(0, "seed of the initial weights, the data order and dropout", low=0)
    sampler: str = key("shuffle", "shuffle: every clip once per epoch; balanced: class-balanced draws",
                       choices=("shuffle", "balanced"))


SECTIONS: dict[str, type] = {"input": Input, "output": Output, "loss": Loss, "regularization": Regularization,
                             "init": Init, "training": Training}


# ---------------------------------------------------------------------------------- description
@dataclass(frozen=True)
class Description:
    """A validated, immutable model description; ``shapes[i]`` and ``params[i]`` belong to ``layers[i]``
    (the output layer last)."""

    name: str
    input: Input
    layers: tuple[Layer, ...]
    output: Output
    loss: Loss
    optimizer: Optimizer
    regularization: Regularization
    init: Init
    training: Training
    shapes: tuple[Shape, ...] = field(init=False, compare=False, repr=False)
    params: tuple[int, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.input.shape, tuple) or len(self.input.shape) not in (1, 2):
            raise SpecError("input.shape", f"expected [frames, values] or [features], got {list(self.input.shape)}")
        shape = Shape("clip" if len(self.input.shape) == 2 else "flat", self.input.shape)
        shapes, params = [], []
        for i, layer in enumerate(self.layers):
            shape, n = layer.infer(shape, f"layers[{i}]")
            shapes.append(shape)
            params.append(n)
        shapes.append(Shape("flat", (self.output.units,)))
        params.append(shape.size * self.output.units + self.output.units)
        object.__setattr__(self, "shapes", tuple(shapes))
        object.__setattr__(self, "params", tuple(params))

    @property
    def input_shape(self) -> Shape:
        return Shape("clip" if len(self.input.shape) == 2 else "flat", self.input.shape)

    def in_shape(self, index: int) -> Shape:
        """The per-sample input shape of ``layers[index]`` (``index == len(layers)``: the output layer)."""
        return self.shapes[index - 1] if index else self.input_shape

    def to_dict(self) -> dict[str, Any]:
        """The description as plain data (every key, defaults filled in): ``load(d.to_dict()) == d``."""
        out = _as_dict(self)
        for derived in ("shapes", "params"):
            out.pop(derived)
        return out

    def replace(self, changes: Mapping[str, Any]) -> Description:
        """A re-validated copy with values changed by path: ``{"optimizer.lr": 0.01, "layers[0].units": 512}``."""
        data = self.to_dict()
        for path, value in changes.items():
            _set_path(data, path, value)
        return load(data)

    def summary(self) -> str:
        """A table like Keras' ``model.summary()``: index, type, output shape, parameters, and the total."""
        rows = [("", "input", str(self.input_shape), "")]
        for i, (layer, shape, n) in enumerate(zip(self.layers, self.shapes, self.params, strict=False)):
            rows.append((str(i), layer_text(layer), str(shape), f"{n:,}"))
        rows.append((str(len(self.layers)), f"output (linear, {self.loss.type})", str(self.shapes[-1]),
                     f"{self.params[-1]:,}"))
        widths = [max(len(r[c]) for r in [("#", "layer", "output shape", "params"), *rows]) for c in range(4)]
        line = "  ".join(f"{{:{align}{width}}}" for align, width in zip("><<>", widths, strict=True))
        rule = "-" * (sum(widths) + 6)
        head = [f"model {self.name!r}", rule, line.format("#", "layer", "output shape", "params"), rule]
        return "\n".join([*head, *(line.format(*r) for r in rows), rule, f"total parameters: {sum(self.params):,}",
                          f"optimizer: {layer_text(self.optimizer)}; l2: {self.regularization.l2}; "
                          f"init: {self.init.scheme}"
                          + (f" (std {self.init.weight_scale})" if self.init.scheme == "normal" else "")])


def layer_text(layer: Any) -> str:
    """``fc(units=1024, activation='relu')``: the type and the keys given a value other than the default."""
    changed = [f"{f.name}={getattr(layer, f.name)!r}" for f in dataclasses.fields(layer)
               if f.default is dataclasses.MISSING or getattr(layer, f.name) != f.default]
    return f"{layer.type}({', '.join(changed)})"


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``data`` at ``section.key`` or ``layers[i].key``."""
    parts = path.replace("]", "").replace("[", ".").split(".")
    target: Any = data
    try:
        for part in parts[:-1]:
            target = target[int(part)] if isinstance(target, list) else target[part]
    except (KeyError, IndexError, ValueError):
        raise SpecError(path, "no such field in the description") from None
    if not isinstance(target, dict):
        raise SpecError(path, "no such field in the description")
    target[parts[-1]] = value


def _typed(registry: Mapping[str, type], data: Any, path: str, what: str) -> Any:
    """A layer or optimizer from ``data``, its class chosen by ``data["type"]``."""
    if not isinstance(data, Mapping):
        raise SpecError(path, f"expected a table of keys, got {data!r}")
    if "type" not in data:
        raise SpecError(f"{path}.type", f"missing; the {what} type, one of {', '.join(registry)}")
    kind = data["type"]
    if kind not in registry:
        raise SpecError(f"{path}.type", f"unknown {what} type {kind!r}; expected one of {', '.join(registry)}")
    return _parse(registry[kind], data, path, skip=("type",))


def load(source: str | Path | Mapping[str, Any]) -> Description:
    """A validated :class:`Description` from a ``.toml`` or ``.json`` file or a dict."""
    if isinstance(source, Mapping):
        data = source
    else:
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: no such description file") from None
        try:
            data = json.loads(text) if path.suffix == ".json" else read_toml(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
            raise SpecError("", f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {err}") from None
        if not isinstance(data, Mapping):
            raise SpecError("", f"{path}: a description is a table of sections, got {type(data).__name__}")
    return _from_mapping(data)


def read_toml(text: str) -> dict[str, Any]:
    """Parse TOML text (``tomllib``; ``tomli`` on Python 3.10)."""
    return tomllib.loads(text)


def _from_mapping(data: Mapping[str, Any]) -> Description:
    known = {"name", "layers", "optimizer", *SECTIONS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SpecError(unknown[0], f"unknown section; a description has {', '.join(sorted(known))}")
    name = data.get("name", "model")
    if not isinstance(name, str) or not name:
        raise SpecError("name", f"expected a non-empty string, got {name!r}")
    layers = data.get("layers", [])
    if not isinstance(layers, list):
        raise SpecError("layers", f"expected a list of layer tables ([[layers]] in TOML), got {layers!r}")
    sections = {s: _parse(cls, data.get(s, {}), s) for s, cls in SECTIONS.items()}
    optimizer = _typed(Optimizer.registry, data.get("optimizer", {"type": "adam"}), "optimizer", "optimizer")
    if isinstance(optimizer, SGDMomentum) and optimizer.nesterov and (optimizer.momentum <= 0 or optimizer.dampening):
        raise SpecError("optimizer.nesterov", "Nesterov momentum needs momentum > 0 and dampening 0")
    if isinstance(optimizer, Adam) and len(optimizer.betas) != 2:
        raise SpecError("optimizer.betas", f"expected two numbers, got {list(optimizer.betas)}")
    return Description(name=name, layers=tuple(_typed(Layer.registry, layer, f"layers[{i}]", "layer")
                                               for i, layer in enumerate(layers)),
                       optimizer=optimizer, **sections)


# ---------------------------------------------------------------------------------- reference
def reference() -> str:
    """The markdown table of every key: section or layer type, key, default, meaning (generated)."""
    rows = ["| where | key | default | meaning |", "|---|---|---|---|",
            "| (top) | `name` | `\"model\"` | a name for reports |"]
    groups: list[tuple[str, type]] = [(f"[{s}]", cls) for s, cls in SECTIONS.items()]
    groups += [(f"[[layers]] type = \"{t}\"", cls) for t, cls in Layer.registry.items()]
    groups += [(f"[optimizer] type = \"{t}\"", cls) for t, cls in Optimizer.registry.items()]
    for where, cls in groups:
        fields = [f for f in dataclasses.fields(cls) if f.init]
        if not fields:
            rows.append(f"| {where} | | | {cls.__doc__.splitlines()[0]} (no keys) |")
        for f in fields:
            default = "required" if f.default is dataclasses.MISSING else f"`{json.dumps(_plain(f.default))}`"
            meta = f.metadata
            note = meta["doc"] + (f"; one of {', '.join(meta['choices'])}" if meta["choices"] else "")
            if meta["low"] is not None or meta["high"] is not None:
                note += f"; in {_range_text(meta)}"
            rows.append(f"| {where} | `{f.name}` | {default} | {note} |")
    return "\n".join(rows)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
