"""Training a model description on a dataset: ``minidl.train.train(desc, train_data, eval_data, options)``.

One run, in order, for each epoch ``e`` of ``desc.training.epochs``:

1. the training split in the order of (seed, e) (shuffled, or class-balanced draws), one optimizer step
   per batch of ``desc.training.batch_size`` clips; a tqdm bar shows the loss and clips/s;
2. evaluation without a graph, in eval mode: the eval split (loss, mean AUC, mean AP, d') and a fixed
   sample of training clips (the train curves, scored the same way, so both curves compare);
3. a row in ``history.csv`` / ``history.json``, the ``last.ckpt`` checkpoint, and ``best.ckpt`` when
   the eval mean AP is the best so far (``epoch-NNN.ckpt`` too with ``keep_epochs``).

Everything random comes from ``desc.training.seed``: the initial weights, the data order, dropout.
So the same description and data give the same numbers, and a checkpoint holds all a run needs to go
on (weights, optimizer state, the generator's state, the epoch and the step inside it, the history):
``resume=True`` continues from ``last.ckpt`` and ends bit-identical to a run that was never stopped.
Ctrl-C (SIGINT) lets the current step finish, writes ``last.ckpt``, prints the command that resumes,
and raises :class:`Interrupted` (the ``minidl`` command exits with status 130).  Checkpoints are
:func:`minidl.save` files (no pickle, atomic writes).
"""

from __future__ import annotations

import csv
import io
import json
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from tqdm import tqdm

from minidl.autograd import Tensor
from minidl.data.clips import ClipSource
from minidl.data.loader import BalancedSampler, DataLoader, source_labels
from minidl.metrics import evaluate
from minidl.serialization import load, save
from minidl.spec import backend_module, schema
from minidl.spec.backend_minidl import map_arrays
from minidl.train.data import sample

FORMAT = "minidl-checkpoint"
HISTORY_FIELDS = ("epoch", "steps", "train_loss", "train_mAP", "train_mAUC", "eval_loss", "eval_mAP", "eval_mAUC",
                  "eval_dprime", "seconds", "clips_per_second")


class Interrupted(Exception):
    """Training stopped by SIGINT after a checkpoint was written; ``resume`` is the command that goes on."""

    def __init__(self, checkpoint: Path, resume: str) -> None:
        super().__init__(f"interrupted: wrote {checkpoint}; resume with: {resume}")
        self.checkpoint, self.resume = checkpoint, resume


@dataclass
class Options:
    """How a run is carried out (the description says what is trained)."""

    out: Path
    backend: str = "minidl"
    device: str = "cpu"
    progress: bool = True
    train_probe: int = 4096       # training clips scored after each epoch for the train curves
    keep_epochs: int = 0          # also keep the checkpoints of the last k epochs (for averaging)
    eval_batch: int = 1024
    resume_command: str = ""      # printed on Ctrl-C; default: "minidl train OUT/description.json --resume ..."
    initial_weights: dict[str, np.ndarray] | None = None  # start from these (minidl names) instead of the init


@dataclass
class Result:
    """A finished run: its history (one dict per epoch) and where it wrote its files."""

    description: schema.Description
    history: list[dict[str, float]]
    out: Path
    stopped: bool = False

    @property
    def best(self) -> dict[str, float]:
        """The history row of the epoch with the best eval mean AP."""
        return max(self.history, key=lambda row: row["eval_mAP"])

    @property
    def last(self) -> dict[str, float]:
        return self.history[-1]


# ---------------------------------------------------------------------------------- scoring
def logits(fw: ModuleType, model: Any, source: ClipSource, scale: str, device: str,
           batch: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """(logits, targets) of every clip of ``source``, in eval mode, without a graph."""
    outputs, targets = [], []
    for x, y in DataLoader(source, batch_size=batch, dequantization=scale):
        outputs.append(fw.predict(model, x, device))
        targets.append(y)
    return np.concatenate(outputs), np.concatenate(targets)


def data_loss(loss_type: str, z: np.ndarray, y: np.ndarray) -> float:
    """The description's loss (without L2) on logits ``z``, in float64: stable log-sum-exp form for BCE."""
    z, y = z.astype(np.float64), y.astype(np.float64)
    if loss_type == "mse":
        return float(np.mean((1 / (1 + np.exp(-z)) - y) ** 2))
    return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)) without overflow warnings."""
    return np.exp(-np.logaddexp(0, -z.astype(np.float64)))


def _scores(prefix: str, loss_type: str, z: np.ndarray, y: np.ndarray) -> dict[str, float]:
    result = evaluate(y, sigmoid(z))
    row = {f"{prefix}_mAP": result.mAP, f"{prefix}_mAUC": result.mAUC}
    if prefix == "eval":
        row |= {"eval_loss": data_loss(loss_type, z, y), "eval_dprime": result.d_prime}
    return row


# ---------------------------------------------------------------------------------- checkpoints
def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write a checkpoint: NumPy arrays become tensors, everything else stays JSON (no pickle)."""
    save(map_arrays({"format": FORMAT, **state}, lambda a: Tensor(np.asarray(a, order="C")), np.ndarray), path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint's contents, tensors as NumPy arrays; its description validated again."""
    state = map_arrays(load(path), lambda t: t.numpy(), Tensor)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path}: not a minidl training checkpoint")
    state["description"] = schema.load(state["description"])
    return state


