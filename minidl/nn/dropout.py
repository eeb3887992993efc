"""``Dropout``: inverted dropout in training mode, the identity in evaluation mode."""

from __future__ import annotations

from minidl.autograd.tensor import Tensor
from minidl.functional.dropout import dropout
from minidl.nn.module import Module


class Dropout(Module):
    """Zero each element with probability ``p`` in training and scale the rest by 1 / (1 - p),
    as ``torch.nn.Dropout``; in ``eval()`` mode the input is returned unchanged.

    The mask comes from the generator of ``minidl.manual_seed`` (see :func:`minidl.functional.dropout`).
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
