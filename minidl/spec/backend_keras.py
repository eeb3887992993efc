"""A description translated into Keras 3 on TensorFlow: its own translator, written from the description alone.

This module sets ``KERAS_BACKEND=tensorflow``, imports ``keras`` and ``tensorflow`` (the optional
``minidl[keras]`` dependencies) and is itself imported only when a caller asks for
``backend="keras"`` (:func:`minidl.spec.build`).  Like :mod:`minidl.spec.backend_torch` it does
not convert minidl's model: every layer type is built here from Keras' own layers, losses,
regularizers, initializers and optimizers, so a translation bug on either side shows as a parity
failure (``minidl.spec.parity(desc, against="keras")``).

The model is a functional ``keras.Model`` (input: a batch of clips, output: the logits).  Its
layers are named after minidl's modules (``"0.fc"``, ``"1.block.branch.0"``, ``"2.conv"``,
``"3.norm"``, ``"4.attention.values"``, ..., ``"output.fc"``), and :func:`get_weights` /
:func:`set_weights` read and write the weights under minidl's ``state_dict`` keys and layouts
(``"0.fc.weight"`` is (out, in)).

Layout.  Keras is channels-last.  Inside the model a ``conv1d`` activation is (N, time, channels)
(a (10, 128) clip already *is* 128 channels over 10 frames in that layout, so no transpose is
needed), a ``conv2d`` activation is (N, H, W, channels) (a clip is reshaped to (10, 128, 1)).
Only what leaves the model is transposed: the per-layer outputs of :class:`Runner` (to NCW /
NCHW) and the weights (Dense kernels (in, out) -> (out, in); Conv1D (k, in, out) -> (out, in, k);
Conv2D (kh, kw, in, out) -> (out, in, kh, kw)).  ``fc``, ``residual`` and ``flatten`` after a conv
``Permute`` to channel-major before ``Flatten``, so features come in PyTorch's order; padding given
as integers is a ``ZeroPadding1D``/``2D`` before a ``"valid"`` convolution; ``pool`` over time of an
image is an ``AveragePooling2D``/``MaxPooling2D`` over the whole height, then a ``Reshape``.

The translation, key by key (PyTorch -> Keras):

* ``frame_fc``: a ``Dense`` on the (N, frames, values) clip (Keras' Dense acts on the last axis:
  every frame alike), then the activation and dropout.  ``attention_pool``: two ``Dense`` layers
  on the clip, ``"i.attention.values"`` (with bias, then the activation) and
  ``"i.attention.attention"`` (no bias), and :class:`AttentionSum` (softmax over the frames, times
  the values, summed over the frames).
* ``batchnorm``: ``BatchNormalization(axis=-1, momentum=0.9, epsilon=1e-5)`` (PyTorch's momentum
  0.1 is Keras' 0.9; Keras' default epsilon is 1e-3).  A small subclass only adds PyTorch's
  ``num_batches_tracked`` counter; the normalisation is Keras'.
* activations: ``leaky_relu`` with ``negative_slope=0.01`` (Keras' default is 0.2), ``gelu`` exact
  (``approximate=False``, PyTorch's default).
* L2: ``kernel_regularizer=L2(l2 / 2)`` on every Dense/Conv kernel (Keras' ``L2(a)`` is
  ``a * sum(w^2)``); ``loss_fn`` adds ``model.losses``.  For ``model.compile``, pass
  ``loss=built.loss_fn.criterion``: Keras' trainer adds ``model.losses`` itself.
* init ``default`` is PyTorch's: kernels ``VarianceScaling(1/3, "fan_in", "uniform")`` = U(+-1/sqrt(fan_in)),
  biases ``RandomUniform(+-1/sqrt(fan_in))``; ``normal``: ``RandomNormal(0, weight_scale)``, biases zero.
  Drawn after ``keras.utils.set_random_seed(desc.training.seed)`` (not the same numbers as PyTorch).
* losses: ``BinaryCrossentropy(from_logits=True)``; ``mse`` is ``MeanSquaredError`` on ``sigmoid(logits)``.
* optimizers: ``Adam(learning_rate=lr, beta_1, beta_2, epsilon=eps, amsgrad)``;
  ``RMSprop(learning_rate=lr, rho=alpha, momentum, epsilon=eps, centered)`` (Keras' default rho is
  0.9, PyTorch's alpha 0.99); ``SGD(learning_rate=lr, momentum, nesterov)``.  Keras' SGD keeps
  ``m = momentum * m - lr * g`` and PyTorch ``b = momentum * b + g``, ``p -= lr * b``: the same
  steps for a constant learning rate (Nesterov too).  The float64 learning rate: Keras stores the
  learning rate in a variable of ``floatx`` dtype, so :func:`build` sets ``floatx`` to the model's
  dtype while it builds (a float32 learning rate would differ from 1e-3 by 5e-8 relative).

Remaining semantic differences (measured effects: ``docs/keras.md`` and ``tests/keras/test_spec_keras.py``):

1. Adam's epsilon.  Keras: ``p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)``
   (eps added to the *uncorrected* sqrt(v), "epsilon hat" of Kingma & Ba); PyTorch:
   ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.  Keras' eps acts like PyTorch's
   eps / sqrt(1 - b2^t): 32x larger at step 1 (b2 = 0.999), 7x at step 20.  Keras takes one
   constant epsilon, so it cannot be matched exactly; the same eps is passed.  With eps -> 0 the
   two formulas are equal.
2. RMSprop's epsilon is inside the square root in Keras (``g / sqrt(v + eps)``), outside in
   PyTorch (``g / (sqrt(v) + eps)``); no constant matches both.  With eps -> 0 they are equal.
3. SGD ``dampening`` does not exist in Keras: a description with ``dampening > 0`` is refused
   (ValueError) rather than silently changed.
4. BatchNorm's running variance: Keras updates ``moving_variance`` with the *biased* batch
   variance, PyTorch with the unbiased one (x n / (n - 1), n = values per channel in the batch).
   Training-mode outputs and gradients are unaffected (both normalise with the biased variance);
   only the ``running_var`` buffer (used in evaluation) differs.
5. Keras casts Python hyperparameters through float32 (``ops.cast(0.999, "float64")`` makes a
   float32 tensor first): in float64, Adam's betas in its bias corrections (1.3e-5 in 1 - 0.999)
   and SGD's momentum are rounded.  Hyperparameters that float32 holds exactly (0.875,
   0.9990234375) avoid it.  Keras' ``L2`` does the same with its factor; :class:`L2` fixes that one.
6. TensorFlow's float64 ``gelu`` casts 1/sqrt(2) through float32 (5e-9), and ``leaky_relu``'s slope
   is a float32 attribute (0.01 -> 0.0099999998): float64 only, below float32 rounding.
7. Dropout masks: :class:`Runner` (and ``build(..., masks=...)``) multiplies by the shared masks of
   :class:`~minidl.spec.masks.DropoutMasks`, drawn in NumPy at call time: such a model must run
   eagerly (``Runner`` never uses ``tf.function``).  Without ``masks``, ``keras.layers.Dropout``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import numpy as np

if "keras" in sys.modules and os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
    raise ImportError(f"backend 'keras' needs Keras on TensorFlow, but keras was already imported with "
                      f"KERAS_BACKEND={os.environ['KERAS_BACKEND']!r}")
os.environ["KERAS_BACKEND"] = "tensorflow"
# TensorFlow's C++ log: its banners, and a harmless Grappler "empty op name" error that a residual
# block's compiled training step logs (Grappler skips one pass); errors that matter raise in Python.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers, ops  # noqa: E402

from minidl.spec import schema  # noqa: E402
from minidl.spec.backend_minidl import Built  # noqa: E402
from minidl.spec.masks import DropoutMasks  # noqa: E402

DTYPES = ("float32", "float64")
#: from the Keras batch layout to minidl's (NCW / NCHW); inverse: from minidl's to Keras'
TO_MINIDL = {"seq": (0, 2, 1), "image": (0, 3, 1, 2)}
TO_KERAS = {"seq": (0, 2, 1), "image": (0, 2, 3, 1)}
#: channels-last -> channel-major before a Flatten (per sample, 1-based as keras.layers.Permute takes)
CHANNEL_MAJOR = {"seq": (2, 1), "image": (3, 1, 2)}


# ---------------------------------------------------------------------------------- layers
class MaskedDropout(layers.Layer):
    """Dropout that multiplies by the shared mask ``masks(key, shape, rate)``, drawn in minidl's layout.

    The mask is drawn for the minidl (PyTorch) shape of the activation, e.g. (N, C, L), and
    transposed to the Keras layout (N, L, C), so every backend drops the same units.  It is drawn
    in NumPy when the layer is called: run such a model eagerly.
    """

    def __init__(self, rate: float, masks: DropoutMasks, key: int, layout: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate, self.masks, self.key, self.layout = rate, masks, key, layout

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training:
            return inputs
        shape = tuple(int(n) for n in inputs.shape)
        if self.layout in TO_MINIDL:
            shape = tuple(shape[a] for a in TO_MINIDL[self.layout])
        mask = self.masks(self.key, shape, self.rate)
        if self.layout in TO_KERAS:
            mask = np.transpose(mask, TO_KERAS[self.layout])
        return inputs * ops.convert_to_tensor(mask, dtype=inputs.dtype)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape


class BatchNorm(layers.BatchNormalization):
    """Keras' BatchNormalization plus PyTorch's ``num_batches_tracked`` counter (bookkeeping only)."""

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        self.num_batches_tracked = self.add_weight(shape=(), initializer="zeros", dtype="int64", trainable=False,
                                                   name="num_batches_tracked")

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        outputs = super().call(inputs, training=training, mask=mask)
        if training and self.trainable:
            self.num_batches_tracked.assign_add(1)
        return outputs


class AttentionSum(layers.Layer):
    """``sum_t softmax_t(logits) * values``: the pooling of ``attention_pool``, (N, T, U) twice -> (N, U)."""

    def call(self, inputs: list[Any]) -> Any:
        logits, values = inputs
        return ops.sum(ops.softmax(logits, axis=1) * values, axis=1)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (input_shape[1][0], input_shape[1][2])


class L2(keras.regularizers.L2):
    """Keras' ``L2(a)``: ``a * sum(w^2)``, with ``a`` converted straight to the weight's dtype.

    Keras 3.15's ``L2`` calls ``ops.cast(self.l2, x.dtype)``, which first makes the Python float a
    float32 tensor: in float64, l2 / 2 = 0.005 becomes 0.004999999888 (2.2e-8 relative in the L2 gradient).
    """

    def __call__(self, x: Any) -> Any:
        return ops.convert_to_tensor(self.l2, dtype=x.dtype) * ops.sum(ops.square(x))


class SigmoidMeanSquaredError(keras.losses.MeanSquaredError):
    """The paper's mean squared error option: Keras' MSE on ``sigmoid(logits)``."""

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return super().call(y_true, ops.sigmoid(y_pred))


class Objective:
    """``loss_fn(logits, targets)`` = ``criterion(targets, logits)`` + the L2 terms (``model.losses``).

    Note the argument order: minidl's and PyTorch's (output, target); ``criterion`` itself is a
    Keras loss, called Keras' way (y_true, y_pred).
    """

    def __init__(self, criterion: keras.losses.Loss, model: keras.Model) -> None:
        self.criterion, self.model = criterion, model
        self.compiled_step: Callable[[Any, Any], Any] | None = None  # train_step's tf.function, made on first use

    def __call__(self, logits: Any, targets: Any) -> Any:
        loss = self.criterion(targets, logits)
        penalties = self.model.losses
        return loss + ops.sum(ops.stack(penalties)) if penalties else loss


# ---------------------------------------------------------------------------------- translation
def _pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


class _Translator:
    """Builds the functional graph of a description: ``ends[i]`` is the output of ``layers[i]``."""

    def __init__(self, desc: schema.Description, dtype: str, masks: DropoutMasks | None) -> None:
        self.desc, self.dtype, self.masks = desc, dtype, masks
        l2 = desc.regularization.l2
        self.regularizer = L2(l2 / 2) if l2 > 0 else None

    # the weight layers, with the description's init and L2
    def _weights(self, fan_in: int, bias: bool = True) -> dict[str, Any]:
        init = self.desc.init
        if init.scheme == "normal":
            kernel = keras.initializers.RandomNormal(0.0, init.weight_scale)
            bias_init: Any = keras.initializers.Zeros()
        else:  # PyTorch's default: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)), biases the same bound
            kernel = keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")
            bound = 1.0 / np.sqrt(fan_in)
            bias_init = keras.initializers.RandomUniform(-bound, bound)
        kwargs = {"kernel_initializer": kernel, "kernel_regularizer": self.regularizer, "dtype": self.dtype,
                  "use_bias": bias}
        return {**kwargs, "bias_initializer": bias_init} if bias else kwargs

    def dense(self, units: int, fan_in: int, name: str, bias: bool = True) -> layers.Dense:
        return layers.Dense(units, name=name, **self._weights(fan_in, bias))

    def activation(self, name: str, layer_name: str) -> layers.Layer | None:
        kw = {"name": layer_name, "dtype": self.dtype}
        if name == "none":
            return None
        if name == "leaky_relu":
            return layers.LeakyReLU(negative_slope=0.01, **kw)
        if name == "gelu":
            return layers.Activation(lambda x: keras.activations.gelu(x, approximate=False), **kw)
        return layers.Activation(name, **kw)  # relu, sigmoid, tanh

    def dropout(self, rate: float, key: int, layout: str, name: str) -> layers.Layer | None:
        if rate == 0:
            return None
        if self.masks is None:
            return layers.Dropout(rate, name=name, dtype=self.dtype)
        return MaskedDropout(rate, self.masks, key, layout, name=name, dtype=self.dtype)

    def flatten(self, x: Any, shape: schema.Shape, prefix: str) -> Any:
        """Flatten like torch.nn.Flatten on minidl's layout: channel-major after a convolution."""
        if shape.layout == "flat":
            return x
        if shape.layout in CHANNEL_MAJOR:
            x = layers.Permute(CHANNEL_MAJOR[shape.layout], name=f"{prefix}.channel_major", dtype=self.dtype)(x)
        return layers.Flatten(name=f"{prefix}.flatten", dtype=self.dtype)(x)

    def layer(self, x: Any, layer: schema.Layer, shape: schema.Shape, out: schema.Shape, i: int) -> Any:
        """The output of description layer ``i`` (input ``x`` of per-sample shape ``shape``)."""
        p, dt = str(i), self.dtype
        tail: list[layers.Layer | None] = []
        match layer:
            case schema.FC():
                x = self.flatten(x, shape, p)
                x = self.dense(layer.units, shape.size, f"{p}.fc")(x)
                tail = [self.activation(layer.activation, f"{p}.act")]
            case schema.FrameFC():  # Dense acts on the last axis of (N, frames, values): every frame alike
                x = self.dense(layer.units, shape.dims[1], f"{p}.fc")(x)
                tail = [self.activation(layer.activation, f"{p}.act")]
            case schema.AttentionPool():
                x = self._attention_pool(x, layer, shape.dims[1], f"{p}.attention")
            case schema.Residual():
                x = self._residual(self.flatten(x, shape, p), layer, shape.size, p)
            case schema.Conv1d():  # a clip (N, frames, values) already is values channels over frames
                channels = shape.dims[1] if shape.layout == "clip" else shape.dims[0]
                x = self._pad(x, layer.padding, 1, p)
                padding = layer.padding if isinstance(layer.padding, str) else "valid"
                x = layers.Conv1D(layer.channels, layer.kernel, strides=layer.stride, padding=padding,
                                  name=f"{p}.conv", **self._weights(channels * layer.kernel))(x)
                tail = [self.activation(layer.activation, f"{p}.act")]
            case schema.Conv2d():
                if shape.layout == "clip":
                    x = layers.Reshape((*shape.dims, 1), name=f"{p}.to_image", dtype=dt)(x)
                channels = 1 if shape.layout == "clip" else shape.dims[0]
                kernel = _pair(layer.kernel)
                x = self._pad(x, layer.padding, 2, p)
                padding = layer.padding if isinstance(layer.padding, str) else "valid"
                x = layers.Conv2D(layer.channels, kernel, strides=_pair(layer.stride), padding=padding,
                                  name=f"{p}.conv", **self._weights(channels * kernel[0] * kernel[1]))(x)
                tail = [self.activation(layer.activation, f"{p}.act")]
            case schema.Pool():
                x = self._pool(x, layer, shape, out, p)
            case schema.BatchNorm():
                x = BatchNorm(axis=-1, momentum=0.9, epsilon=1e-5, name=f"{p}.norm", dtype=dt)(x)
            case schema.Activation():
                tail = [self.activation(layer.activation, f"{p}.act")]
            case schema.Flatten():
                x = self.flatten(x, shape, p)
            case schema.Dropout():
                pass
            case _:
                raise TypeError(f"the keras backend cannot build a {layer.type!r} layer")
        tail.append(self.dropout(getattr(layer, "dropout", getattr(layer, "rate", 0.0)), i, out.layout,
                                 f"{p}.dropout"))
        for part in tail:
            if part is not None:
                x = part(x)
        return x

    def _residual(self, x: Any, layer: schema.Residual, n_in: int, p: str) -> Any:
        """act(branch(x) + shortcut(x)), branch = Dense, act, ..., Dense (``depth`` Dense layers)."""
        h, width = x, n_in
        for j in range(layer.depth):
            h = self.dense(layer.units, width, f"{p}.block.branch.{2 * j}")(h)
            width = layer.units
            act = self.activation(layer.activation, f"{p}.block.branch.{2 * j + 1}")
            if j < layer.depth - 1 and act is not None:
                h = act(h)
        shortcut = x if n_in == layer.units else self.dense(layer.units, n_in, f"{p}.block.shortcut", bias=False)(x)
        y = layers.Add(name=f"{p}.block.add", dtype=self.dtype)([h, shortcut])
        act = self.activation(layer.activation, f"{p}.block.activation")
        return y if act is None else act(y)

    def _attention_pool(self, x: Any, layer: schema.AttentionPool, n_in: int, name: str) -> Any:
        """sum over the frames of softmax_frames(attention(x)) * act(values(x)); ``attention`` has no bias."""
        values = self.dense(layer.units, n_in, f"{name}.values")(x)
        act = self.activation(layer.activation, f"{name}.act")
        values = values if act is None else act(values)
        logits = self.dense(layer.units, n_in, f"{name}.attention", bias=False)(x)
        return AttentionSum(name=f"{name}.pool", dtype=self.dtype)([logits, values])

    def _pad(self, x: Any, padding: Any, ndim: int, p: str) -> Any:
        if isinstance(padding, str):
            return x
        pads = (padding,) * ndim if isinstance(padding, int) else tuple(padding)
        if not any(pads):
            return x
        if ndim == 1:
            return layers.ZeroPadding1D(pads[0], name=f"{p}.pad", dtype=self.dtype)(x)
        return layers.ZeroPadding2D(((pads[0], pads[0]), (pads[1], pads[1])), name=f"{p}.pad", dtype=self.dtype)(x)

    def _pool(self, x: Any, layer: schema.Pool, shape: schema.Shape, out: schema.Shape, p: str) -> Any:
        mean, kw = layer.op == "mean", {"name": f"{p}.pool", "dtype": self.dtype}
        if shape.layout in ("clip", "seq"):  # (N, time, channels): over time
            return (layers.GlobalAveragePooling1D if mean else layers.GlobalMaxPooling1D)(**kw)(x)
        if layer.over == "all":
            return (layers.GlobalAveragePooling2D if mean else layers.GlobalMaxPooling2D)(**kw)(x)
        # an image over time (its height): (N, H, W, C) -> (N, 1, W, C) -> (N, W, C), a seq of W steps
        height = shape.dims[1]
        x = (layers.AveragePooling2D if mean else layers.MaxPooling2D)(pool_size=(height, 1), **kw)(x)
        return layers.Reshape((out.dims[1], out.dims[0]), name=f"{p}.squeeze", dtype=self.dtype)(x)

    def graph(self) -> tuple[Any, list[Any]]:
        """(the Keras input, [the output of every description layer, then the logits])."""
        desc = self.desc
        x = inputs = keras.Input(shape=desc.input.shape, dtype=self.dtype, name="clip")
        ends = []
        for i, layer in enumerate(desc.layers):
            y = self.layer(x, layer, desc.in_shape(i), desc.shapes[i], i)
            # a layer that adds nothing (a flat flatten, activation "none"): a named identity to report
            x = layers.Identity(name=f"{i}.identity", dtype=self.dtype)(y) if y is x else y
            ends.append(x)
        shape = desc.in_shape(len(desc.layers))
        x = self.flatten(x, shape, "output")
        ends.append(self.dense(desc.output.units, shape.size, "output.fc")(x))
        return inputs, ends


