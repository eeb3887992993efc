"""Split statistics for ``minidl data stats``: clips, label cardinality, frequent classes, short clips.

Computed in one streaming pass over a split's chunks (or from label sets alone, for a segments CSV).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from minidl.data.clips import SYNTHETIC_NOTE
from minidl.data.labels import NUM_CLASSES, NUM_FRAMES, ClassLabels, LabelSets, builtin_classes, read_segments


@dataclass
class SplitStats:
    """Running totals: ``cardinality[k]`` clips with k labels, ``class_counts`` (527,), short clips."""

    name: str
    synthetic: bool = False
    cardinality: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    class_counts: np.ndarray = field(default_factory=lambda: np.zeros(NUM_CLASSES, dtype=np.int64))
    short: int | None = 0  # clips with fewer than 10 frames; None when the source does not record it
    truncated: int | None = None

    @property
    def clips(self) -> int:
        return int(self.cardinality.sum())

    @property
    def labels(self) -> int:
        return int(self.class_counts.sum())

    def add(self, labels: LabelSets, n_frames: np.ndarray | None) -> None:
        """Count a chunk of clips (their label sets and, if known, frame counts)."""
        hist = np.bincount(labels.per_clip(), minlength=len(self.cardinality))
        self.cardinality = hist + np.pad(self.cardinality, (0, len(hist) - len(self.cardinality)))
        self.class_counts += labels.class_counts()
        if n_frames is None or self.short is None:
            self.short = None
        else:
            self.short += int((n_frames < NUM_FRAMES).sum())


def compute_stats(source: object, chunk: int = 65536) -> SplitStats:
    """Statistics of a split (anything with ``chunks()``), in one pass of ``chunk``-clip pieces."""
    stats = SplitStats(getattr(source, "name", "split"), bool(getattr(source, "synthetic", False)))
    for clips in source.chunks(chunk):
        stats.add(LabelSets.from_dense(clips.y), clips.n_frames)
    stats.truncated = getattr(source, "truncated", None)
    return stats


def format_stats(stats: SplitStats, classes: ClassLabels | None = None, top: int = 10) -> str:
    """A plain-text report of ``stats`` with class display names and the ``top`` most frequent classes."""
    if top < 0:
        raise ValueError(f"format_stats: top must be >= 0 (how many classes to list), got {top}")
    classes = classes or builtin_classes()
    n = max(stats.clips, 1)
    present = np.flatnonzero(stats.cardinality).tolist()  # label counts that occur
    lines = [stats.name, *([f"  {SYNTHETIC_NOTE}"] if stats.synthetic else []),
             f"  clips:                 {stats.clips:,}",
             f"  labels:                {stats.labels:,} ({stats.labels / n:.2f} per clip; "
             f"min {min(present, default=0)}, max {max(present, default=0)})",
             "  labels per clip:       " + ", ".join(f"{k}: {c:,}" for k, c in enumerate(stats.cardinality) if c),
             f"  classes present:       {int((stats.class_counts > 0).sum())} of {len(stats.class_counts)}",
             "  short clips (<10 s):   " + ("not recorded in this file" if stats.short is None
                                          else f"{stats.short:,} ({100 * stats.short / n:.2f}%)")]
    if stats.truncated is not None:
        lines.append(f"  truncated (>10 frames): {stats.truncated:,}")
    lines.append("  most frequent classes:")
    for c in np.argsort(-stats.class_counts, kind="stable")[:top]:
        lines.append(f"    {classes.names[c]:<32} {stats.class_counts[c]:>9,}  {100 * stats.class_counts[c] / n:5.1f}%")
    return "\n".join(lines)


def segments_stats(path: str) -> SplitStats:
    """Statistics of the label sets of an official segments CSV (no embeddings needed)."""
    segments = read_segments(path)
    stats = SplitStats(str(path))
    stats.add(segments.labels, segments.n_frames())
    return stats
