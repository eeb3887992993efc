"""``split`` and ``chunk``: one tensor cut into pieces along a dimension, each a differentiable view."""

from __future__ import annotations

from collections.abc import Sequence

from minidl.autograd.tensor import Tensor
from minidl.ops.common import normalize_dim
from minidl.ops.shape import index


def split(tensor: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of ``split_size_or_sections`` elements along ``dim`` (the last one may be smaller), or
    pieces of the sizes listed (they must add up to the size of ``dim``)."""
    d = normalize_dim("split", dim, tensor.ndim)
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0 and n > 0:
            raise RuntimeError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, n - start) for start in range(0, n, size)] if n > 0 else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or min(sizes, default=0) < 0:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                               f"at dimension {d}), but got split_sizes={sizes}")
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    return tuple(index(tensor, (slice(None),) * d + (slice(start, start + size),))
                 for start, size in zip(starts, sizes))


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """At most ``chunks`` pieces of equal size ceil(n / chunks) along ``dim`` (the last may be smaller,
    and there may be fewer pieces), as PyTorch."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = input.shape[normalize_dim("chunk", dim, input.ndim)]
    return split(input, -(-n // chunks) if n > 0 else [0] * chunks, dim)
