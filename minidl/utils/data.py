"""Datasets, samplers and the ``DataLoader``, as ``torch.utils.data``.

A *dataset* maps an index to a sample (``dataset[i]``) and knows its length; a *sampler* yields
indices; a *batch sampler* groups them into lists; the ``DataLoader`` fetches each list's samples
and *collates* them into a batch (stacked tensors, with the samples' structure kept)::

    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    for xb, yb in loader:    # xb: (32, *x.shape[1:]), yb: (32, *y.shape[1:])
        ...

Random draws (shuffling, ``random_split``) come from a NumPy ``Generator`` given as
``generator=`` (seed it for a reproducible order: ``minidl.Generator().manual_seed(0)``) or, by
default, from minidl's global generator (seeded by ``minidl.manual_seed``).  minidl's streams
differ from PyTorch's: a seed gives the same order run after run, not PyTorch's order.
Loading happens in the calling process.
"""

from __future__ import annotations

import collections.abc
import copy
import itertools
import math
import numbers
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy

from minidl import backend
from minidl.autograd import random
from minidl.autograd.creation import tensor
from minidl.autograd.tensor import Tensor
from minidl.ops.shape import stack

__all__ = ["BatchSampler", "DataLoader", "Dataset", "RandomSampler", "Sampler", "SequentialSampler", "Subset",
           "TensorDataset", "default_collate", "default_convert", "random_split"]


def _random_source(generator: random.Generator | numpy.random.Generator | None) -> numpy.random.Generator:
    """The NumPy generator behind ``generator`` (a ``minidl.Generator`` or a NumPy one); the global one for None."""
    if generator is None:
        return random.generator("cpu")
    if isinstance(generator, random.Generator):
        return generator.numpy
    if not isinstance(generator, numpy.random.Generator):
        raise TypeError("generator must be a minidl.Generator (minidl.Generator().manual_seed(0)), a "
                        f"numpy.random.Generator or None, got {type(generator).__name__}")
    return generator


