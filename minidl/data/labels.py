"""AudioSet's label files: the class list and the segments CSVs, plus the shipped label sets.

* ``class_labels_indices.csv``: ``index,mid,display_name``, one row per class (527 rows).
* ``*_segments.csv``: three ``# `` header lines, then ``YTID, start_seconds, end_seconds, "mid,mid,..."``.

Multi-label sets are kept ragged, in CSR form (:class:`LabelSets`): clip ``i`` has the class
indices ``indices[offsets[i]:offsets[i + 1]]``.  That is ~50x smaller than the dense
``(N, 527)`` bool matrix, which :meth:`LabelSets.to_dense` builds when a batch needs it.

The built-in label sets (:func:`builtin_label_sets`) are the real ones of the 22,160
balanced-train and 20,371 eval clips, shipped in ``resources/audioset_labels.npz`` (made by
``tools/make_label_resources.py`` from the official CSVs).
"""

from __future__ import annotations

import csv
import functools
import io
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from minidl.data.errors import LabelFileError

NUM_CLASSES = 527
NUM_FRAMES = 10
BUILTIN_SPLITS = ("bal_train", "eval")
_RESOURCES = resources.files("minidl.data") / "resources"


@dataclass(frozen=True)
class ClassLabels:
    """The class list: ``mids[i]`` (e.g. ``/m/09x0r``) and ``names[i]`` (e.g. ``Speech``) of class ``i``."""

    mids: tuple[str, ...]
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.mids)

    @functools.cached_property
    def _index(self) -> dict[str, int]:
        return {mid: i for i, mid in enumerate(self.mids)}

    def index(self, mid: str) -> int:
        """The class index of ``mid``; ``KeyError`` when the mid is not in the list."""
        return self._index[mid]


@dataclass(frozen=True)
class LabelSets:
    """Ragged multi-label sets: clip ``i`` has classes ``indices[offsets[i]:offsets[i + 1]]``.

    ``indices``: (total_labels,) integer class indices; ``offsets``: (N + 1,) int64, ``offsets[0] == 0``.
    """

    indices: np.ndarray
    offsets: np.ndarray
    num_classes: int = NUM_CLASSES

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return self.indices[self.offsets[i]:self.offsets[i + 1]]

    @property
    def total(self) -> int:
        """The number of (clip, class) positives."""
        return int(self.offsets[-1])

    def per_clip(self) -> np.ndarray:
        """(N,) number of labels of each clip."""
        return np.diff(self.offsets)

    def class_counts(self) -> np.ndarray:
        """(num_classes,) number of clips that carry each class."""
        return np.bincount(self.indices, minlength=self.num_classes)

    def to_dense(self) -> np.ndarray:
        """(N, num_classes) bool multi-hot matrix."""
        dense = np.zeros((len(self), self.num_classes), dtype=bool)
        dense[np.repeat(np.arange(len(self)), self.per_clip()), self.indices] = True
        return dense

    def take(self, rows: np.ndarray) -> LabelSets:
        """The label sets of clips ``rows`` (in that order)."""
        counts = self.per_clip()[rows]
        starts = self.offsets[rows]
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        within = np.arange(offsets[-1]) - np.repeat(offsets[:-1], counts)
        return LabelSets(self.indices[np.repeat(starts, counts) + within], offsets, self.num_classes)

    @classmethod
    def from_dense(cls, y: np.ndarray) -> LabelSets:
        """Build from an (N, C) multi-hot matrix (bool or 0/1)."""
        rows, cols = np.nonzero(y)
        offsets = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=y.shape[0]))])
        return cls(cols.astype(np.int64), offsets.astype(np.int64), y.shape[1])

    @classmethod
    def from_lists(cls, lists: list[list[int]], num_classes: int = NUM_CLASSES) -> LabelSets:
        """Build from one list of class indices per clip."""
        offsets = np.concatenate([[0], np.cumsum([len(labels) for labels in lists])]).astype(np.int64)
        indices = np.fromiter((c for labels in lists for c in labels), dtype=np.int64, count=offsets[-1])
        return cls(indices, offsets, num_classes)


@dataclass(frozen=True)
class Segments:
    """The rows of a segments CSV: (N,) ``ytids``, ``start_seconds``, ``end_seconds`` and the label sets."""

    ytids: tuple[str, ...]
    start_seconds: np.ndarray
    end_seconds: np.ndarray
    labels: LabelSets

    def n_frames(self) -> np.ndarray:
        """(N,) uint8 number of one-second embedding frames, ``round(end - start)`` clipped to [1, 10]."""
        return np.clip(np.rint(self.end_seconds - self.start_seconds), 1, NUM_FRAMES).astype(np.uint8)


# ----------------------------------------------------------------------------- class list
def read_class_labels(path: str | Path) -> ClassLabels:
    """Parse ``class_labels_indices.csv``: header ``index,mid,display_name``, indices 0, 1, 2, ... in order."""
    return _parse_class_labels(io.StringIO(_read_text(path), newline=""), str(path))


def _read_text(path: str | Path) -> str:
    """The UTF-8 text of a label file; LabelFileError naming the file and line if it is not UTF-8."""
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise LabelFileError(f"{path}:{line}: not UTF-8 text (byte {err.start}: {raw[err.start:err.start + 4]!r}; "
                             "the label files are UTF-8)") from None


