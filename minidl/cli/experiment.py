"""``minidl experiment NAME|all|list``: the paper's tables and figures, computed by minidl."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from minidl.cli.train import add_data_options
from minidl.experiments import SCALES, experiment_names, load_experiment, run_experiment, write_report
from minidl.experiments.runner import estimate_seconds, write_results


def register(commands: Any) -> None:
    """Add the ``experiment`` command to the ``minidl`` parser."""
    cmd = commands.add_parser(
        "experiment", help="run one of the paper's experiments (or all, or list them)",
        description="Run an experiment of experiments/ and write its table (table.md), curves (curves.png), raw "
                    "numbers (results.json) and report.md to OUT/NAME. --quick (default) runs a sample of the data "
                    "for a few epochs; --full the paper's scale.")
    cmd.add_argument("name", metavar="NAME", help="an experiment, 'all', or 'list'")
    add_data_options(cmd)
    cmd.add_argument("--out", default="results", help="output folder (default results/)")
    scale = cmd.add_mutually_exclusive_group()
    scale.add_argument("--quick", dest="scale", action="store_const", const="quick", help="a sample, few epochs")
    scale.add_argument("--full", dest="scale", action="store_const", const="full", help="the paper's scale")
    scale.add_argument("--tiny", dest="scale", action="store_const", const="tiny", help=argparse.SUPPRESS)
    cmd.add_argument("--no-progress", action="store_true", help="no progress bars")
    cmd.set_defaults(run=run, scale="quick")


def run(args: argparse.Namespace) -> int:
    names = experiment_names()
    if args.name == "list":
        for name in names:
            print(f"{name:15s} {load_experiment(name).title}")
        return 0
    chosen = names if args.name == "all" else [args.name]
    experiments = [load_experiment(name) for name in chosen]  # unknown names fail before anything runs
    assert args.scale in SCALES
    if args.scale == "full":
        seconds = sum(estimate_seconds(exp, "full", args.data) for exp in experiments)
        print(f"--full runs the paper's scale (whole splits, the big-data runs on 2M clips, many epochs): expect "
              f"about {seconds / 3600:.1f} hours here (measured step times x steps); Ctrl-C stops a run "
              "with a checkpoint.", flush=True)
    summary = []
    for exp in experiments:
        out = Path(args.out) / exp.name
        out.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        results = run_experiment(exp, out, args.scale, args.data, args.device, not args.no_progress, args.seed)
        write_results(results, out)
        report = write_report(results, exp.paper, out, exp.curves)
        seconds = time.perf_counter() - start
        summary.append((exp.name, seconds, report))
        print(f"\n## {exp.title} ({seconds:.0f} s)\n")
        print((out / "table.md").read_text())
        print(f"report: {report}")
    if len(summary) > 1:
        print("\n| experiment | wall time (s) | report |\n|---|---|---|")
        for name, seconds, report in summary:
            print(f"| {name} | {seconds:.0f} | {report} |")
    return 0
