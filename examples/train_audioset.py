"""Train one of the paper's models on AudioSet embeddings and score it on the eval split.

    python examples/train_audioset.py                     # fc model, built-in stand-in data
    python examples/train_audioset.py --model conv --epochs 5

With no data of your own, minidl generates its built-in stand-in on first use (about half a
minute, then cached): the REAL label sets of the balanced-train and eval splits with SYNTHETIC
VGGish-like embeddings, so the scores below are not AudioSet results.  Everything here is minidl:
model, loss (sigmoid cross-entropy on logits), Adam, and the metrics (mean AP, mean AUC, d').
"""

from __future__ import annotations

import argparse

import numpy as np
from tqdm import tqdm

import minidl
from minidl import nn, optim
from minidl.data.loader import DataLoader
from minidl.data.standin import builtin
from minidl.metrics import evaluate
from minidl.models import MODELS

SYNTHETIC = "Features are SYNTHETIC (minidl's built-in stand-in with real AudioSet labels): not AudioSet results."


def batches(model_name: str, split: str, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    """(x, y) tensor batches in the layout the model expects: (N, 1280) or, for conv, (N, 128, 10)."""
    return DataLoader(builtin(split), batch_size=batch_size, shuffle=shuffle, seed=seed,
                      flatten=model_name != "conv", device="cpu")


def as_input(model_name: str, x: minidl.Tensor) -> minidl.Tensor:
    return x.transpose(1, 2) if model_name == "conv" else x


def scores(model: nn.Module, model_name: str, loader: DataLoader) -> tuple[np.ndarray, np.ndarray]:
    """Sigmoid outputs and targets over a whole split, in eval mode without a graph."""
    model.eval()
    outputs, targets = [], []
    with minidl.no_grad():
        for x, y in loader:
            outputs.append(model(as_input(model_name, x)).sigmoid().numpy())
            targets.append(y.numpy())
    model.train()
    return np.concatenate(outputs), np.concatenate(targets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="fc")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--weight-decay", type=float, default=0.0, help="L2 regularisation (Adam weight_decay)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    minidl.manual_seed(args.seed)
    model = MODELS[args.model](dropout=args.dropout)
    loss_fn = nn.BCEWithLogitsLoss()
    optimizer = optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    train = batches(args.model, "bal_train", args.batch_size, True, args.seed)
    evaluation = batches(args.model, "eval", 1024, False, args.seed)
    print(model)
    print(SYNTHETIC)
    for epoch in range(1, args.epochs + 1):
        progress = tqdm(train, desc=f"epoch {epoch}/{args.epochs}", unit="batch", leave=False)
        for x, y in progress:
            optimizer.zero_grad()
            loss = loss_fn(model(as_input(args.model, x)), y)
            loss.backward()
            optimizer.step()
            progress.set_postfix(loss=f"{loss.item():.4f}")
        result = evaluate(*reversed(scores(model, args.model, evaluation)), note=None)
        print(f"epoch {epoch}: train loss {loss.item():.4f}  eval {result.summary()}")
    print()
    print(evaluate(*reversed(scores(model, args.model, evaluation)), note=SYNTHETIC).report(top=10))


if __name__ == "__main__":
    main()