@contextmanager
def _floatx(dtype: str) -> Iterator[None]:
    """Keras' default float type set to ``dtype`` for a while (optimizers keep the learning rate in floatx)."""
    old = keras.config.floatx()
    keras.config.set_floatx(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(old)


def _dtype(dtype: Any) -> str:
    name = str(dtype).removeprefix("minidl.")
    if name not in DTYPES:
        raise ValueError(f"the keras backend supports dtypes {', '.join(DTYPES)}, got {dtype!r}")
    return name


def _optimizer(opt: schema.Optimizer) -> keras.optimizers.Optimizer:
    match opt:
        case schema.Adam():
            return keras.optimizers.Adam(learning_rate=opt.lr, beta_1=opt.betas[0], beta_2=opt.betas[1],
                                         epsilon=opt.eps, amsgrad=opt.amsgrad)
        case schema.RMSprop():
            return keras.optimizers.RMSprop(learning_rate=opt.lr, rho=opt.alpha, momentum=opt.momentum,
                                            epsilon=opt.eps, centered=opt.centered)
        case schema.SGDMomentum():
            if opt.dampening:
                raise ValueError(f"optimizer.dampening: Keras' SGD has no dampening, got {opt.dampening}; "
                                 "the keras backend takes sgd_momentum with dampening 0 only")
            return keras.optimizers.SGD(learning_rate=opt.lr, momentum=opt.momentum, nesterov=opt.nesterov)
    raise TypeError(f"the keras backend cannot build a {opt.type!r} optimizer")


def _build(desc: schema.Description, dtype: str, masks: DropoutMasks | None) -> tuple[Built, Any, list[Any]]:
    keras.utils.set_random_seed(desc.training.seed)
    with _floatx(dtype):
        inputs, ends = _Translator(desc, dtype, masks).graph()
        model = keras.Model(inputs, ends[-1], name=desc.name)
        criterion = (keras.losses.BinaryCrossentropy(from_logits=True, dtype=dtype)
                     if desc.loss.type == "sigmoid_cross_entropy" else SigmoidMeanSquaredError(dtype=dtype))
        optimizer = _optimizer(desc.optimizer)
        optimizer.build(model.trainable_variables)
    return Built(model, Objective(criterion, model), optimizer), inputs, ends


def build(desc: schema.Description, device: str = "cpu", dtype: Any = "float32",
          masks: DropoutMasks | None = None) -> Built:
    """(model, loss_fn, optimizer) in Keras; initial weights after ``keras.utils.set_random_seed(desc.training.seed)``.

    ``device`` must be "cpu" (this backend is meant for ``tensorflow-cpu``).
    """
    if device != "cpu":
        raise ValueError(f"the keras backend runs on the CPU only, got device {device!r}")
    return _build(desc, _dtype(dtype), masks)[0]


# ---------------------------------------------------------------------------------- weights
Entry = tuple[str, Any, Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]


def _same(a: np.ndarray) -> np.ndarray:
    return a


def _entries(model: keras.Model) -> list[Entry]:
    """(minidl key, Keras variable, Keras -> minidl layout, minidl -> Keras layout) for every weight and buffer."""
    out: list[Entry] = []
    for layer in model.layers:
        n = layer.name
        if isinstance(layer, layers.Dense):
            out.append((f"{n}.weight", layer.kernel, np.transpose, np.transpose))
        elif isinstance(layer, layers.Conv1D):
            out.append((f"{n}.weight", layer.kernel, lambda a: a.transpose(2, 1, 0), lambda a: a.transpose(2, 1, 0)))
        elif isinstance(layer, layers.Conv2D):
            out.append((f"{n}.weight", layer.kernel, lambda a: a.transpose(3, 2, 0, 1),
                        lambda a: a.transpose(2, 3, 1, 0)))
        elif isinstance(layer, BatchNorm):
            out += [(f"{n}.{key}", variable, _same, _same) for key, variable in (
                ("weight", layer.gamma), ("bias", layer.beta), ("running_mean", layer.moving_mean),
                ("running_var", layer.moving_variance), ("num_batches_tracked", layer.num_batches_tracked))]
            continue
        else:
            continue
        if layer.use_bias:
            out.append((f"{n}.bias", layer.bias, _same, _same))
    return out


def get_weights(model: keras.Model) -> dict[str, np.ndarray]:
    """Every weight and buffer as a NumPy array, by minidl's ``state_dict`` key and in its layout."""
    return {key: np.array(to_minidl(np.array(variable.numpy())), order="C") for key, variable, to_minidl, _ in
            _entries(model)}


def set_weights(model: keras.Model, weights: dict[str, np.ndarray]) -> None:
    """Load NumPy arrays (minidl keys and layouts) into ``model`` in its variables' dtypes; every key must match."""
    entries = _entries(model)
    missing = sorted({e[0] for e in entries} - set(weights))
    unexpected = sorted(set(weights) - {e[0] for e in entries})
    if missing or unexpected:
        raise KeyError(f"set_weights: missing keys {missing}, unexpected keys {unexpected}")
    for key, variable, to_minidl, to_keras in entries:
        value = to_keras(np.asarray(weights[key]))
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(f"set_weights: {key} has shape {np.shape(weights[key])}, the model's is "
                             f"{to_minidl(np.zeros(variable.shape)).shape}")
        variable.assign(value.astype(variable.dtype))


# ---------------------------------------------------------------------------------- for the trainer
# The names every backend module has (see minidl.spec.backend_minidl).
def _step(built: Built, x: Any, y: Any) -> Any:
    """One optimizer step in TensorFlow: the loss under a gradient tape, then ``apply_gradients``."""
    model, loss_fn, optimizer = built
    with tf.GradientTape() as tape:
        loss = loss_fn(model(x, training=True), y)
    variables = model.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
    return loss


def train_step(built: Built, x: np.ndarray, y: np.ndarray, device: str = "cpu") -> float:
    """One optimizer step on a NumPy batch; returns the loss.

    The step is a ``tf.function`` (a compiled graph, as ``model.fit`` runs it), traced on the first
    call.  A model built with shared dropout ``masks`` draws them in NumPy and must run eagerly:
    use :class:`Runner` for those.
    """
    objective = built.loss_fn
    if objective.compiled_step is None:
        objective.compiled_step = tf.function(partial(_step, built), reduce_retracing=True)
    return float(objective.compiled_step(tf.convert_to_tensor(x), tf.convert_to_tensor(y)))


def predict(model: keras.Model, x: np.ndarray, device: str = "cpu") -> np.ndarray:
    """The logits of a NumPy batch in inference mode."""
    return model(tf.convert_to_tensor(x), training=False).numpy()


def _seed_states(model: keras.Model) -> list[Any]:
    """The state variables of the model's seed generators (Keras' dropout layers draw from them)."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def random_state(model: keras.Model) -> np.ndarray:
    """Every seed generator state of the model, stacked ((layers, 2) int64)."""
    return np.array([v.numpy() for v in _seed_states(model)], np.int64).reshape(-1, 2)


def load_random_state(model: keras.Model, state: np.ndarray) -> None:
    for variable, value in zip(_seed_states(model), np.asarray(state).reshape(-1, 2), strict=True):
        variable.assign(value)


def optimizer_state(optimizer: keras.optimizers.Optimizer) -> list[np.ndarray]:
    """The optimizer's variables (iteration count, learning rate, moments), in order."""
    return [np.array(v.numpy()) for v in optimizer.variables]


def load_optimizer_state(optimizer: keras.optimizers.Optimizer, state: list[np.ndarray], device: str = "cpu") -> None:
    if len(state) != len(optimizer.variables):
        raise ValueError(f"load_optimizer_state: {len(state)} arrays for {len(optimizer.variables)} optimizer "
                         "variables (a checkpoint of another optimizer?)")
    for variable, value in zip(optimizer.variables, state, strict=True):
        variable.assign(value)


# ---------------------------------------------------------------------------------- parity runner
def _to_minidl_layout(value: np.ndarray, shape: schema.Shape) -> np.ndarray:
    return np.array(value.transpose(TO_MINIDL[shape.layout]), order="C") if shape.layout in TO_MINIDL else value


class Runner:
    """One training step at a time on NumPy batches (see :class:`minidl.spec.backend_minidl.Runner`), eagerly."""

    def __init__(self, desc: schema.Description, dtype: str, masks: DropoutMasks) -> None:
        self.dtype = _dtype(dtype)
        (self.model, self.loss_fn, self.optimizer), inputs, ends = _build(desc, self.dtype, masks)
        self.shapes = desc.shapes
        self.probe = keras.Model(inputs, ends)  # the same layers, every description layer's output
        self.entries = [e for e in _entries(self.model) if e[1].trainable]

    def step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray], dict[str, np.ndarray]]:
        """(loss, per-layer outputs in minidl's layout, gradients by minidl key and layout), then the update."""
        variables = [variable for _, variable, _, _ in self.entries]
        x_t = tf.convert_to_tensor(np.asarray(x, self.dtype))
        y_t = tf.convert_to_tensor(np.asarray(y, self.dtype))
        with tf.GradientTape() as tape:
            outputs = self.probe(x_t, training=True)
            loss = self.loss_fn(outputs[-1], y_t)
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        records = [_to_minidl_layout(np.array(o.numpy()), s) for o, s in zip(outputs, self.shapes, strict=True)]
        return (float(loss.numpy()), records,
                {key: np.array(to_minidl(np.array(g.numpy())), order="C")
                 for (key, _, to_minidl, _), g in zip(self.entries, grads, strict=True)})
