"""``dropout``: inverted dropout with the mask drawn from the generator of ``minidl.manual_seed``."""

from __future__ import annotations

from minidl.autograd.tensor import Tensor
from minidl.functional._checks import check_floating
from minidl.ops.dropout import Dropout, dropout_mask
from minidl.ops.inplace import mul_


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the kept ones by 1 / (1 - p).

    u ~ U[0, 1) is drawn in input's dtype and an element is kept where u >= p (see
    :func:`~minidl.ops.dropout.dropout_mask`), so E[output] = input.  The gradient is the same
    scaled mask.  As PyTorch: with ``training=False`` or p = 0, ``input`` itself is returned;
    p = 1 gives zeros.  ``inplace=True`` overwrites ``input`` and returns it; like every in-place
    op of minidl it is refused on a tensor that requires grad while grad mode is on.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    check_floating("dropout", input)
    if not training or p == 0:
        return input
    mask = dropout_mask(input.shape, p, input.dtype, input.device)
    if inplace:
        return mul_(input, Tensor(mask))
    return Dropout.apply(input, mask=mask)
