"""Check that the built-in stand-in shows the paper's findings with the paper's fully connected model.

    PYTHONPATH=. OMP_NUM_THREADS=1 python tools/check_standin_baseline.py [--big 200000] [--set noise=0.7 ...]

Trains the paper's fc model, ``1280 -> 1024 -> ReLU -> 1024 -> ReLU -> 527`` (PyTorch default
init, sigmoid outputs, binary cross-entropy with logits, Adam lr 1e-3, shuffled batches of 256),
on the synthetic bal_train split for 20 epochs, on input ``(q - 128) / 128`` flattened to 1280
(no standardisation).  After each epoch it prints the train mAP (on a fixed subset of the
training clips) and the eval mAP / mAUC; at the end, the epoch of best eval mAP.  With ``--big N``
it then trains a fresh model on bal_train plus a ``big`` split of N clips (the paper's "full"
training set is balanced + unbalanced) for ``--big-epochs`` epochs and prints the gain in best
eval mAP.  ``--hidden``/``--layers``/``--epochs`` shrink the run while exploring; ``--set`` overrides
:class:`~minidl.data.standin.StandinConfig` knobs.

With the default generator settings (seed 0, generator version 4) it gave:

* bal_train: best eval mAP 0.276 with mAUC 0.942 (epoch 10), inside the calibration target
  (mAUC 0.935-0.955, mAP 0.18-0.30; the paper's fc model on real data: 0.942 / 0.220); train mAP
  1.000 from epoch 19 while eval mAP slips to 0.265: overfitting;
* bal_train + ``--big 200000 --big-epochs 3``: best eval mAP 0.319 (epoch 3): more data helps (+0.044).

This is a one-off check script: it uses PyTorch (CPU, one thread) as an independent trainer,
which minidl's package code never imports.  The features are SYNTHETIC (see docs/data.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from minidl.data.clips import Clips, dequantize
from minidl.data.hdf5 import H5Clips
from minidl.data.standin import StandinConfig, World, generate_big, generate_split
from minidl.metrics import evaluate


def features(clips: Clips) -> torch.Tensor:
    """(N, 1280) float32, (q - 128) / 128."""
    return torch.from_numpy(dequantize(clips.x, "centered").reshape(len(clips), -1))


def scores(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([torch.sigmoid(model(x[i:i + 4096])) for i in range(0, len(x), 4096)]).numpy()


def fc_model(hidden: int, layers: int) -> torch.nn.Sequential:
    """``layers`` hidden ReLU layers of ``hidden`` units, then 527 logits (PyTorch default init)."""
    sizes = [1280] + [hidden] * layers
    blocks: list[torch.nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        blocks += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    return torch.nn.Sequential(*blocks, torch.nn.Linear(sizes[-1], 527))


def train(name: str, train_set: Clips, eval_set: Clips, args: argparse.Namespace, epochs: int) -> tuple[int, float]:
    """Train and evaluate after each epoch; returns (best epoch, best eval mAP)."""
    torch.manual_seed(args.seed)
    model = fc_model(args.hidden, args.layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    x, y = features(train_set), torch.from_numpy(train_set.y.astype(np.float32))
    x_eval = features(eval_set)
    probe = np.sort(np.random.default_rng(0).choice(len(train_set), min(len(train_set), args.probe), replace=False))
    best = (0, -1.0, 0.0)
    for epoch in range(1, epochs + 1):
        start = time.time()
        model.train()
        for batch in torch.randperm(len(x)).split(args.batch):
            optimizer.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
        model.eval()
        train_eval = evaluate(train_set.y[probe], scores(model, x[probe]))
        result = evaluate(eval_set.y, scores(model, x_eval))
        if result.mAP > best[1]:
            best = (epoch, result.mAP, result.mAUC)
        print(f"{name} epoch {epoch:2d}  train mAP {train_eval.mAP:.3f}  eval mAP {result.mAP:.3f}  "
              f"eval mAUC {result.mAUC:.3f}  d' {result.d_prime:.2f}  ({time.time() - start:.0f} s)", flush=True)
    print(f"{name} best epoch {best[0]}: eval mAP {best[1]:.3f}  eval mAUC {best[2]:.3f}", flush=True)
    return best[0], best[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=20, help="bal_train epochs (0: skip the bal_train run)")
    parser.add_argument("--big", type=int, default=0, help="also train on bal_train + a big split of this many clips")
    parser.add_argument("--big-epochs", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=2, help="hidden layers")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--probe", type=int, default=10000, help="training clips on which train mAP is measured")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", nargs="*", default=[], metavar="KNOB=VALUE", help="StandinConfig overrides")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    overrides = {key: type(getattr(StandinConfig(), key))(value) for key, value in (s.split("=") for s in args.set)}
    start = time.time()
    world = World.create(args.seed, dataclasses.replace(StandinConfig(), **overrides))
    bal, ev = generate_split("bal_train", args.seed, world), generate_split("eval", args.seed, world)
    print(f"SYNTHETIC features, generator {world.config} ({time.time() - start:.1f} s to generate)", flush=True)
    best_bal = train("bal_train", bal, ev, args, args.epochs)[1] if args.epochs else None
    if args.big:
        with tempfile.TemporaryDirectory() as tmp:
            path = generate_big(Path(tmp) / "big.h5", args.big, args.seed, world, progress=False)
            with H5Clips(path) as source:
                full = Clips.concatenate([bal, *source.chunks(65536)])
        best_big = train(f"bal_train+big{args.big}", full, ev, args, args.big_epochs)[1]
        if best_bal is not None:
            print(f"more data: best eval mAP {best_bal:.3f} -> {best_big:.3f} ({best_big - best_bal:+.3f})")


if __name__ == "__main__":
    main()
