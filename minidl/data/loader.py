"""Batches for training: samplers, a streaming standardiser and the DataLoader.

An epoch is planned by a *sampler* as a stream of index *windows* (a few tens of thousands of
clips).  The loader reads one window at a time from the source (``source.take``: for an HDF5 file,
one slab read per run of touched storage chunks), cuts it into batches and, per batch only, dequantises,
standardises and converts.  So memory holds one window of uint8 clips plus one float batch, however
large the split: this is what keeps an epoch over 2M clips under a few hundred MB.

Samplers (all seeded: epoch ``e`` of seed ``s`` is the same on every run):

* :class:`SequentialSampler`: 0, 1, 2, ...
* :class:`ShuffleSampler`: a random permutation.  With ``block > 1`` (the default for files) it
  shuffles the order of blocks of ``block`` consecutive clips, then the clips within each window:
  every clip once per epoch, windows read as contiguous runs.
* :class:`BalancedSampler`: class-balanced sampling as used for AudioSet's unbalanced set (Kong
  et al., 2019): the k-th draw takes the next class of a shuffled round-robin over the classes,
  then the next clip of that class's shuffled list.  Rare classes are seen as often as Music.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np

from minidl import backend
from minidl.autograd import Tensor
from minidl.data.clips import EMBEDDING_SIZE, Clips, ClipSource, dequantize
from minidl.data.labels import LabelSets

WINDOW = 32768


class Sampler(Protocol):
    """Plans epochs: ``len()`` draws per epoch, yielded as windows of indices by ``windows(epoch)``."""

    def __len__(self) -> int: ...

    def windows(self, epoch: int) -> Iterator[np.ndarray]: ...


class SequentialSampler:
    """Indices 0 .. n-1 in order."""

    def __init__(self, n: int, window: int = WINDOW) -> None:
        self.n, self.window = n, window

    def __len__(self) -> int:
        return self.n

    def windows(self, epoch: int) -> Iterator[np.ndarray]:
        for start in range(0, self.n, self.window):
            yield np.arange(start, min(start + self.window, self.n))


class ShuffleSampler:
    """Every index once per epoch in a seeded random order, shuffled by blocks of ``block`` clips.

    ``block=1`` is a full permutation.  With ``block=b`` the blocks ``[kb, (k+1)b)`` are permuted
    and each window of ``window // b`` blocks is shuffled clip by clip.
    """

    def __init__(self, n: int, seed: int = 0, block: int = 1, window: int = WINDOW) -> None:
        self.n, self.seed, self.block = n, seed, block
        self.window = max(window // block, 1) * block

    def __len__(self) -> int:
        return self.n

    def windows(self, epoch: int) -> Iterator[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        starts = rng.permutation(np.arange(0, self.n, self.block))
        per_window = self.window // self.block
        for k in range(0, len(starts), per_window):
            window = (starts[k:k + per_window, None] + np.arange(self.block)).ravel()
            yield rng.permutation(window[window < self.n])


class BalancedSampler:
    """``num_samples`` draws per epoch, each from a class taken round-robin in shuffled order.

    ``labels`` gives each clip's classes; classes without clips are never drawn.  A clip with
    several labels can be drawn for any of them.
    """

    def __init__(self, labels: LabelSets, num_samples: int | None = None, seed: int = 0,
                 window: int = WINDOW) -> None:
        order = np.argsort(labels.indices, kind="stable")
        clip_of = np.repeat(np.arange(len(labels)), labels.per_clip())[order]
        counts = labels.class_counts()
        self.members = np.split(clip_of, np.cumsum(counts)[:-1])  # members[c]: clips labelled c
        self.classes = np.flatnonzero(counts)
        if not self.classes.size:
            raise ValueError("BalancedSampler: no clip has any label")
        self.num_samples = len(labels) if num_samples is None else num_samples
        self.seed, self.window = seed, window

    def __len__(self) -> int:
        return self.num_samples

    def windows(self, epoch: int) -> Iterator[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        queues = {c: _Queue(self.members[c], rng) for c in self.classes}
        for start in range(0, self.num_samples, self.window):
            size = min(self.window, self.num_samples - start)
            rounds = -(-size // len(self.classes))
            classes = np.concatenate([rng.permutation(self.classes) for _ in range(rounds)])[:size]
            window = np.empty(size, dtype=np.int64)
            for c in np.unique(classes):
                at = np.flatnonzero(classes == c)
                window[at] = queues[c].take(len(at))
            yield window


class _Queue:
    """An endless stream of a class's clips: shuffled, and reshuffled each time it runs out."""

    def __init__(self, members: np.ndarray, rng: np.random.Generator) -> None:
        self.members, self.rng = members, rng
        self.order, self.next = rng.permutation(members), 0

    def take(self, k: int) -> np.ndarray:
        out = []
        while k:
            if self.next == len(self.order):
                self.order, self.next = self.rng.permutation(self.members), 0
            part = self.order[self.next:self.next + k]
            self.next += len(part)
            k -= len(part)
            out.append(part)
        return np.concatenate(out)


