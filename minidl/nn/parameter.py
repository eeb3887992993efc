"""``Parameter``: a tensor that a ``Module`` registers as one of its learnable weights."""

from __future__ import annotations

from minidl import backend
from minidl.autograd.tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad by default and that ``Module`` attributes register.

    As ``torch.nn.Parameter``: ``Parameter(t)`` shares ``t``'s array (no copy) and is always a
    leaf, even if ``t`` was computed by an op; ``Parameter()`` is an empty float32 tensor.
    Assigning it as a module attribute (``self.weight = Parameter(...)``) adds it to
    ``module.parameters()``.  Integer or bool data cannot require grad (RuntimeError).
    """

    __slots__ = ()

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        if data is None:
            array = backend.module_for("cpu").empty(0, dtype=backend.float32)
        elif isinstance(data, Tensor):
            array = data.array
        else:
            raise TypeError(f"Parameter: data must be a minidl.Tensor or None, got {type(data).__name__}")
        super().__init__(array)
        if isinstance(data, Tensor):
            self._version_counter = data._version_counter  # the same memory, so the same counter
        self.requires_grad_(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
