"""The trainer, checkpoints, resume after Ctrl-C, ensembles, the train/eval/predict commands and the experiments."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minidl import spec
from minidl.backend import cuda_available
from minidl.cli.main import main
from minidl.experiments import experiment_names, load_experiment
from minidl.experiments import runner as runner_module
from minidl.experiments.runner import _why_unavailable, estimate_seconds
from minidl.train import Interrupted, Options, evaluate_checkpoints, load_checkpoint, open_data, predict, sample, train
from minidl.train import trainer as trainer_module

ROOT = Path(__file__).resolve().parent.parent
TIMING = ("seconds", "clips_per_second")


def tiny_desc(**changes) -> spec.Description:
    data = {"name": "tiny", "layers": [{"type": "fc", "units": 32, "dropout": 0.3}, {"type": "fc", "units": 16}],
            "training": {"epochs": 2, "batch_size": 32, "seed": 1}}
    return spec.load(data).replace(changes)


@pytest.fixture(scope="module")
def splits():
    train_split, eval_split = open_data("builtin")
    return sample(train_split, 200, 0), sample(eval_split, 150, 1)


def without_timing(history):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in history]


def weights(out: Path, name: str = "last.ckpt") -> dict[str, np.ndarray]:
    return load_checkpoint(out / name)["weights"]


def test_history_checkpoints_and_files(splits, tmp_path):
    result = train(tiny_desc(), *splits, Options(tmp_path, progress=False, keep_epochs=1))
    assert [row["epoch"] for row in result.history] == [1, 2] and result.history[0]["steps"] == 7
    for name in ("history.csv", "history.json", "last.ckpt", "best.ckpt", "epoch-002.ckpt", "description.json"):
        assert (tmp_path / name).exists(), name
    assert not (tmp_path / "epoch-001.ckpt").exists()  # keep_epochs=1 keeps only the last one
    assert json.loads((tmp_path / "history.json").read_text()) == result.history
    assert (tmp_path / "history.csv").read_text().splitlines()[0].startswith("epoch,steps,train_loss")
    state = load_checkpoint(tmp_path / "last.ckpt")
    assert state["description"] == tiny_desc() and state["epoch"] == 2 and state["history"] == result.history
    for row in result.history:
        assert 0 < row["eval_mAP"] < 1 and 0 < row["eval_mAUC"] < 1 and row["train_loss"] > 0


def test_same_seed_same_numbers(splits, tmp_path):
    a = train(tiny_desc(), *splits, Options(tmp_path / "a", progress=False))
    b = train(tiny_desc(), *splits, Options(tmp_path / "b", progress=False))
    assert without_timing(a.history) == without_timing(b.history)
    for key, value in weights(tmp_path / "a").items():
        assert np.array_equal(value, weights(tmp_path / "b")[key])
    c = train(tiny_desc(**{"training.seed": 2}), *splits, Options(tmp_path / "c", progress=False))
    assert without_timing(c.history) != without_timing(a.history)


class InterruptingBar:
    """Stands in for tqdm: sends this process a SIGINT while batch ``after`` is trained, as a user's Ctrl-C."""

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


@pytest.mark.parametrize("stop_after", [3, 7])  # inside the first epoch; at its very end
def test_sigint_then_resume_is_bit_identical(splits, tmp_path, monkeypatch, stop_after):
    handler = signal.getsignal(signal.SIGINT)  # the default one, or SIG_IGN in a background job
    whole = train(tiny_desc(), *splits, Options(tmp_path / "whole", progress=False))
    monkeypatch.setattr(trainer_module, "tqdm", lambda it, **kw: InterruptingBar(it, stop_after, **kw))
    with pytest.raises(Interrupted, match=r"resume with: minidl train .*description.json .*--resume"):
        train(tiny_desc(), *splits, Options(tmp_path / "parts", progress=False))
    state = load_checkpoint(tmp_path / "parts" / "last.ckpt")
    assert (state["epoch"], state["step"]) == (0, stop_after)
    monkeypatch.setattr(trainer_module, "tqdm", lambda it, **kw: InterruptingBar(it, -1, **kw))
    resumed = train(tiny_desc(), *splits, Options(tmp_path / "parts", progress=False), resume=True)
    assert without_timing(resumed.history) == without_timing(whole.history)
    for key, value in weights(tmp_path / "whole").items():
        assert np.array_equal(value, weights(tmp_path / "parts")[key]), key
    assert signal.getsignal(signal.SIGINT) is handler  # the handler is put back