def source_labels(source: ClipSource, chunk: int = 65536) -> LabelSets:
    """The label sets of a whole split, read chunk by chunk (for :class:`BalancedSampler`)."""
    parts = [LabelSets.from_dense(clips.y) for clips in source.chunks(chunk)]
    offsets = np.concatenate([[0], np.cumsum(np.concatenate([p.per_clip() for p in parts]))])
    return LabelSets(np.concatenate([p.indices for p in parts]), offsets.astype(np.int64))


class Standardizer:
    """Per-dimension standardisation ``(x - mean) / std`` of the dequantised features.

    ``mean`` and ``std`` are (128,) and pooled over clips and frames; :meth:`fit` computes them in
    one streaming pass (float64 sums), so it works on splits that do not fit in memory.
    """

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean, self.std = np.asarray(mean, np.float64), np.asarray(std, np.float64)

    @classmethod
    def fit(cls, source: ClipSource, dequantization: str = "centered", chunk: int = 65536) -> Standardizer:
        """Mean and std of ``source``'s dequantised frames; ValueError for a split with no clips."""
        total, sum_, sum_sq = 0, np.zeros(EMBEDDING_SIZE), np.zeros(EMBEDDING_SIZE)
        for clips in source.chunks(chunk):
            x = dequantize(clips.x, dequantization, np.float64).reshape(-1, EMBEDDING_SIZE)
            total += len(x)
            sum_ += x.sum(axis=0)
            sum_sq += (x * x).sum(axis=0)
        if not total:
            raise ValueError(f"Standardizer.fit: {getattr(source, 'name', 'the split')} holds no clips; "
                             "mean and std of nothing are undefined")
        mean = sum_ / total
        return cls(mean, np.sqrt(np.maximum(sum_sq / total - mean**2, 1e-12)))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Standardise (..., 128) features in place, in their own dtype."""
        x -= self.mean.astype(x.dtype)
        x /= self.std.astype(x.dtype)
        return x


class DataLoader:
    """Iterate over ``(x, y)`` batches of a split.

    ``x``: (B, 10, 128) (or (B, 1280) with ``flatten=True``), dequantised with ``dequantization``
    (see :data:`~minidl.data.clips.DEQUANTIZATIONS`), then standardised if ``standardizer`` is given;
    ``y``: (B, 527) 0/1.  Both are ``dtype`` (float32 unless asked; never upcast).  They are NumPy
    arrays, or minidl Tensors on ``device`` when ``device`` is given.

    The order comes from ``sampler``, or else a :class:`ShuffleSampler` (``shuffle=True``; blocks
    of the file's chunk size for on-disk sources) or a :class:`SequentialSampler`.  Each pass over
    the loader is a new epoch (``epoch`` counts them; :meth:`set_epoch` sets it).
    """

    def __init__(self, source: ClipSource, batch_size: int = 64, shuffle: bool = False, seed: int = 0,
                 drop_last: bool = False, sampler: Sampler | None = None, dequantization: str = "centered",
                 standardizer: Standardizer | None = None, flatten: bool = False, dtype: Any = "float32",
                 device: str | None = None) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")  # PyTorch's words
        self.source, self.batch_size, self.drop_last = source, batch_size, drop_last
        if sampler is None:
            block = getattr(source, "block_rows", 1)
            sampler = ShuffleSampler(len(source), seed, block) if shuffle else SequentialSampler(len(source))
        self.sampler = sampler
        self.dequantization, self.standardizer, self.flatten = dequantization, standardizer, flatten
        self.dtype = np.dtype(dtype)
        self.device = None if device is None else backend.normalize_device(device)
        if self.dtype.kind != "f":
            raise ValueError(f"dtype must be a floating dtype, got {self.dtype}")
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass epoch ``epoch`` (its order depends only on the seed and the epoch)."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        leftover: Clips | None = None
        for window in self.sampler.windows(epoch):
            clips = self.source.take(window)
            if leftover is not None:
                clips = Clips.concatenate([leftover, clips])
            full = len(clips) - len(clips) % self.batch_size
            for start in range(0, full, self.batch_size):
                yield self._batch(clips.x[start:start + self.batch_size], clips.y[start:start + self.batch_size])
            leftover = clips.take(np.arange(full, len(clips))) if full < len(clips) else None
        if leftover is not None and not self.drop_last:
            yield self._batch(leftover.x, leftover.y)

    def _batch(self, q: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        x = dequantize(q, self.dequantization, self.dtype)
        if self.standardizer is not None:
            x = self.standardizer(x)
        if self.flatten:
            x = x.reshape(len(x), -1)
        y = y.astype(self.dtype)
        if self.device is None:
            return x, y
        # x and y are this batch's own fresh arrays: wrap them (moved to the device), no second copy
        return Tensor(backend.to_device(x, self.device)), Tensor(backend.to_device(y, self.device))
