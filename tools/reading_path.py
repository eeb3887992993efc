"""The guided tour's reading path: from ``loss.backward()`` to a parameter's ``.grad``, with line counts.

    python tools/reading_path.py              # the path step by step, and its length (files, lines)
    python tools/reading_path.py --markdown   # the table of docs/tour/01-reading-order.md

Each step names a definition (a function, a class, a method, or a module's docstring) in a file of
the package; its length is the lines that definition spans in the source as it is now (decorators
included), found with ``ast``, so no number goes stale: ``tests/test_tour.py`` checks that the
tour's table is this script's output.  The path is that of the README's example (an MLP with
``nn.BCEWithLogitsLoss``), in the order the calls happen.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent


class Step(NamedTuple):
    file: str  # relative to the repository root
    name: str  # dotted: "Tensor.backward"; "" for the module's docstring
    why: str


PATH = [
    Step("minidl/autograd/tensor.py", "Tensor.__init__", "what a tensor holds: data, requires_grad, grad_fn, grad"),
    Step("minidl/autograd/tensor.py", "Tensor.backward", "the call `loss.backward()`"),
    Step("minidl/autograd/tensor.py", "Tensor._upstream", "the first gradient: 1 for a scalar loss"),
    Step("minidl/autograd/function.py", "Function.apply", "where `grad_fn` came from: each op recorded a node"),
    Step("minidl/autograd/engine.py", "", "the algorithm in three steps"),
    Step("minidl/autograd/engine.py", "backward", "the root's gradient goes in"),
    Step("minidl/autograd/engine.py", "_run", "the loop over the nodes"),
    Step("minidl/autograd/engine.py", "topological_order", "the order: every node after all its consumers"),
    Step("minidl/autograd/engine.py", "_propagate", "one node: its backward, then its gradients routed"),
    Step("minidl/autograd/function.py", "Function.check_saved_versions", "the in-place check before a backward"),
    Step("minidl/ops/loss.py", "_Loss", "the mean's 1/N"),
    Step("minidl/ops/loss.py", "BinaryCrossEntropyWithLogits", "the first node: dL/dx = sigmoid(x) - t"),
    Step("minidl/ops/linear.py", "Linear", "a layer's node: dL/dW = gy^T x"),
    Step("minidl/ops/activation.py", "ReLU", "the mask"),
    Step("minidl/autograd/engine.py", "reduce_to_shape", "a gradient summed back to its input's shape"),
    Step("minidl/autograd/engine.py", "_owned", "whether a leaf may keep the array without a copy"),
    Step("minidl/autograd/engine.py", "Gradients.to_leaf", "a leaf's gradient: its hooks, then its `.grad`"),
    Step("minidl/autograd/tensor.py", "Tensor._accumulate_grad", "into `.grad`, in place after the first time"),
    Step("minidl/nn/parameter.py", "Parameter", "why a weight is a leaf that requires grad"),
]


def span(file: str, name: str) -> tuple[int, int]:
    """(first line, last line) of definition ``name`` in ``file`` (the module docstring for ``""``)."""
    tree = ast.parse((ROOT / file).read_text())
    if not name:
        docstring = tree.body[0]
        return docstring.lineno, docstring.end_lineno
    node: ast.AST = tree
    for part in name.split("."):
        node = next((n for n in node.body if isinstance(n, (ast.ClassDef, ast.FunctionDef)) and n.name == part), None)
        if node is None:
            raise LookupError(f"{file}: no definition {name!r}; update PATH in tools/reading_path.py")
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return first, node.end_lineno


def lines(step: Step) -> int:
    first, last = span(step.file, step.name)
    return last - first + 1


def total() -> tuple[int, int]:
    """(files, lines) of the whole path."""
    return len({step.file for step in PATH}), sum(lines(step) for step in PATH)


def text() -> str:
    rows = [f"{i:>2}  {step.file:<30} {step.name or '(module docstring)':<32} {lines(step):>4}  {step.why}"
            for i, step in enumerate(PATH, 1)]
    files, count = total()
    return "\n".join([f"{'#':>2}  {'file':<30} {'definition':<32} {'lines':>4}  why", *rows,
                      f"{len(PATH)} steps in {files} files, {count} lines."])


def markdown() -> str:
    """The table of docs/tour/01-reading-order.md: links relative to docs/tour/."""
    rows = [f"| {i} | [{f'`{step.name}`' if step.name else 'module docstring'}](../../{step.file}) | "
            f"`{Path(step.file).name}` | {lines(step)} | {step.why} |" for i, step in enumerate(PATH, 1)]
    files, count = total()
    return "\n".join(["| step | read | in | lines | why |", "|---|---|---|---|---|", *rows, "",
                      f"**{len(PATH)} steps in {files} files, {count} lines.**"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print the table of docs/tour/01-reading-order.md")
    print(markdown() if parser.parse_args().markdown else text())


if __name__ == "__main__":
    main()
