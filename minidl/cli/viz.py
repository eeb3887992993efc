"""``minidl viz SPEC --out graph.svg``: the computation graph of a model description, for one batch."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from minidl import viz
from minidl.spec import build, load
from minidl.spec.backend_minidl import to_tensor


def register(commands: Any) -> None:
    """Add the ``viz`` command to the ``minidl`` parser."""
    command = commands.add_parser(
        "viz", help="draw the computation graph of a description (one batch, forward and backward)",
        description="Build SPEC in minidl, run one training batch of random clips through the model and its loss, "
                    "run backward, and draw the graph: op nodes, tensors with shapes and dtypes, parameters by "
                    "their module path with their gradient norms. The suffix of --out picks the format: .dot "
                    "(Graphviz text, needs nothing) or .svg/.png/.pdf (needs Graphviz's `dot` program: "
                    "apt-get install graphviz).")
    command.add_argument("spec", metavar="SPEC", help="a description file (.toml or .json)")
    command.add_argument("--out", required=True, help="the file to write: graph.svg, graph.png, graph.dot, ...")
    command.add_argument("--batch", type=int, default=2, help="clips in the batch (default 2)")
    command.set_defaults(run=run_viz)


def run_viz(args: argparse.Namespace) -> int:
    if args.batch < 1:
        raise ValueError(f"--batch must be at least 1, got {args.batch}")
    desc = load(args.spec)
    model, loss_fn, _ = build(desc)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (args.batch, *desc.input.shape)).astype(np.float32)
    y = (rng.random((args.batch, desc.output.units)) < 0.1).astype(np.float32)
    loss = loss_fn(model(to_tensor(x)), to_tensor(y))
    loss.backward(retain_graph=True)  # keep the graph to draw it, with the gradients it produced
    print(f"wrote {viz.draw(loss, args.out, params=model)}")
    return 0
