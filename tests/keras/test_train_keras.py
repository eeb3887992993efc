"""``minidl.train`` driving the Keras backend: the same trainer, checkpoints and resume as minidl and PyTorch."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from minidl import spec
from minidl.train import Interrupted, Options, load_checkpoint, open_data, sample, train
from minidl.train import trainer as trainer_module

TIMING = ("seconds", "clips_per_second")


def tiny_desc(**changes) -> spec.Description:
    data = {"name": "tiny", "layers": [{"type": "fc", "units": 32, "dropout": 0.3}, {"type": "residual", "units": 32}],
            "optimizer": {"type": "sgd_momentum", "lr": 0.05, "momentum": 0.9},
            "training": {"epochs": 2, "batch_size": 32, "seed": 1}}
    return spec.load(data).replace(changes)


@pytest.fixture(scope="module")
def splits():
    train_split, eval_split = open_data("builtin")
    return sample(train_split, 200, 0), sample(eval_split, 150, 1)


def without_timing(history):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in history]


def test_first_epoch_loss_equals_minidl_from_the_same_weights(splits, tmp_path) -> None:
    desc = tiny_desc(**{"layers[0].dropout": 0.0, "training.epochs": 1})  # SGD: the same formula in both
    start = spec.backend_module("minidl").get_weights(spec.build(desc).model)
    runs = [train(desc, *splits, Options(tmp_path / b, backend=b, progress=False, initial_weights=start)).history[0]
            for b in ("minidl", "keras")]
    for key in ("train_loss", "eval_loss", "eval_mAP", "eval_mAUC"):
        assert abs(runs[0][key] - runs[1][key]) <= 1e-5 * abs(runs[1][key]), key


class InterruptingBar:
    """Stands in for tqdm and sets the trainer's stop flag after batch ``after``, as a Ctrl-C would."""

    def __init__(self, iterable, after: int, **kwargs) -> None:
        self.iterable, self.after, self.initial = iterable, after, kwargs.get("initial", 0)

    def __iter__(self):
        for i, item in enumerate(self.iterable, self.initial + 1):
            if i == self.after:
                os.kill(os.getpid(), signal.SIGINT)
            yield item

    def set_postfix(self, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass


def test_sigint_then_resume_is_bit_identical_with_dropout(splits, tmp_path, monkeypatch) -> None:
    whole = train(tiny_desc(), *splits, Options(tmp_path / "whole", backend="keras", progress=False))
    monkeypatch.setattr(trainer_module, "tqdm", lambda it, **kw: InterruptingBar(it, 3, **kw))
    with pytest.raises(Interrupted):
        train(tiny_desc(), *splits, Options(tmp_path / "parts", backend="keras", progress=False))
    monkeypatch.setattr(trainer_module, "tqdm", lambda it, **kw: InterruptingBar(it, -1, **kw))
    resumed = train(tiny_desc(), *splits, Options(tmp_path / "parts", backend="keras", progress=False), resume=True)
    assert without_timing(resumed.history) == without_timing(whole.history)
    final = load_checkpoint(tmp_path / "whole" / "last.ckpt")
    for key, value in load_checkpoint(tmp_path / "parts" / "last.ckpt")["weights"].items():
        assert np.array_equal(value, final["weights"][key]), key
    assert final["backend"] == "keras" and len(final["rng"]) == 1  # one dropout layer, one seed generator
