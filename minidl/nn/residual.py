"""Residual blocks (He et al., 2016): y = activation(branch(x) + shortcut(x)).

``ResidualBlock`` is the fully connected block of the paper's residual model, and
``ResidualBlock1d`` its convolutional twin over (N, C, L) sequences.  Design choices:

* the branch is layer -> activation -> layer (two weight layers, as He et al.'s basic block);
* the activation follows the sum, as in He et al.'s original block, so a stack of blocks
  outputs non-negative features (for ReLU) like a stack of plain layers;
* the shortcut is the identity when the widths match, otherwise a projection W_s x without a
  bias (He et al.'s option B; the branch already has biases, a second one would be redundant).

PyTorch has no such module; :mod:`minidl.interop.torch` builds an equivalent torch module with
the same parameter names (``branch.0.weight``, ..., ``shortcut.weight``).
"""

from __future__ import annotations

from collections.abc import Callable

from minidl.autograd.tensor import Tensor
from minidl.nn.activation import ReLU
from minidl.nn.containers import Sequential
from minidl.nn.conv import Conv1d
from minidl.nn.flatten import Identity
from minidl.nn.linear import Linear
from minidl.nn.module import Module


class _Residual(Module):
    """y = activation(branch(x) + shortcut(x)) for given submodules."""

    def __init__(self, branch: Module, shortcut: Module, activation: Module) -> None:
        super().__init__()
        self.branch = branch
        self.shortcut = shortcut
        self.activation = activation

    def forward(self, input: Tensor) -> Tensor:
        return self.activation(self.branch(input) + self.shortcut(input))


class ResidualBlock(_Residual):
    """y = act(fc2(act(fc1(x))) + shortcut(x)) for x (N, in_features) -> y (N, out_features).

    ``branch`` = Sequential(Linear(in, hidden), activation(), Linear(hidden, out)) with hidden =
    ``hidden_features`` (default ``out_features``); with ``depth`` > 2, ``depth - 2`` more
    Linear(hidden, hidden) + activation() pairs sit in the middle (``depth`` = 1: one Linear(in, out)).
    ``shortcut`` = Identity() when in == out, else Linear(in, out, bias=False).  ``activation`` is
    a module class (or factory), called once per use.
    """

    def __init__(self, in_features: int, out_features: int, hidden_features: int | None = None,
                 activation: Callable[[], Module] = ReLU, depth: int = 2) -> None:
        if depth < 1:
            raise ValueError(f"ResidualBlock: depth must be at least 1, got {depth}")
        hidden = out_features if hidden_features is None else hidden_features
        widths = [in_features] + [hidden] * (depth - 1) + [out_features]
        layers: list[Module] = []
        for a, b in zip(widths, widths[1:]):
            layers += [Linear(a, b), activation()]
        branch = Sequential(*layers[:-1])
        shortcut = Identity() if in_features == out_features else Linear(in_features, out_features, bias=False)
        super().__init__(branch, shortcut, activation())


class ResidualBlock1d(_Residual):
    """The convolutional block for x (N, in_channels, L) -> y (N, out_channels, L).

    ``branch`` = Sequential(Conv1d(in, hidden, k, padding=k // 2), activation(),
    Conv1d(hidden, out, k, padding=k // 2)) keeps the length L (k odd, default 3); ``shortcut`` =
    Identity() when in == out, else the projection Conv1d(in, out, 1, bias=False).
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int | None = None,
                 kernel_size: int = 3, activation: Callable[[], Module] = ReLU) -> None:
        if kernel_size % 2 != 1:
            raise ValueError(f"ResidualBlock1d: kernel_size must be odd to keep the length, got {kernel_size}")
        hidden, pad = (out_channels if hidden_channels is None else hidden_channels), kernel_size // 2
        branch = Sequential(Conv1d(in_channels, hidden, kernel_size, padding=pad), activation(),
                            Conv1d(hidden, out_channels, kernel_size, padding=pad))
        shortcut = Identity() if in_channels == out_channels else Conv1d(in_channels, out_channels, 1, bias=False)
        super().__init__(branch, shortcut, activation())
