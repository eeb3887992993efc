"""``minidl parity SPEC``: minidl next to another framework on one description, layer by layer."""

from __future__ import annotations

import argparse
from typing import Any

from minidl.cli.arguments import whole_number
from minidl.spec import load, parity
from minidl.spec.backends import BACKENDS


def register(commands: Any) -> None:
    """Add the ``parity`` command to the ``minidl`` parser."""
    command = commands.add_parser(
        "parity", help="train a description in minidl and in PyTorch (or Keras) from the same weights; compare",
        description="Build SPEC in minidl and in another framework from the same initial weights, feed both the "
                    "same batches (and dropout masks) for N training steps, and print per layer the relative "
                    "difference of its output, its parameters' gradients and its parameters after N steps, then "
                    "the two loss curves. Exit status 1 past the tolerance (float64 1e-9, float32 1e-4).")
    command.add_argument("spec", metavar="SPEC", help="a description file (.toml or .json)")
    command.add_argument("--against", choices=[b for b in BACKENDS if b != "minidl"], default="torch")
    command.add_argument("--steps", type=whole_number(1), default=20, help="training steps (default 20)")
    command.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    command.add_argument("--batch", type=whole_number(1), default=16, help="clips per batch (default 16)")
    command.add_argument("--data", choices=["random", "builtin"], default="random",
                         help="random batches of the described shape (default) or the built-in clips")
    command.add_argument("--seed", type=int, default=0, help="seed of the batches and dropout masks")
    command.add_argument("--tolerance", type=float, default=None, help="override the dtype's tolerance")
    command.set_defaults(run=run_parity)


def run_parity(args: argparse.Namespace) -> int:
    report = parity(load(args.spec), against=args.against, steps=args.steps, dtype=args.dtype, batch=args.batch,
                    data=args.data, seed=args.seed, tolerance=args.tolerance)
    print(report.table())
    return 0 if report.passed else 1
