"""Entry point of the ``minidl`` command: ``minidl GROUP COMMAND [options]``.

Command groups are discovered: every module of :mod:`minidl.cli` (other than this one) that
defines ``register(commands)`` adds its own sub-parser.  A handler returns the exit status.
Bad options, and any error while a command runs (a ``ValueError`` such as a
:class:`~minidl.spec.SpecError`, a missing file, a missing optional package), are reported in one
line on stderr with exit status 2, never a traceback (``MINIDL_DEBUG=1`` shows it); an unexpected
exception type is named, with the source line that raised it.  Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import minidl.cli


def command_modules() -> Iterator[ModuleType]:
    """The modules of :mod:`minidl.cli` that define ``register``, in name order."""
    for info in sorted(pkgutil.iter_modules(minidl.cli.__path__), key=lambda info: info.name):
        if info.name != "main":
            module = importlib.import_module(f"minidl.cli.{info.name}")
            if hasattr(module, "register"):
                yield module


class Parser(argparse.ArgumentParser):
    """argparse's parser, with its errors in one line (``minidl train: error: ...``) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="minidl", description="minidl: a readable deep learning engine.")
    commands = parser.add_subparsers(dest="group", required=True, metavar="GROUP")
    for module in command_modules():
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("minidl: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # one line, never a traceback (MINIDL_DEBUG=1 shows it)
        if os.environ.get("MINIDL_DEBUG"):
            raise
        print(f"minidl: error: {one_line(err)}", file=sys.stderr)
        return 2


def one_line(err: Exception) -> str:
    """``err`` as one line.  minidl's own errors (ValueError, OSError, ImportError) name the file
    and field at fault themselves; anything else also names its type and the source line that
    raised it, so an unexpected error can still be reported without a traceback."""
    message = " ".join(str(err).split()) or repr(err)
    if isinstance(err, (ValueError, OSError, ImportError)):
        return message
    frame = traceback.extract_tb(err.__traceback__)[-1]
    return (f"{type(err).__name__}: {message} (raised at {Path(frame.filename).name}:{frame.lineno}; "
            "MINIDL_DEBUG=1 shows the traceback)")


if __name__ == "__main__":
    sys.exit(main())