@contextmanager
def _sigint_flag() -> Iterator[dict[str, bool]]:
    """A flag set by the first Ctrl-C (a second one interrupts at once); nothing is installed off the main thread."""
    flag = {"stop": False}

    def handler(signum: int, frame: Any) -> None:
        flag["stop"] = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread
        yield flag
        return
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


# ---------------------------------------------------------------------------------- the run
@dataclass
class _Progress:
    """Where a run is: completed epochs, steps into the current one, its running loss, the history."""

    epoch: int = 0
    step: int = 0
    loss_sum: float = 0.0
    seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


def _loader(desc: schema.Description, source: ClipSource) -> DataLoader:
    training = desc.training
    sampler = BalancedSampler(source_labels(source), len(source), training.seed) \
        if training.sampler == "balanced" else None
    return DataLoader(source, batch_size=training.batch_size, shuffle=True, seed=training.seed, sampler=sampler,
                      dequantization=desc.input.scale)


def train(desc: schema.Description, train_data: ClipSource, eval_data: ClipSource, options: Options,
          resume: bool = False) -> Result:
    """Train ``desc`` on ``train_data``, evaluating on ``eval_data`` after every epoch (see the module docstring)."""
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    fw = backend_module(options.backend)
    built = fw.build(desc, device=options.device)
    model, optimizer = built.model, built.optimizer
    progress = _Progress()
    if options.initial_weights is not None:
        fw.set_weights(model, options.initial_weights)
    if resume:
        if not (out / "last.ckpt").exists():
            raise FileNotFoundError(f"--resume: {out / 'last.ckpt'} does not exist: nothing to resume")
        state = load_checkpoint(out / "last.ckpt")
        if state["description"] != desc:
            raise ValueError(f"--resume: {out / 'last.ckpt'} was written for another description "
                             f"({state['description'].name!r}); use a new --out folder")
        fw.set_weights(model, state["weights"])
        fw.load_optimizer_state(optimizer, state["optimizer"], options.device)
        fw.load_random_state(model, state["rng"])
        progress = _Progress(state["epoch"], state["step"], state["loss_sum"], state["seconds"], state["history"])
    _write_json(out / "description.json", desc.to_dict())
    loader, probe = _loader(desc, train_data), sample(train_data, options.train_probe, desc.training.seed)
    resume_command = options.resume_command or f"minidl train {out / 'description.json'} --out {out} --resume"

    def checkpoint(path: Path) -> None:
        save_checkpoint(path, {"description": desc.to_dict(), "backend": options.backend,
                               "epoch": progress.epoch, "step": progress.step, "loss_sum": progress.loss_sum,
                               "seconds": progress.seconds, "history": progress.history,
                               "weights": fw.get_weights(model), "optimizer": fw.optimizer_state(optimizer),
                               "rng": fw.random_state(model)})

    with _sigint_flag() as flag:
        while progress.epoch < desc.training.epochs:
            loader.set_epoch(progress.epoch)
            batches = iter(loader)
            for _ in range(progress.step):  # resuming inside an epoch: the same order, without the steps done
                next(batches)
            bar = tqdm(batches, total=len(loader), initial=progress.step, unit="batch", leave=False,
                       desc=f"{desc.name} epoch {progress.epoch + 1}/{desc.training.epochs}",
                       disable=not options.progress)
            start = time.perf_counter()
            for x, y in bar:
                loss = fw.train_step(built, x, y, options.device)
                progress.step += 1
                progress.loss_sum += loss
                elapsed = progress.seconds + time.perf_counter() - start
                bar.set_postfix(loss=f"{loss:.4f}", clips_per_s=f"{progress.step * len(x) / elapsed:,.0f}")
                if flag["stop"]:
                    progress.seconds = elapsed
                    checkpoint(out / "last.ckpt")
                    bar.close()
                    raise Interrupted(out / "last.ckpt", resume_command)
            progress.seconds += time.perf_counter() - start
            row = {"epoch": progress.epoch + 1, "steps": progress.step,
                   "train_loss": progress.loss_sum / max(progress.step, 1)}
            row |= _scores("train", desc.loss.type, *logits(fw, model, probe, desc.input.scale, options.device))
            row |= _scores("eval", desc.loss.type, *logits(fw, model, eval_data, desc.input.scale, options.device))
            row |= {"seconds": progress.seconds, "clips_per_second": len(train_data) / max(progress.seconds, 1e-9)}
            progress.history.append(row)
            progress.epoch, progress.step, progress.loss_sum, progress.seconds = progress.epoch + 1, 0, 0.0, 0.0
            _finish_epoch(out, progress, checkpoint, options.keep_epochs)
    return Result(desc, progress.history, out)


def _finish_epoch(out: Path, progress: _Progress, checkpoint: Any, keep_epochs: int) -> None:
    """History files and checkpoints after an epoch."""
    history = progress.history
    _write_json(out / "history.json", history)
    _write_text(out / "history.csv", _csv(history))
    checkpoint(out / "last.ckpt")
    if history[-1]["eval_mAP"] >= max(row["eval_mAP"] for row in history):
        checkpoint(out / "best.ckpt")
    if keep_epochs:
        checkpoint(out / f"epoch-{progress.epoch:03d}.ckpt")
        stale = out / f"epoch-{progress.epoch - keep_epochs:03d}.ckpt"
        stale.unlink(missing_ok=True)


def _csv(rows: list[dict[str, float]]) -> str:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=HISTORY_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def _write_text(path: Path, text: str) -> None:
    """Write atomically: a temporary file renamed over ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _write_json(path: Path, data: Any) -> None:
    _write_text(path, json.dumps(data, indent=1) + "\n")
