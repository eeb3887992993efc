"""Neural-network modules, as in ``torch.nn``.

To add a module: import it below (imports sorted) and list its name in ``__all__``.
"""

from minidl.nn import init, utils
from minidl.nn.activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh
from minidl.nn.containers import ModuleDict, ModuleList, Sequential
from minidl.nn.conv import Conv1d, Conv2d
from minidl.nn.dropout import Dropout
from minidl.nn.flatten import Flatten, Identity
from minidl.nn.linear import Linear
from minidl.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from minidl.nn.module import Module
from minidl.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from minidl.nn.parameter import Parameter
from minidl.nn.pooling import AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from minidl.nn.residual import ResidualBlock, ResidualBlock1d

__all__ = [
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AvgPool1d", "AvgPool2d", "BCELoss", "BCEWithLogitsLoss",
    "BatchNorm1d", "BatchNorm2d", "Conv1d", "Conv2d", "CrossEntropyLoss", "Dropout", "Flatten", "GELU",
    "Identity", "LayerNorm", "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "MaxPool1d", "MaxPool2d",
    "Module", "ModuleDict", "ModuleList", "Parameter", "ReLU", "ResidualBlock", "ResidualBlock1d",
    "Sequential", "Sigmoid", "Softmax", "Softplus", "Tanh", "init", "utils",
]
