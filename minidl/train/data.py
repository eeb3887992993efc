"""The data a run trains and evaluates on, from what a user types.

``--data builtin`` (the default) is the built-in stand-in: train on ``builtin:bal_train``, evaluate on
``builtin:eval``.  ``--data FOLDER`` is a folder holding ``bal_train`` and ``eval`` as ``.h5`` files or
TFRecord folders (what ``minidl data convert`` writes, or the official release).  ``--train`` and
``--eval`` name the splits one by one (anything :func:`minidl.data.sources.open_split` opens); a ``+``
joins several (``builtin:bal_train+builtin:big:200000``: the paper's balanced plus more data).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from minidl.data.clips import Clips, ClipSource
from minidl.data.sources import open_split


class Concat:
    """Several splits as one: clip ``i`` of the whole is clip ``i - offset`` of the part it falls in."""

    def __init__(self, parts: list[ClipSource]) -> None:
        self.parts = parts
        self.offsets = np.cumsum([0] + [len(p) for p in parts])
        self.synthetic = any(p.synthetic for p in parts)
        self.name = " + ".join(p.name for p in parts)
        self.block_rows = max(getattr(p, "block_rows", 1) for p in parts)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def take(self, indices: np.ndarray) -> Clips:
        part_of = np.searchsorted(self.offsets, indices, side="right") - 1
        pieces, order = [], []
        for k, part in enumerate(self.parts):
            at = np.flatnonzero(part_of == k)
            if at.size:
                pieces.append(part.take(indices[at] - self.offsets[k]))
                order.append(at)
        whole = Clips.concatenate(pieces)
        return whole.take(np.argsort(np.concatenate(order), kind="stable"))

    def chunks(self, size: int) -> Iterator[Clips]:
        for part in self.parts:
            yield from part.chunks(size)


class Subset:
    """The clips of ``source`` at ``indices`` (sorted), e.g. a quick run's sample of a split."""

    def __init__(self, source: ClipSource, indices: np.ndarray) -> None:
        self.source, self.indices = source, np.sort(indices)
        self.synthetic, self.name = source.synthetic, f"{source.name} ({len(self.indices):,} clips)"

    def __len__(self) -> int:
        return len(self.indices)

    def take(self, indices: np.ndarray) -> Clips:
        return self.source.take(self.indices[indices])

    def chunks(self, size: int) -> Iterator[Clips]:
        for start in range(0, len(self), size):
            yield self.take(np.arange(start, min(start + size, len(self))))


def open_joined(spec: str, seed: int = 0) -> ClipSource:
    """One split, or several joined with ``+``."""
    parts = [open_split(part, seed) for part in spec.split("+")]
    return parts[0] if len(parts) == 1 else Concat(parts)


def sample(source: ClipSource, n: int | None, seed: int = 0) -> ClipSource:
    """``n`` clips of ``source`` drawn without replacement (seeded), or ``source`` itself when ``n`` is None or more."""
    if n is None or n >= len(source):
        return source
    return Subset(source, np.random.default_rng([seed, 7]).choice(len(source), n, replace=False))


def resolve(data: str = "builtin", train: str | None = None, eval: str | None = None) -> tuple[str, str]:
    """The (train, eval) split specs for ``--data`` unless ``--train``/``--eval`` name them."""
    if data == "builtin":
        default = ("builtin:bal_train", "builtin:eval")
    else:
        folder = Path(data)
        if not folder.is_dir():
            raise FileNotFoundError(f"--data {data}: not 'builtin' and not a folder")
        default = tuple(_split_in(folder, name) for name in ("bal_train", "eval"))
    return train or default[0], eval or default[1]


def _split_in(folder: Path, name: str) -> str:
    for candidate in (folder / f"{name}.h5", folder / f"{name}.hdf5", folder / f"{name}.npz", folder / name):
        if candidate.exists():
            return str(candidate)
    raise FileNotFoundError(f"{folder}: no {name}.h5, {name}.npz or {name}/ folder of .tfrecord files")
