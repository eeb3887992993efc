"""``embedding``, as ``torch.nn.functional.embedding``: rows of a weight matrix looked up by index."""

from __future__ import annotations

from minidl import backend
from minidl.autograd.tensor import Tensor
from minidl.ops.elementwise import where
from minidl.ops.shape import index, unsqueeze


def padding_index(padding_idx: int | None, num_embeddings: int) -> int | None:
    """``padding_idx`` in [0, num_embeddings) (a negative one counts from the end), as PyTorch checks it."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"padding_idx must be within the number of embeddings ({num_embeddings}), "
                         f"got {padding_idx}")
    return padding_idx % num_embeddings


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """``weight[input]``: for integer indices of any shape, the rows of ``weight`` (num_embeddings, dim),
    an output of shape ``input.shape + (dim,)``.

    The gradient of a row is the sum over every place that looked it up (a scatter-add), except for
    the row at ``padding_idx``, which is read but gets no gradient, as PyTorch.  ``max_norm`` (which
    renormalises rows in place) and ``scale_grad_by_freq`` are not supported; ``sparse=True`` gives
    the same (dense) gradient.
    """
    if not isinstance(input, Tensor) or input.dtype not in (backend.int64, backend.int32):
        raise TypeError(f"embedding: expected the indices to be an int64 or int32 tensor, got "
                        f"{getattr(input, 'dtype', type(input).__name__)}")
    if max_norm is not None or scale_grad_by_freq:
        raise NotImplementedError("embedding: max_norm and scale_grad_by_freq are not supported")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be a matrix (num_embeddings, dim), got shape {tuple(weight.shape)}")
    rows = index(weight, input)
    padding_idx = padding_index(padding_idx, weight.shape[0])
    if padding_idx is None:
        return rows
    return where(unsqueeze(input != padding_idx, -1), rows, rows.detach())
