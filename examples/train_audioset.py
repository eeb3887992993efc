"""Train one of the paper's models with ``minidl.train`` and score it on the eval split.

    python examples/train_audioset.py                     # fc model, built-in stand-in data
    python examples/train_audioset.py --model conv --epochs 5

The same run as ``minidl train experiments/models/fc.toml``, written out in a few lines of Python.
With no data of your own, minidl generates its built-in stand-in on first use: the REAL label sets
of the balanced-train and eval splits with SYNTHETIC embeddings, so the scores are not AudioSet results.
"""

from __future__ import annotations

import argparse

from minidl import spec, train
from minidl.data.clips import SYNTHETIC_NOTE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=spec.PAPER_MODELS, default="fc")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="runs/example")
    args = parser.parse_args()

    desc = spec.paper_model(args.model).replace({"training.epochs": args.epochs})
    print(desc.summary())
    train_split, eval_split = train.open_data("builtin")
    result = train.train(desc, train_split, eval_split, train.Options(out=args.out, device=args.device))
    for row in result.history:
        print(f"epoch {row['epoch']}: train loss {row['train_loss']:.4f}  eval mAP {row['eval_mAP']:.3f}  "
              f"mAUC {row['eval_mAUC']:.3f}  d' {row['eval_dprime']:.2f}")
    print(f"best epoch {result.best['epoch']}: eval mAP {result.best['eval_mAP']:.3f}, checkpoint {args.out}/best.ckpt")
    print(SYNTHETIC_NOTE)


if __name__ == "__main__":
    main()
