"""Multi-label tagging metrics, as AudioSet papers report them.

For scores ``s`` (N, C) and binary targets ``y`` (N, C):

* per-class **average precision** ``AP_c = sum_k (R_k - R_{k-1}) P_k`` over the score thresholds
  (scikit-learn's ``average_precision_score``), and per-class **ROC AUC** (``roc_auc_score``);
* their unweighted means over classes, **mAP** and **mAUC**;
* **d-prime** ``d' = sqrt(2) * Phi^-1(AUC)``, the separation of two unit-variance Gaussians
  that gives that AUC; the headline d' is that of the mean AUC (Hershey et al., 2017).

A class is *scored* only when the split has at least one positive and one negative for it;
the others are left out of every mean and counted in :attr:`Evaluation.skipped`, so a mean is
never NaN.  Per-class arrays hold NaN for the skipped classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm
from sklearn.metrics import average_precision_score, roc_auc_score

from minidl.autograd import Tensor
from minidl.backend import to_numpy
from minidl.data.labels import NUM_CLASSES, builtin_classes


def _as_arrays(y_true: Any, y_score: Any) -> tuple[np.ndarray, np.ndarray]:
    """Check and convert (N, C) targets and scores (NumPy, CuPy or minidl Tensors) to NumPy."""
    y_true, y_score = (np.asarray(to_numpy(a.array if isinstance(a, Tensor) else a)) for a in (y_true, y_score))
    y_score = y_score.astype(np.float64)
    if y_true.ndim != 2 or y_true.shape != y_score.shape:
        raise ValueError(f"y_true and y_score must both be (N, C); got {y_true.shape} and {y_score.shape}")
    if not np.isin(y_true, (0, 1)).all():
        raise ValueError(f"y_true must be 0/1 (or bool); found values {np.unique(y_true)[:5]}")
    if not np.isfinite(y_score).all():
        bad = np.argwhere(~np.isfinite(y_score))[0]
        raise ValueError(f"y_score has non-finite values, first at (row, class) {tuple(bad.tolist())}")
    return y_true.astype(bool), y_score


def scored_classes(y_true: Any) -> np.ndarray:
    """(C,) bool: classes with at least one positive and one negative clip."""
    positives = np.asarray(y_true).astype(bool).sum(axis=0)
    return (positives > 0) & (positives < len(y_true))


def _per_class(metric: Any, y_true: Any, y_score: Any) -> np.ndarray:
    y_true, y_score = _as_arrays(y_true, y_score)
    out = np.full(y_true.shape[1], np.nan)
    by_class = zip(np.ascontiguousarray(y_true.T), np.ascontiguousarray(y_score.T), strict=True)  # fast rows
    for c, (targets, scores) in enumerate(by_class):
        if 0 < targets.sum() < len(targets):
            out[c] = metric(targets, scores)
    return out


def average_precision(y_true: Any, y_score: Any) -> np.ndarray:
    """(C,) per-class average precision; NaN for classes that are not scored."""
    return _per_class(average_precision_score, y_true, y_score)


def roc_auc(y_true: Any, y_score: Any) -> np.ndarray:
    """(C,) per-class area under the ROC curve; NaN for classes that are not scored."""
    return _per_class(roc_auc_score, y_true, y_score)


def d_prime(auc: Any) -> Any:
    """``sqrt(2) * Phi^-1(auc)`` (elementwise); 0 for AUC 0.5, +inf for AUC 1."""
    return np.sqrt(2.0) * norm.ppf(auc)


@dataclass(frozen=True)
class Evaluation:
    """Per-class AP and AUC (NaN where skipped), positives per class, and the summary numbers."""

    ap: np.ndarray
    auc: np.ndarray
    positives: np.ndarray
    class_names: Sequence[str]
    note: str | None = None

    @property
    def scored(self) -> np.ndarray:
        """(C,) bool: the classes that count in the means."""
        return ~np.isnan(self.ap)

    @property
    def skipped(self) -> int:
        """How many classes had no positive or no negative and were left out."""
        return int((~self.scored).sum())

    @property
    def mAP(self) -> float:  # noqa: N802 - the field's usual name
        """Unweighted mean of the per-class APs of the scored classes."""
        return float(self.ap[self.scored].mean()) if self.scored.any() else float("nan")

    @property
    def mAUC(self) -> float:  # noqa: N802 - the field's usual name
        """Unweighted mean of the per-class AUCs of the scored classes."""
        return float(self.auc[self.scored].mean()) if self.scored.any() else float("nan")

    @property
    def d_prime(self) -> float:
        """d' of the mean AUC."""
        return float(d_prime(self.mAUC))

    def summary(self) -> str:
        """One line: ``mAP 0.312  mAUC 0.951  d' 2.339  (527 classes scored, 0 skipped)``."""
        line = (f"mAP {self.mAP:.3f}  mAUC {self.mAUC:.3f}  d' {self.d_prime:.3f}  "
                f"({int(self.scored.sum())} classes scored, {self.skipped} skipped)")
        return f"{line}\n{self.note}" if self.note else line

    def report(self, top: int | None = None, sort_by: str = "ap") -> str:
        """A markdown table, one row per scored class, best ``sort_by`` ("ap", "auc" or "positives") first."""
        if sort_by not in ("ap", "auc", "positives"):
            raise ValueError(f"sort_by must be 'ap', 'auc' or 'positives', got {sort_by!r}")
        key = getattr(self, sort_by)
        order = [c for c in np.argsort(-np.nan_to_num(key, nan=-np.inf), kind="stable") if self.scored[c]]
        rows = [f"| {rank} | {self.class_names[c]} | {self.positives[c]} | {self.ap[c]:.3f} | "
                f"{self.auc[c]:.3f} | {d_prime(self.auc[c]):.2f} |"
                for rank, c in enumerate(order[:top], start=1)]
        lines = ([f"> {self.note}", ""] if self.note else []) + [
            self.summary().splitlines()[0], "",
            "| # | class | positives | AP | AUC | d' |", "|---|---|---|---|---|---|", *rows]
        if self.skipped:
            lines += ["", f"{self.skipped} classes skipped (no positive or no negative clip in this split)."]
        return "\n".join(lines)


def evaluate(y_true: Any, y_score: Any, class_names: Sequence[str] | None = None,
             note: str | None = None) -> Evaluation:
    """Per-class AP and AUC for (N, C) targets and scores, with display names for the report.

    ``class_names`` defaults to AudioSet's 527 display names when C is 527, else ``class 0``, ...;
    ``note`` is printed with every summary and report (e.g. that the features are synthetic).
    """
    y_true, y_score = _as_arrays(y_true, y_score)
    if class_names is None:
        class_names = _default_names(y_true.shape[1])
    if len(class_names) != y_true.shape[1]:
        raise ValueError(f"{len(class_names)} class names for {y_true.shape[1]} classes")
    return Evaluation(average_precision(y_true, y_score), roc_auc(y_true, y_score), y_true.sum(axis=0),
                      tuple(class_names), note)


def _default_names(num_classes: int) -> tuple[str, ...]:
    return builtin_classes().names if num_classes == NUM_CLASSES else tuple(f"class {c}" for c in range(num_classes))
