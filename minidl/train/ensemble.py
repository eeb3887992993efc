"""Scores from checkpoints: one model's, or the average of several (the paper's ensemble, Table 3).

Averaging the *probabilities* of several models is the paper's "simplest ensemble method, just
average the score of the three models"; averaging the checkpoints of a run's last epochs is the
same operation on one model's trajectory.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from minidl.data.clips import ClipSource
from minidl.metrics import Evaluation, evaluate
from minidl.spec import backend_module
from minidl.train.trainer import load_checkpoint, logits, sigmoid


def predict(checkpoint: str | Path, source: ClipSource, device: str = "cpu", batch: int = 1024) -> np.ndarray:
    """(N, classes) sigmoid scores of one checkpoint's model on every clip of ``source``."""
    state = load_checkpoint(checkpoint)
    desc = state["description"]
    fw = backend_module(state.get("backend", "minidl"))
    model = fw.build(desc, device=device).model
    fw.set_weights(model, state["weights"])
    return sigmoid(logits(fw, model, source, desc.input.scale, device, batch)[0]).astype(np.float32)


def ensemble_scores(checkpoints: Sequence[str | Path], source: ClipSource, device: str = "cpu") -> np.ndarray:
    """The mean of the checkpoints' scores (each a model of any description trained on the same classes)."""
    if not checkpoints:
        raise ValueError("ensemble: no checkpoints given")
    total = None
    for path in checkpoints:
        scores = predict(path, source, device)
        if total is not None and scores.shape != total.shape:
            raise ValueError(f"ensemble: {path} scores {scores.shape[1]} classes, the others {total.shape[1]}")
        total = scores if total is None else total + scores
    return total / len(checkpoints)


def evaluate_checkpoints(checkpoints: Sequence[str | Path], source: ClipSource, device: str = "cpu",
                         note: str | None = None) -> Evaluation:
    """Mean AP, mean AUC and d' of one checkpoint or of the average of several, on ``source``."""
    targets = np.concatenate([clips.y for clips in source.chunks(65536)])
    return evaluate(targets, ensemble_scores(checkpoints, source, device), note=note)
