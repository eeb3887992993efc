"""``Flatten`` and ``Identity``, as in ``torch.nn``."""

from __future__ import annotations

from typing import Any

from minidl import ops
from minidl.autograd.tensor import Tensor
from minidl.nn.module import Module


class Identity(Module):
    """Returns its input unchanged; constructor arguments are accepted and ignored (as PyTorch)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Flatten(Module):
    """Merge dimensions ``start_dim..end_dim`` into one: (N, C, W) -> (N, C*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return ops.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
