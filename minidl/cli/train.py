"""``minidl train``, ``minidl eval`` and ``minidl predict``: a description on data, checkpoints, ensembles."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

from minidl.cli.arguments import whole_number
from minidl.data.clips import SYNTHETIC_NOTE
from minidl.spec import BACKENDS, load
from minidl.train import Options, evaluate_checkpoints, open_data, open_joined, predict, train
from minidl.train.trainer import Interrupted

positive_int = whole_number(1)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that reads clips shares."""
    parser.add_argument("--data", default="builtin", metavar="SOURCE",
                        help="builtin (the stand-in, default) or a folder with bal_train and eval (.h5 or TFRecords)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="cpu (NumPy) or cuda (CuPy)")
    parser.add_argument("--seed", type=int, default=None, help="override the description's training.seed")


def register(commands: Any) -> None:
    """Add ``train``, ``eval`` and ``predict`` to the ``minidl`` parser."""
    cmd = commands.add_parser("train", help="train a model description; checkpoints, history, resume",
                              description="Train SPEC on the training split, evaluating on the eval split after "
                                          "every epoch. Writes OUT/history.csv, history.json, last.ckpt, best.ckpt. "
                                          "Ctrl-C writes a checkpoint and prints the command that resumes.")
    cmd.add_argument("spec", metavar="SPEC", help="a model description (.toml or .json)")
    add_data_options(cmd)
    cmd.add_argument("--train", metavar="SPLIT", help="the training split(s), joined with + (overrides --data)")
    cmd.add_argument("--eval", metavar="SPLIT", help="the eval split (overrides --data)")
    cmd.add_argument("--out", default=None, help="output folder (default runs/<name>)")
    cmd.add_argument("--backend", choices=list(BACKENDS), default="minidl")
    cmd.add_argument("--epochs", type=positive_int, help="override training.epochs")
    cmd.add_argument("--batch-size", type=positive_int, help="override training.batch_size")
    cmd.add_argument("--lr", type=positive_float, help="override optimizer.lr")
    cmd.add_argument("--keep-epochs", type=int, default=0, metavar="K", help="also keep the last K epochs' checkpoints")
    cmd.add_argument("--resume", action="store_true", help="continue from OUT/last.ckpt")
    cmd.add_argument("--no-progress", action="store_true", help="no progress bar")
    cmd.set_defaults(run=run_train)

    ev = commands.add_parser("eval", help="score checkpoints on the eval split (several: their ensemble)",
                             description="Mean AP, mean AUC and d' of CHECKPOINT on the eval split; with several "
                                         "checkpoints, of the average of their scores (the paper's ensemble).")
    ev.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT")
    add_data_options(ev)
    ev.add_argument("--eval", metavar="SPLIT", help="the split to score (overrides --data)")
    ev.add_argument("--top", type=positive_int, default=10, help="classes listed in the report")
    ev.set_defaults(run=run_eval)

    pr = commands.add_parser("predict", help="scores per clip and class, to CSV or NPY",
                             description="Write the sigmoid scores of CHECKPOINT's model (several: their average) "
                                         "for every clip of --split, as CSV (video_id, then one column per class) "
                                         "or NPY (N x classes float32), by the suffix of --out.")
    pr.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT")
    pr.add_argument("--split", required=True, metavar="SPLIT", help="builtin:eval, an .h5 file, a TFRecord folder")
    pr.add_argument("--out", required=True, help="FILE.csv or FILE.npy")
    pr.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    pr.set_defaults(run=run_predict)


def run_train(args: argparse.Namespace) -> int:
    desc = load(args.spec)
    changes = {"training.epochs": args.epochs, "training.batch_size": args.batch_size, "optimizer.lr": args.lr,
               "training.seed": args.seed}
    desc = desc.replace({k: v for k, v in changes.items() if v is not None})
    out = Path(args.out or Path("runs") / desc.name)
    if not args.resume and (out / "last.ckpt").exists():
        raise ValueError(f"{out} already holds a run (last.ckpt): add --resume to continue it, or choose another --out")
    train_split, eval_split = open_data(args.data, args.train, args.eval)
    same = [f"--{name}={value}" for name, value in (("data", args.data), ("train", args.train), ("eval", args.eval),
                                                      ("backend", args.backend), ("device", args.device))
            if value is not None and value != {"data": "builtin", "backend": "minidl", "device": "cpu"}.get(name)]
    resume = shlex.join(["minidl", "train", str(out / "description.json"), f"--out={out}", *same, "--resume"])
    options = Options(out, backend=args.backend, device=args.device, progress=not args.no_progress,
                      keep_epochs=args.keep_epochs, resume_command=resume)
    print(desc.summary())
    if train_split.synthetic:
        print(SYNTHETIC_NOTE)
    try:
        result = train(desc, train_split, eval_split, options, resume=args.resume)
    except Interrupted as stop:
        print(f"\n{stop}", file=sys.stderr)
        return 130
    for row in result.history:
        print(f"epoch {row['epoch']:3d}  train loss {row['train_loss']:.4f}  train mAP {row['train_mAP']:.3f}  "
              f"eval mAP {row['eval_mAP']:.3f}  mAUC {row['eval_mAUC']:.3f}  d' {row['eval_dprime']:.2f}  "
              f"{row['clips_per_second']:,.0f} clips/s")
    best = result.best
    print(f"best epoch {best['epoch']}: eval mAP {best['eval_mAP']:.4f}, mAUC {best['eval_mAUC']:.4f}; "
          f"checkpoints in {out}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    eval_split = open_data(args.data, None, args.eval)[1]
    note = SYNTHETIC_NOTE if eval_split.synthetic else None
    result = evaluate_checkpoints(args.checkpoints, eval_split, args.device, note=note)
    print(("ensemble of " + ", ".join(args.checkpoints)) if len(args.checkpoints) > 1 else args.checkpoints[0])
    print(result.report(top=args.top))
    return 0


def run_predict(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix not in (".csv", ".npy"):
        raise ValueError(f"--out {out}: the file must end in .csv or .npy")
    split = open_joined(args.split)
    scores = sum(predict(c, split, args.device) for c in args.checkpoints) / len(args.checkpoints)
    tmp = out.with_name(out.name + ".tmp")
    if out.suffix == ".npy":
        with open(tmp, "wb") as f:
            np.save(f, scores.astype(np.float32))
    else:
        ids = np.concatenate([clips.video_ids for clips in split.chunks(65536)])
        with open(tmp, "w") as f:
            f.write("video_id," + ",".join(f"class_{c}" for c in range(scores.shape[1])) + "\n")
            for video_id, row in zip(ids, scores, strict=True):
                f.write(f"{video_id}," + ",".join(f"{v:.6g}" for v in row) + "\n")
    tmp.replace(out)
    print(f"{out}: scores of {len(scores):,} clips x {scores.shape[1]} classes")
    return 0