def test_resume_needs_a_checkpoint_of_the_same_description(splits, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(tiny_desc(), *splits, Options(tmp_path, progress=False), resume=True)
    train(tiny_desc(), *splits, Options(tmp_path, progress=False))
    with pytest.raises(ValueError, match="written for another description"):
        train(tiny_desc(**{"optimizer.lr": 0.01}), *splits, Options(tmp_path, progress=False), resume=True)


def test_torch_backend_first_epoch_loss_equals_minidl(splits, tmp_path):
    desc = tiny_desc(**{"layers[0].dropout": 0.0, "training.epochs": 1})
    start = spec.backend_module("minidl").get_weights(spec.build(desc).model)
    runs = [train(desc, *splits, Options(tmp_path / b, backend=b, progress=False, initial_weights=start)).history[0]
            for b in ("minidl", "torch")]
    for key in ("train_loss", "eval_loss", "eval_mAP", "eval_mAUC"):
        assert abs(runs[0][key] - runs[1][key]) <= 1e-5 * abs(runs[1][key]), key


def test_ensemble_is_the_mean_of_the_scores(splits, tmp_path):
    for seed in (1, 2):
        train(tiny_desc(**{"training.seed": seed}), *splits, Options(tmp_path / str(seed), progress=False))
    paths = [tmp_path / "1" / "best.ckpt", tmp_path / "2" / "best.ckpt"]
    scores = [predict(p, splits[1]) for p in paths]
    assert scores[0].shape == (150, 527) and not np.allclose(scores[0], scores[1])
    both = evaluate_checkpoints(paths, splits[1])
    from minidl.metrics import evaluate
    targets = np.concatenate([c.y for c in splits[1].chunks(1000)])
    assert both.mAP == pytest.approx(evaluate(targets, (scores[0] + scores[1]) / 2).mAP, rel=1e-12)


# ---------------------------------------------------------------------------------- the command
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli")
    path = out / "tiny.json"
    path.write_text(json.dumps(tiny_desc(**{"training.epochs": 1}).to_dict()))
    assert main(["train", str(path), "--out", str(out / "run"), "--train", "builtin:bal_train", "--no-progress",
                 "--epochs", "1", "--batch-size", "512"]) == 0
    return out


def test_cli_train_eval_predict(run_dir, capsys, tmp_path):
    assert main(["eval", str(run_dir / "run" / "best.ckpt"), str(run_dir / "run" / "last.ckpt"), "--top", "3"]) == 0
    assert "ensemble of" in capsys.readouterr().out
    assert main(["predict", str(run_dir / "run" / "best.ckpt"), "--split", "builtin:eval", "--out",
                 str(tmp_path / "s.npy")]) == 0
    scores = np.load(tmp_path / "s.npy")
    assert scores.shape == (20371, 527) and scores.dtype == np.float32 and 0 < scores.min() < scores.max() < 1
    assert main(["predict", str(run_dir / "run" / "best.ckpt"), "--split", "builtin:eval", "--out",
                 str(tmp_path / "s.csv")]) == 0
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert len(lines) == 20372 and lines[0].startswith("video_id,class_0,") and lines[1].startswith("synthetic-eval")


BAD_CALLS = [
    (["train"], "minidl train: error: the following arguments are required: SPEC"),
    (["train", "missing.toml"], "minidl: error: missing.toml: no such description file"),
    (["train", "experiments/models/fc.toml", "--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
    (["train", "experiments/models/fc.toml", "--epochs", "two"], "argument --epochs: expected a whole number"),
    (["train", "experiments/models/fc.toml", "--lr", "nan"], "argument --lr: must be a finite number > 0, got nan"),
    (["train", "experiments/models/fc.toml", "--lr", "-1"], "argument --lr: must be a finite number > 0, got -1"),
    (["train", "experiments/models/fc.toml", "--backend", "jax"], "argument --backend: invalid choice: 'jax'"),
    (["train", "experiments/models/fc.toml", "--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
    (["train", "experiments/models/fc.toml", "--data", "/no/such/folder"],
     "minidl: error: --data /no/such/folder: not 'builtin' and not a folder"),
    (["train", "experiments/models/fc.toml", "--train", "builtin:nope"], "minidl: error: unknown built-in split"),
    (["eval", "missing.ckpt"], "minidl: error: "),
    (["predict", "x.ckpt", "--split", "builtin:eval", "--out", "scores.txt"],
     "minidl: error: --out scores.txt: the file must end in .csv or .npy"),
    (["predict", "x.ckpt", "--out", "s.npy"], "the following arguments are required: --split"),
    (["experiment", "nope"], "minidl: error: unknown experiment 'nope'; expected one of architectures"),
    (["experiment", "width", "--quick", "--full"], "argument --full: not allowed with argument --quick"),
    (["parity", "experiments/models/fc.toml", "--dtype", "float16"], "argument --dtype: invalid choice: 'float16'"),
    (["nosuchcommand"], "minidl: error: argument GROUP: invalid choice: 'nosuchcommand'"),
]


@pytest.mark.parametrize("argv, message", BAD_CALLS, ids=[" ".join(a)[:40] for a, _ in BAD_CALLS])
def test_cli_rejects_bad_invocations_in_one_line(argv, message):
    result = subprocess.run([sys.executable, "-m", "minidl", *argv], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    assert message in result.stderr


def test_cli_refuses_to_overwrite_a_run(run_dir, capsys):
    assert main(["train", str(run_dir / "tiny.json"), "--out", str(run_dir / "run")]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_cli_train_exits_130_on_sigint_and_prints_the_resume_command(run_dir, capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(trainer_module, "tqdm", lambda it, **kw: InterruptingBar(it, 1, **kw))
    assert main(["train", str(run_dir / "tiny.json"), "--out", str(tmp_path / "r"), "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert f"resume with: minidl train {tmp_path / 'r' / 'description.json'} --out={tmp_path / 'r'} --resume" in err
    monkeypatch.setattr(trainer_module, "tqdm", lambda it, **kw: InterruptingBar(it, -1, **kw))
    assert main(["train", str(tmp_path / "r" / "description.json"), f"--out={tmp_path / 'r'}", "--resume",
                 "--no-progress"]) == 0


# ---------------------------------------------------------------------------------- the experiments
def test_every_table_and_figure_of_the_paper_has_an_experiment():
    assert {"frameworks", "architectures", "dropout", "regularization", "bigdata", "weightscale",
            "width"} <= set(experiment_names())


@pytest.mark.slow
@pytest.mark.parametrize("name", experiment_names())
def test_experiment_runs_end_to_end_at_tiny_size(name, tmp_path):
    """Through the command, in a process of its own (the frameworks experiment imports TensorFlow)."""
    result = subprocess.run([sys.executable, "-m", "minidl", "experiment", name, "--tiny", "--out", str(tmp_path),
                             "--no-progress"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / name
    for file in ("table.md", "report.md", "curves.png", "results.json"):
        assert (out / file).stat().st_size > 0, file
    report = (out / "report.md").read_text()
    assert "Synthetic features" in report and "![train and eval curves](curves.png)" in report
    results = json.loads((out / "results.json").read_text())
    exp = load_experiment(name)
    assert [run["label"] for run in results["runs"]] == [run.label for run in exp.runs]
    for run in results["runs"]:
        assert "unavailable" in run or 0 < run["eval_mAP"] < 1, run["label"]
    assert "| run | mAUC (synthetic) | mAP (synthetic) |" in result.stdout


def test_frameworks_rows_say_why_a_framework_did_not_run():
    assert "NumPy < 1.24" in _why_unavailable("mxnet")
    expected = None if cuda_available() else "not run: no GPU (CuPy) on this machine"
    assert _why_unavailable("minidl-cupy") == expected
    assert _why_unavailable("minidl") is None and _why_unavailable("jax").startswith("not run: unknown backend 'jax'")
    # keras: checked in its own process (tests/keras), TensorFlow cannot share this one (see conftest.py)


def test_full_scale_time_is_estimated_before_it_starts(monkeypatch):
    exp = load_experiment("width")
    assert runner_module._step_seconds(spec.load(spec.experiments_dir() / "models/fc.toml")) > 0
    monkeypatch.setattr(runner_module, "_step_seconds", lambda desc: 0.01)  # measured times vary with the load
    assert estimate_seconds(exp, "full") > 5 * estimate_seconds(exp, "quick") > 0
