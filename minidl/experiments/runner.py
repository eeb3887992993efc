"""The paper's experiments: each is ``experiments/<name>.toml``, a set of runs of model descriptions.

An experiment file names a ``title``, what the ``paper`` found, the ``scales`` it runs at and its
``runs``; each run is a model description (``model``, relative to ``experiments/``) with values
changed (``set``, paths as in :meth:`Description.replace`), optionally its own training data
(``train``, per scale), backend, and the paper's figures for it (``paper``).  A run with
``ensemble = [labels]`` averages the best checkpoints of those runs instead of training.

Scales: ``tiny`` (a few hundred clips, 1 epoch: the tests), ``quick`` (the default: a sample of the
splits, a few epochs; the whole set in well under 30 minutes on 2 cores), ``full`` (the paper's
scale: whole splits, ``full.epochs`` epochs).  A scale sets ``epochs``, ``batch_size``, ``train_clips`` and
``eval_clips`` (absent: the whole split); ``average_last = k`` scores the average of the last k
epochs' checkpoints instead of the best epoch; a run that names its own ``train`` data for a scale is
not sampled down.
"""

from __future__ import annotations

import contextlib
import json
import re
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from minidl.autograd import Tensor
from minidl.backend import cuda_available
from minidl.spec import Description, backend_module, build, experiments_dir, load
from minidl.spec.schema import read_toml
from minidl.train import Options, evaluate_checkpoints, open_joined, resolve, sample, train

SCALES = ("tiny", "quick", "full")
SYNTHETIC = "synthetic features"


@dataclass(frozen=True)
class Run:
    label: str
    model: str = ""
    set: dict[str, Any] = field(default_factory=dict)
    train: dict[str, str] = field(default_factory=dict)   # scale -> train split spec
    backend: str = "minidl"
    ensemble: tuple[str, ...] = ()
    average_last: int = 0    # score the average of the last k epochs' checkpoints
    paper: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    paper: str
    scales: dict[str, dict[str, int]]
    runs: tuple[Run, ...]
    curves: bool = True

    def scale(self, name: str) -> dict[str, int]:
        if name not in SCALES:
            raise ValueError(f"unknown scale {name!r}; expected one of {', '.join(SCALES)}")
        return self.scales.get(name, {})


def experiment_names() -> list[str]:
    """The experiments shipped in ``experiments/`` (every ``*.toml`` beside ``models/``)."""
    return sorted(p.stem for p in experiments_dir().glob("*.toml"))


def load_experiment(name: str) -> Experiment:
    path = experiments_dir() / f"{name}.toml"
    if not path.exists():
        raise ValueError(f"unknown experiment {name!r}; expected one of {', '.join(experiment_names())} or all")
    data = read_toml(path.read_text())
    runs = tuple(Run(**{**r, "ensemble": tuple(r.get("ensemble", ()))}) for r in data.pop("runs"))
    return Experiment(name=name, runs=runs, **data)


def slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", label).strip("-").lower()