@functools.cache
def builtin_classes() -> ClassLabels:
    """The 527 AudioSet classes shipped with minidl (a copy of the official ``class_labels_indices.csv``)."""
    text = (_RESOURCES / "class_labels_indices.csv").read_text(encoding="utf-8")
    return _parse_class_labels(io.StringIO(text), "minidl/data/resources/class_labels_indices.csv")


def _parse_class_labels(f: io.TextIOBase, name: str) -> ClassLabels:
    rows = csv.reader(f)
    header = next(rows, None)
    if header != ["index", "mid", "display_name"]:
        raise LabelFileError(f"{name}: line 1 should be 'index,mid,display_name', got {header!r}")
    mids, names = [], []
    for lineno, row in enumerate(rows, start=2):
        if len(row) != 3:
            raise LabelFileError(f"{name}:{lineno}: expected 3 fields (index, mid, display_name), got {row!r}")
        if row[0] != str(len(mids)):
            raise LabelFileError(f"{name}:{lineno}: field 'index' should be {len(mids)}, got {row[0]!r}")
        if row[1] in mids:
            raise LabelFileError(f"{name}:{lineno}: mid {row[1]!r} appears twice")
        mids.append(row[1])
        names.append(row[2])
    if not mids:
        raise LabelFileError(f"{name}: no classes after the header")
    return ClassLabels(tuple(mids), tuple(names))


# ----------------------------------------------------------------------------- segments CSV
def read_segments(path: str | Path, classes: ClassLabels | None = None) -> Segments:
    """Parse a segments CSV (``balanced_train_segments.csv``, ``eval_segments.csv``, ...).

    Mids are mapped to indices with ``classes`` (default: the built-in class list).  The counts in
    the ``# num_segs=..., num_positive_labels=...`` header line, when present, are checked, so a
    truncated download is an error rather than a silently smaller split.
    """
    classes = classes or builtin_classes()
    header: dict[str, int] = {}
    ytids, starts, ends, lists = [], [], [], []
    for lineno, line in enumerate(io.StringIO(_read_text(path), newline=""), start=1):
        if line.startswith("#"):
            header.update(_header_counts(line))
        elif line.strip():
            ytid, start, end, labels = _parse_segment(line, f"{path}:{lineno}", classes)
            ytids.append(ytid)
            starts.append(start)
            ends.append(end)
            lists.append(labels)
    segments = Segments(tuple(ytids), np.array(starts), np.array(ends),
                        LabelSets.from_lists(lists, len(classes)))
    _check_header(segments, header, str(path))
    return segments


def _parse_segment(line: str, where: str, classes: ClassLabels) -> tuple[str, float, float, list[int]]:
    row = next(csv.reader([line], skipinitialspace=True))
    if len(row) != 4:
        raise LabelFileError(f"{where}: expected 4 fields (YTID, start_seconds, end_seconds, "
                             f"positive_labels), got {len(row)}: {line.strip()!r}")
    start, end = (_number(row[k], name, where) for k, name in ((1, "start_seconds"), (2, "end_seconds")))
    if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
        raise LabelFileError(f"{where}: start_seconds={row[1]!r}, end_seconds={row[2]!r} is not a segment "
                             "(finite times, 0 <= start < end)")
    try:
        labels = [classes.index(mid) for mid in row[3].split(",")]
    except KeyError as err:
        raise LabelFileError(f"{where}: unknown label mid {err.args[0]!r} "
                             "(not in class_labels_indices.csv)") from None
    return row[0], start, end, labels


def _number(text: str, field: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise LabelFileError(f"{where}: field {field!r} is not a number: {text!r}") from None


def _header_counts(line: str) -> dict[str, int]:
    """``# num_ytids=22160, num_segs=22160, ...`` -> ``{"num_ytids": 22160, ...}``; other lines -> {}."""
    pairs = (item.strip().split("=", 1) for item in line.lstrip("# ").split(","))
    return {kv[0]: int(kv[1]) for kv in pairs if len(kv) == 2 and kv[1].strip().isdigit()}


def _check_header(segments: Segments, header: dict[str, int], name: str) -> None:
    found = {"num_segs": len(segments.ytids), "num_positive_labels": segments.labels.total}
    for key, value in found.items():
        if key in header and header[key] != value:
            raise LabelFileError(f"{name}: the header says {key}={header[key]} but the file has {value} "
                                 "(truncated or edited file?)")


# ----------------------------------------------------------------------------- shipped label sets
@functools.cache
def builtin_label_sets(split: str) -> tuple[LabelSets, np.ndarray]:
    """The real label sets and frame counts of a built-in split: ``bal_train`` or ``eval``.

    Returns ``(labels, n_frames)``: the official label sets of the 22,160 (52,882 labels) or
    20,371 (51,804 labels) clips, in the order of the official CSV, and the (N,) uint8 number
    of one-second frames each clip has (``round(end - start)``; 1.6% and 1.8% have fewer than 10).
    """
    if split not in BUILTIN_SPLITS:
        raise ValueError(f"unknown built-in split {split!r}; expected one of {BUILTIN_SPLITS}")
    with (_RESOURCES / "audioset_labels.npz").open("rb") as f, np.load(f, allow_pickle=False) as npz:
        counts = npz[f"{split}_counts"].astype(np.int64)
        indices = npz[f"{split}_labels"].astype(np.int64)
        n_frames = npz[f"{split}_frames"]
    offsets = np.concatenate([[0], np.cumsum(counts)])
    return LabelSets(indices, offsets), n_frames
