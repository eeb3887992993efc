"""Check that the built-in stand-in shows the paper's findings with a plain 2-layer FC baseline.

    PYTHONPATH=. python tools/check_standin_baseline.py [--big 200000] [--hidden 1024] [--set noise=0.7 ...]

Trains ``1280 -> hidden -> ReLU -> 527`` (sigmoid outputs, binary cross-entropy, Adam) on the
synthetic bal_train split and, optionally, on bal_train plus a ``big`` split (as the paper's
"full" training set is balanced + unbalanced), and prints train and eval mAP/mAUC after each
epoch.  With the default generator settings (seed 0) it gave:

* bal_train: eval mAP 0.235 at its best (epoch 9), well below 1 (the paper's real-data range
  is 0.2-0.3), while train mAP climbs to 0.88 and then 1.0: overfitting;
* bal_train + ``--big 200000``: eval mAP 0.293 after 3 epochs: more data helps.

This is a one-off check script: it uses PyTorch (CPU) as an independent trainer, which minidl's
package code never imports.  The features are SYNTHETIC (see docs/data.md).
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
    return torch.from_numpy(dequantize(clips.x).reshape(len(clips), -1))


def scores(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([torch.sigmoid(model(x[i:i + 4096])) for i in range(0, len(x), 4096)]).numpy()


def train(name: str, train_set: Clips, eval_set: Clips, epochs: int, hidden: int, lr: float) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(1280, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 527))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    x, y = features(train_set), torch.from_numpy(train_set.y.astype(np.float32))
    x_eval = features(eval_set)
    probe = np.random.default_rng(0).choice(len(train_set), min(len(train_set), 20000), replace=False)
    for epoch in range(1, epochs + 1):
        start = time.time()
        for batch in torch.randperm(len(x)).split(128):
            optimizer.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
        train_eval = evaluate(train_set.y[probe], scores(model, x[probe]))
        result = evaluate(eval_set.y, scores(model, x_eval))
        print(f"{name} epoch {epoch:2d}  train mAP {train_eval.mAP:.3f}  eval {result.summary()}  "
              f"({time.time() - start:.0f} s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--big", type=int, default=0, help="also train on a big split of this many clips")
    parser.add_argument("--big-epochs", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--set", nargs="*", default=[], metavar="KNOB=VALUE", help="StandinConfig overrides")
    args = parser.parse_args()
    torch.set_num_threads(2)
    overrides = {key: type(getattr(StandinConfig(), key))(value) for key, value in (s.split("=") for s in args.set)}
    world = World.create(args.seed, dataclasses.replace(StandinConfig(), **overrides))
    print(f"SYNTHETIC features, generator {world.config}")
    bal, ev = generate_split("bal_train", args.seed, world), generate_split("eval", args.seed, world)
    train("bal_train", bal, ev, args.epochs, args.hidden, args.lr)
    if args.big:
        with tempfile.TemporaryDirectory() as tmp:
            path = generate_big(Path(tmp) / "big.h5", args.big, args.seed, world, progress=False)
            with H5Clips(path) as source:
                full = Clips.concatenate([bal, *source.chunks(65536)])
        train(f"bal_train+big{args.big}", full, ev, args.big_epochs, args.hidden, args.lr)


if __name__ == "__main__":
    main()