# ------------------------------------------------------------------------------- datasets
class Dataset:
    """A map-style dataset: subclasses define ``__getitem__(index)`` and ``__len__()``."""

    def __getitem__(self, index: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


class TensorDataset(Dataset):
    """Sample i is ``(t[i] for t in tensors)``: tensors share their first dimension (the samples)."""

    def __init__(self, *tensors: Tensor) -> None:
        sizes = [t.shape[0] if t.ndim else None for t in tensors]
        if not tensors or any(size != sizes[0] for size in sizes) or sizes[0] is None:
            raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions {sizes} "
                             "(every tensor needs the same, non-empty first dimension)")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order: ``Subset(d, ix)[i] = d[ix[i]]``."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def random_split(dataset: Any, lengths: Sequence[int | float],
                 generator: random.Generator | numpy.random.Generator | None = None) -> list[Subset]:
    """Split ``dataset`` at random into non-overlapping ``Subset``s of the given lengths.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1: then each
    subset gets ``floor(n * fraction)`` samples and the remainder goes round-robin, one sample
    each, to the first subsets (PyTorch's rule).  One permutation of ``range(n)`` is cut in order.
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _lengths_from_fractions(lengths, n)
    if sum(lengths) != n or any(not isinstance(k, numbers.Integral) or k < 0 for k in lengths):
        raise ValueError(f"random_split: lengths {lengths} must be non-negative integers summing to the "
                         f"dataset's length {n} (or fractions summing to 1)")
    order = _random_source(generator).permutation(n).tolist()
    ends = itertools.accumulate(lengths)
    return [Subset(dataset, order[end - length:end]) for end, length in zip(ends, lengths)]


def _lengths_from_fractions(fractions: list[float], n: int) -> list[int]:
    """``floor(n f)`` per fraction, then the remaining samples one each to the first subsets."""
    for i, fraction in enumerate(fractions):
        if not 0 <= fraction <= 1:
            raise ValueError(f"random_split: fraction at index {i} is {fraction}, not in [0, 1]")
    lengths = [math.floor(n * fraction) for fraction in fractions]
    for i in range(n - sum(lengths)):
        lengths[i % len(lengths)] += 1
    return lengths


# ------------------------------------------------------------------------------- samplers
class Sampler:
    """Yields dataset indices; subclasses define ``__iter__`` (and ``__len__``)."""

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Any) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A new random permutation of the indices at every pass (``num_samples`` draws with
    ``replacement=True``: indices drawn independently and uniformly)."""

    def __init__(self, data_source: Any, replacement: bool = False, num_samples: int | None = None,
                 generator: random.Generator | numpy.random.Generator | None = None) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement must be a bool, got {replacement!r}")
        if num_samples is not None and (isinstance(num_samples, bool) or not isinstance(num_samples, int)
                                        or num_samples <= 0):
            raise ValueError(f"RandomSampler: num_samples must be a positive integer, got {num_samples!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        _random_source(generator)  # a bad generator fails here, not at the first pass

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        draws, n = _random_source(self.generator), len(self.data_source)
        if self.replacement:
            return iter(draws.integers(0, n, self.num_samples).tolist())
        whole = [draws.permutation(n).tolist() for _ in range(math.ceil(self.num_samples / n))]
        return iter(list(itertools.chain(*whole))[:self.num_samples])

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups ``sampler``'s indices into lists of ``batch_size`` (the last one shorter, or
    dropped when ``drop_last``)."""

    def __init__(self, sampler: Any, batch_size: int, drop_last: bool) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last!r}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        indices = iter(self.sampler)
        while batch := list(itertools.islice(indices, self.batch_size)):
            if len(batch) == self.batch_size or not self.drop_last:
                yield batch

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return math.ceil(len(self.sampler) / self.batch_size)


# -------------------------------------------------------------------------------- collate
def default_collate(batch: Sequence[Any]) -> Any:
    """Merge a list of samples into one batch, with PyTorch's rules for the first sample's type:

    * Tensor -> ``stack(batch)``: shape (B, *sample shape);
    * NumPy array -> each made a tensor (dtype kept), then stacked; NumPy scalar -> a (B,) tensor;
    * Python float -> a float64 (B,) tensor; int -> int64 (bool -> bool); str/bytes -> kept as they are;
    * dict -> a dict of the collated values of each key; namedtuple -> the same namedtuple;
    * tuple -> a *list* of collated fields (as PyTorch); list -> a list of collated positions.
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(list(batch), 0)
    if isinstance(elem, numpy.ndarray):
        if elem.dtype.kind in "OSUV":
            raise TypeError(f"default_collate: can't batch NumPy arrays of dtype {elem.dtype}")
        return stack([tensor(b) for b in batch], 0)
    if isinstance(elem, (numpy.bool_, numpy.number)):
        return tensor(numpy.array(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype=backend.float64)
    if isinstance(elem, int):
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _collate_mapping(batch)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple
        return type(elem)(*(default_collate(fields) for fields in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        return _collate_sequence(batch)
    raise TypeError("default_collate: batch must contain tensors, NumPy arrays, numbers, dicts or lists; "
                    f"found {type(elem).__name__}")


def _collate_mapping(batch: Sequence[collections.abc.Mapping]) -> Any:
    """A mapping of the same type with each key's values collated."""
    elem = batch[0]
    collated = {key: default_collate([sample[key] for sample in batch]) for key in elem}
    if isinstance(elem, collections.abc.MutableMapping):
        clone = copy.copy(elem)
        clone.update(collated)
        return clone
    return collated


def _collate_sequence(batch: Sequence[Sequence[Any]]) -> list[Any]:
    """Position i of the result collates position i of every sample (all of one length)."""
    size = len(batch[0])
    if any(len(sample) != size for sample in batch):
        raise RuntimeError("each element in list of batch should be of equal size; got lengths "
                           f"{[len(sample) for sample in batch]}")
    return [default_collate(samples) for samples in zip(*batch)]


def default_convert(sample: Any) -> Any:
    """One sample as it comes when batching is off (``batch_size=None``), with PyTorch's rules:
    NumPy arrays and scalars become tensors (dtype kept), containers are converted item by item
    (a tuple becomes a list, as PyTorch), everything else is returned as it is."""
    if isinstance(sample, numpy.ndarray) and sample.dtype.kind not in "OSUV" or isinstance(
            sample, (numpy.bool_, numpy.number)):
        return tensor(sample)
    if isinstance(sample, collections.abc.Mapping):
        converted = {key: default_convert(value) for key, value in sample.items()}
        return type(sample)(converted) if isinstance(sample, dict) else converted
    if isinstance(sample, tuple) and hasattr(sample, "_fields"):  # a namedtuple
        return type(sample)(*(default_convert(field) for field in sample))
    if isinstance(sample, (tuple, list)):
        return [default_convert(item) for item in sample]
    return sample


# ----------------------------------------------------------------------------- DataLoader
class DataLoader:
    """Iterate over ``dataset`` in batches, as ``torch.utils.data.DataLoader``.

    Indices come from ``batch_sampler`` if given, else from ``sampler`` (default: in order, or a
    new permutation every pass with ``shuffle=True``, drawn from ``generator``) grouped by
    ``batch_size`` (the last batch shorter unless ``drop_last``).  Each batch is
    ``collate_fn([dataset[i] for i in indices])`` (default: :func:`default_collate`).
    ``batch_size=None`` turns batching off: each item is ``collate_fn(dataset[i])`` (default:
    :func:`default_convert`).  ``len(loader)`` is the number of batches (or items) per pass.
    ``num_workers`` is accepted and checked,
    but loading always runs in the calling process.
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool | None = None, sampler: Any = None,
                 batch_sampler: Any = None, num_workers: int = 0, collate_fn: Callable[[list], Any] | None = None,
                 drop_last: bool = False, generator: random.Generator | numpy.random.Generator | None = None) -> None:
        _check_loader_options(batch_size, shuffle, sampler, batch_sampler, num_workers, drop_last)
        self.batch_size = batch_size if batch_sampler is None else None  # as PyTorch: None with a batch_sampler
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_sampler is None and batch_size is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        default = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = default if collate_fn is None else collate_fn
        self.generator = generator

    def __iter__(self) -> Iterator[Any]:
        if self.batch_sampler is None:  # batching off: one item at a time
            yield from (self.collate_fn(self.dataset[i]) for i in self.sampler)
            return
        for indices in self.batch_sampler:
            yield self.collate_fn([self.dataset[i] for i in indices])

    def __len__(self) -> int:
        return len(self.sampler if self.batch_sampler is None else self.batch_sampler)


def _check_loader_options(batch_size: Any, shuffle: Any, sampler: Any, batch_sampler: Any, num_workers: Any,
                          drop_last: Any) -> None:
    """ValueError, with PyTorch's messages, for options that contradict each other or are invalid
    (``batch_size`` and ``drop_last`` themselves are checked by :class:`BatchSampler`)."""
    if shuffle not in (None, False, True):
        raise ValueError(f"DataLoader: shuffle must be a bool, got {shuffle!r}")
    if sampler is not None and shuffle:
        raise ValueError("sampler option is mutually exclusive with shuffle")
    if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
        raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                         "and drop_last")
    if batch_size is None and drop_last:
        raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers option should be non-negative; got num_workers={num_workers!r}")
