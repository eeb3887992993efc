"""Evaluation metrics: per-class AP and ROC AUC, their means, d-prime and a per-class report.

See :mod:`minidl.metrics.tagging` for the definitions.
"""

from minidl.metrics.tagging import (
    Evaluation,
    average_precision,
    d_prime,
    evaluate,
    roc_auc,
    scored_classes,
)

__all__ = ["Evaluation", "average_precision", "d_prime", "evaluate", "roc_auc", "scored_classes"]
