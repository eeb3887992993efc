"""``minidl spec show FILE...`` (a model description's summary) and ``minidl spec keys`` (the key reference)."""

from __future__ import annotations

import argparse
from typing import Any

from minidl.spec import load, reference


def register(commands: Any) -> None:
    """Add the ``spec`` group to the ``minidl`` parser."""
    group = commands.add_parser("spec", help="model descriptions: validate and summarise, list the keys",
                                description="Model descriptions (TOML or JSON): see docs/spec.md.")
    spec_commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    show = spec_commands.add_parser(
        "show", help="validate descriptions and print each one's summary (shapes and parameters per layer)",
        description="Validate each description and print a summary like Keras' model.summary(): index, layer, "
                    "output shape per sample, parameters, and the total.")
    show.add_argument("files", nargs="+", metavar="FILE")
    show.set_defaults(run=run_show)
    keys = spec_commands.add_parser("keys", help="print the table of every key with its default (markdown)")
    keys.set_defaults(run=lambda args: print(reference()) or 0)


def run_show(args: argparse.Namespace) -> int:
    for path in args.files:
        print(load(path).summary(), end="\n\n")
    return 0
