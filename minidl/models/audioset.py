"""The three models of *Audio Event Recognition* for AudioSet embeddings, as minidl modules.

A clip is 10 frames x 128 VGGish embedding dimensions, (N, 10, 128) in a batch, and the task
is 527-class multi-label tagging.  Every model outputs logits (N, 527), to be trained with
``nn.BCEWithLogitsLoss`` (sigmoid cross-entropy).  Input layouts:

* ``fc_model`` and ``residual_model`` take (N, 1280): the clip flattened frame by frame,
  ``x.reshape(N, 1280)`` (frame 0's 128 values first);
* ``conv_model`` takes (N, 128, 10): channels are the 128 embedding dimensions and the length
  is the 10 frames (Conv1d's NCW layout), ``x.transpose(1, 2)``.

``dropout`` > 0 inserts ``Dropout`` after every hidden activation; ``weight_scale`` replaces
PyTorch's default initialisation by the paper's: weights ~ N(0, weight_scale^2), biases 0
(:func:`init_weights`).
"""

from __future__ import annotations

from collections.abc import Callable

from minidl.data.clips import EMBEDDING_SIZE
from minidl.data.labels import NUM_CLASSES, NUM_FRAMES
from minidl.nn import init
from minidl.nn.activation import ReLU
from minidl.nn.containers import Sequential
from minidl.nn.conv import Conv1d
from minidl.nn.dropout import Dropout
from minidl.nn.flatten import Flatten
from minidl.nn.linear import Linear
from minidl.nn.module import Module
from minidl.nn.pooling import AdaptiveAvgPool1d
from minidl.nn.residual import ResidualBlock

IN_FEATURES = NUM_FRAMES * EMBEDDING_SIZE  # 1280


def _hidden(layer: Module, dropout: float) -> list[Module]:
    """A hidden layer followed by ReLU (and Dropout when ``dropout`` > 0)."""
    return [layer, ReLU()] + ([Dropout(dropout)] if dropout > 0 else [])


def init_weights(model: Module, weight_scale: float) -> Module:
    """The paper's initialisation: every Linear/Conv1d weight ~ N(0, weight_scale^2), every bias 0."""
    for module in model.modules():
        if isinstance(module, (Linear, Conv1d)):
            init.normal_(module.weight, 0.0, weight_scale)
            if module.bias is not None:
                init.zeros_(module.bias)
    return model


def _finish(model: Sequential, weight_scale: float | None) -> Sequential:
    return model if weight_scale is None else init_weights(model, weight_scale)


def fc_model(hidden: int = 1024, layers: int = 2, dropout: float = 0.0, weight_scale: float | None = None,
             in_features: int = IN_FEATURES, num_classes: int = NUM_CLASSES) -> Sequential:
    """The fully connected model: 1280 -> 1024 -> 1024 -> 527 (``layers`` hidden layers, ReLU).

    Input (N, 1280), output logits (N, 527).
    """
    widths = [in_features] + [hidden] * layers
    body = [m for a, b in zip(widths, widths[1:]) for m in _hidden(Linear(a, b), dropout)]
    return _finish(Sequential(*body, Linear(widths[-1], num_classes)), weight_scale)


def residual_model(width: int = 1024, blocks: int = 2, dropout: float = 0.0, weight_scale: float | None = None,
                   in_features: int = IN_FEATURES, num_classes: int = NUM_CLASSES) -> Sequential:
    """Linear 1280 -> 1024 + ReLU, then ``blocks`` ResidualBlock(1024, 1024), then Linear 1024 -> 527.

    Each block is relu(x + W2 relu(W1 x + b1) + b2) (:class:`minidl.nn.ResidualBlock`).
    Input (N, 1280), output logits (N, 527).
    """
    body = _hidden(Linear(in_features, width), dropout)
    for _ in range(blocks):
        body += [ResidualBlock(width, width)] + ([Dropout(dropout)] if dropout > 0 else [])
    return _finish(Sequential(*body, Linear(width, num_classes)), weight_scale)


def conv_model(channels: int = 256, dropout: float = 0.0, weight_scale: float | None = None,
               in_channels: int = EMBEDDING_SIZE, num_classes: int = NUM_CLASSES, kernel_size: int = 3) -> Sequential:
    """Conv1d 128 -> 256 (k3, p1) + ReLU, Conv1d 256 -> 256 (k3, p1) + ReLU, mean over time, Linear 256 -> 527.

    Input (N, 128, 10) (embedding dimensions as channels, frames as time), output logits (N, 527).
    The mean over time is AdaptiveAvgPool1d(1) + Flatten().
    """
    pad = kernel_size // 2
    body = _hidden(Conv1d(in_channels, channels, kernel_size, padding=pad), dropout)
    body += _hidden(Conv1d(channels, channels, kernel_size, padding=pad), dropout)
    return _finish(Sequential(*body, AdaptiveAvgPool1d(1), Flatten(), Linear(channels, num_classes)), weight_scale)


#: the models by name, for command lines and experiment specs
MODELS: dict[str, Callable[..., Sequential]] = {"fc": fc_model, "residual": residual_model, "conv": conv_model}
