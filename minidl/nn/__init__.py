"""Neural-network modules, as in ``torch.nn``.

To add a module: import it below (imports sorted) and list its name in ``__all__``; an activation
module only needs its name in ``minidl/nn/activation.py``'s ``__all__``.
"""

from minidl.nn import activation, functional, init, utils
from minidl.nn.activation import *  # noqa: F403 - every activation module (its __all__)
from minidl.nn.containers import ModuleDict, ModuleList, Sequential
from minidl.nn.conv import Conv1d, Conv2d
from minidl.nn.dropout import Dropout
from minidl.nn.flatten import Flatten, Identity
from minidl.nn.linear import Linear
from minidl.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from minidl.nn.module import Module
from minidl.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from minidl.nn.parameter import Parameter
from minidl.nn.pooling import AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from minidl.nn.residual import ResidualBlock, ResidualBlock1d
from minidl.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from minidl.nn.sparse import Embedding

__all__ = [
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AvgPool1d", "AvgPool2d", "BCELoss", "BCEWithLogitsLoss",
    "BatchNorm1d", "BatchNorm2d", "Conv1d", "Conv2d", "CrossEntropyLoss", "Dropout", "Flatten", "GRU",
    "GRUCell", "Identity", "LSTM", "LSTMCell", "LayerNorm", "Linear", "MSELoss",
    "MaxPool1d", "MaxPool2d", "Module", "ModuleDict", "ModuleList", "Parameter", "RNN", "RNNBase", "RNNCell",
    "RNNCellBase", "ResidualBlock", "ResidualBlock1d", "Sequential", "functional", "init", "utils",
    "Embedding", "HuberLoss", "L1Loss", "NLLLoss", "SmoothL1Loss",
    *activation.__all__,
]
