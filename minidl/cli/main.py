"""Entry point of the ``minidl`` command: ``minidl GROUP COMMAND [options]``.

Command groups are discovered: every module of :mod:`minidl.cli` (other than this one) that
defines ``register(commands)`` adds its own sub-parser.  A handler returns the exit status.
Bad input (a ``ValueError`` such as :class:`~minidl.data.errors.DataFormatError`, a missing
file, a missing optional package) is reported in one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType

import minidl.cli


def command_modules() -> Iterator[ModuleType]:
    """The modules of :mod:`minidl.cli` that define ``register``, in name order."""
    for info in sorted(pkgutil.iter_modules(minidl.cli.__path__), key=lambda info: info.name):
        if info.name != "main":
            module = importlib.import_module(f"minidl.cli.{info.name}")
            if hasattr(module, "register"):
                yield module


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minidl", description="minidl: a readable deep learning engine.")
    commands = parser.add_subparsers(dest="group", required=True, metavar="GROUP")
    for module in command_modules():
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (ValueError, OSError, ImportError) as err:
        print(f"minidl: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
