"""``minidl data convert SRC DST`` and ``minidl data stats [PATH ...]``."""

from __future__ import annotations

import argparse
from typing import Any

from minidl.cli.arguments import whole_number
from minidl.data.convert import convert
from minidl.data.sources import open_split
from minidl.data.stats import compute_stats, format_stats, segments_stats


def register(commands: Any) -> None:
    """Add the ``data`` group to the ``minidl`` parser."""
    group = commands.add_parser("data", help="AudioSet data: convert the release, print statistics")
    data_commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")

    convert = data_commands.add_parser(
        "convert", help="TFRecord release (a split folder or the release folder) to HDF5 or NPZ",
        description="Convert the official TFRecord features to the packed HDF5 layout (x, y, video_id_list). "
                    "SRC: a split folder of *.tfrecord files, or the folder holding bal_train/, eval/, "
                    "unbal_train/. DST: an .h5/.npz file, or a folder that receives <split>.h5.")
    convert.add_argument("src")
    convert.add_argument("dst")
    convert.add_argument("--chunk", type=whole_number(1), default=8192, help="clips per write (default 8192)")
    convert.set_defaults(run=run_convert)

    stats = data_commands.add_parser(
        "stats", help="clips, label cardinality, frequent classes, short clips",
        description="Statistics of splits. PATH: builtin (the built-in bal_train and eval), builtin:SPLIT, "
                    "builtin:big:N, an .h5/.npz file, a folder of .tfrecord files, or a segments CSV.")
    stats.add_argument("paths", nargs="*", default=["builtin:bal_train", "builtin:eval"], metavar="PATH")
    stats.add_argument("--top", type=whole_number(0), default=10, help="how many frequent classes to list")
    stats.add_argument("--seed", type=int, default=0, help="seed of the built-in stand-in")
    stats.set_defaults(run=run_stats)


def run_convert(args: argparse.Namespace) -> int:
    for done in convert(args.src, args.dst, chunk=args.chunk):
        print(f"{done.path}: {done.clips:,} clips ({done.padded:,} padded to 10 frames, "
              f"{done.truncated:,} truncated)")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    paths = ["builtin:bal_train", "builtin:eval"] if args.paths == ["builtin"] else args.paths
    for path in paths:
        stats = segments_stats(path) if path.endswith(".csv") else compute_stats(open_split(path, args.seed))
        print(format_stats(stats, top=args.top), end="\n\n")
    return 0