def _reset_peak_rss() -> None:
    """Start a new peak-memory measurement (Linux: writing 5 to clear_refs resets VmHWM; elsewhere a no-op)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mib() -> float:
    """The process's peak resident memory since :func:`_reset_peak_rss` (Linux), else since it started."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024
    except (OSError, AttributeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_experiment(exp: Experiment, out: Path, scale: str = "quick", data: str = "builtin", device: str = "cpu",
                   progress: bool = True, seed: int | None = None) -> dict[str, Any]:
    """Train every run of ``exp`` at ``scale`` and return the raw results (also written to ``results.json``)."""
    settings = exp.scale(scale)
    train_default, eval_spec = resolve(data)
    eval_split = sample(open_joined(eval_spec), settings.get("eval_clips"), 1)
    results: dict[str, Any] = {"experiment": exp.name, "title": exp.title, "scale": scale, "data": data,
                               "synthetic": bool(eval_split.synthetic), "runs": []}
    finished: dict[str, Path] = {}
    for run in exp.runs:
        _reset_peak_rss()
        start = time.perf_counter()
        entry: dict[str, Any] = {"label": run.label, "backend": run.backend, "paper": run.paper}
        if run.ensemble:
            checkpoints = [finished[label] / "best.ckpt" for label in run.ensemble]
            result = evaluate_checkpoints(checkpoints, eval_split, device)
            entry |= {"eval_mAUC": result.mAUC, "eval_mAP": result.mAP, "members": list(run.ensemble)}
        elif _why_unavailable(run.backend):
            entry["unavailable"] = _why_unavailable(run.backend)
        else:
            backend, run_device = ("minidl", "cuda") if run.backend == "minidl-cupy" else (run.backend, device)
            desc = _description(run, settings, seed)
            train_split = (open_joined(run.train[scale]) if scale in run.train  # a run's own data: never sampled
                           else sample(open_joined(train_default), settings.get("train_clips"), 0))
            folder = finished[run.label] = out / slug(run.label)
            history = train(desc, train_split, eval_split, Options(folder, backend=backend, device=run_device,
                                                                   progress=progress,
                                                                   keep_epochs=run.average_last)).history
            best = max(history, key=lambda row: row["eval_mAP"])
            entry |= {"history": history, "best_epoch": best["epoch"], "eval_mAUC": best["eval_mAUC"],
                      "eval_mAP": best["eval_mAP"], "train_mAP": history[-1]["train_mAP"],
                      "train_clips": len(train_split), "parameters": sum(desc.params)}
            if run.average_last:  # the average of the last epochs' models replaces the best single epoch
                averaged = evaluate_checkpoints(sorted(folder.glob("epoch-*.ckpt")), eval_split, run_device)
                entry |= {"single_mAP": best["eval_mAP"], "eval_mAUC": averaged.mAUC, "eval_mAP": averaged.mAP,
                          "best_epoch": f"last {min(run.average_last, len(history))} averaged"}
        entry |= {"seconds": time.perf_counter() - start, "peak_rss_mib": _peak_rss_mib()}
        results["runs"].append(entry)
    results["eval_clips"] = len(eval_split)
    return results


def _why_unavailable(backend: str) -> str | None:
    """None when the backend's framework imports; else the reason (shown in the table instead of numbers)."""
    if backend == "mxnet":
        return "not run: MXNet 1.9.1 (its last release) needs NumPy < 1.24; see docs/keras.md"
    if backend == "minidl-cupy":
        return None if cuda_available() else "not run: no GPU (CuPy) on this machine"
    try:
        backend_module(backend)
    except (ImportError, ValueError) as err:  # not installed / unknown
        return f"not run: {err}"
    return None


def _description(run: Run, settings: dict[str, int], seed: int | None = None) -> Description:
    """The run's description with its values and the scale's epochs and batch size (and a seed) set."""
    changes = {**run.set, **{f"training.{k}": settings[k] for k in ("epochs", "batch_size") if k in settings}}
    return load(experiments_dir() / run.model).replace(changes | ({"training.seed": seed} if seed is not None else {}))


def _split_size(spec: str) -> int:
    """Clips in a split spec, without generating a built-in ``big`` split just to count it."""
    return sum(int(part.split(":")[2]) if part.startswith("builtin:big:") else len(open_joined(part))
               for part in spec.split("+"))


def _step_seconds(desc: Description) -> float:
    """Seconds of one minidl training step of ``desc`` (the median of 3, after a warm-up step)."""
    model, loss_fn, optimizer = build(desc)
    batch = desc.training.batch_size
    x = Tensor(np.random.default_rng(0).uniform(-1, 1, (batch, *desc.input.shape)).astype(np.float32))
    y = Tensor((np.random.default_rng(1).random((batch, desc.output.units)) < 0.01).astype(np.float32))
    times = []
    for _ in range(4):
        start = time.perf_counter()
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def estimate_seconds(exp: Experiment, scale: str, data: str = "builtin") -> float:
    """A rough wall time of ``exp`` at ``scale``: measured step times x steps, plus the evaluations.

    Evaluation after each epoch is counted as a third of a training step per eval clip and 2 s of metrics.
    """
    settings = exp.scale(scale)
    train_default, eval_spec = resolve(data)
    n_eval = min(settings.get("eval_clips") or 10**9, _split_size(eval_spec))
    total = 0.0
    for run in exp.runs:
        if run.ensemble or _why_unavailable(run.backend):
            continue
        desc = _description(run, settings)
        epochs = desc.training.epochs
        n_train = _split_size(run.train[scale]) if scale in run.train else \
            min(settings.get("train_clips") or 10**9, _split_size(train_default))
        per_clip = _step_seconds(desc) / desc.training.batch_size
        total += epochs * (n_train * per_clip + (n_eval + min(n_train, 4096)) * per_clip / 3 + 2.0)
    return total


def write_results(results: dict[str, Any], out: Path) -> Path:
    path = out / "results.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    return path
