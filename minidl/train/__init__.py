"""Training: run a model description on a dataset, checkpoints, resume, ensembles of checkpoints.

    from minidl import spec, train
    desc = spec.load("experiments/models/fc.toml")
    result = train.train(desc, *train.open_data("builtin"), train.Options(out="runs/fc"))
    print(result.best)                                        # the best epoch's eval mAP, mAUC, d'
    train.evaluate_checkpoints(["runs/fc/best.ckpt", "runs/conv/best.ckpt"], eval_split)   # ensemble
"""

from __future__ import annotations

from minidl.data.clips import ClipSource
from minidl.train.data import Concat, Subset, open_joined, resolve, sample
from minidl.train.ensemble import ensemble_scores, evaluate_checkpoints, predict
from minidl.train.trainer import Interrupted, Options, Result, load_checkpoint, train


def open_data(data: str = "builtin", train: str | None = None, eval: str | None = None,
              seed: int = 0) -> tuple[ClipSource, ClipSource]:
    """The (train, eval) splits for ``--data`` (and ``--train``/``--eval``); see :mod:`minidl.train.data`."""
    train_spec, eval_spec = resolve(data, train, eval)
    return open_joined(train_spec, seed), open_joined(eval_spec, seed)


__all__ = ["Concat", "Interrupted", "Options", "Result", "Subset", "ensemble_scores", "evaluate_checkpoints",
           "load_checkpoint", "open_data", "open_joined", "predict", "sample", "train"]
