"""Draw the computation graph behind a tensor: ``to_dot(y)`` (Graphviz DOT text), ``draw(y, "graph.svg")``.

The graph is what ``y.backward()`` will walk: one **op node** per ``grad_fn`` (``MulBackward``,
``LinearBackward``, ...; ellipses) and one **tensor node** per tensor that flows between them
(boxes: shape and dtype).  Leaves are marked: parameters (given with ``params=``: a model, or a
dict of names to tensors) are blue with their module path (``0.fc.weight``), other leaves that
require grad are green, and the tensor ``y`` itself is yellow.  After ``backward`` a tensor that
holds ``.grad`` shows its norm, ``|grad| = ...``.  Edges point the way the forward pass ran
(inputs -> op -> output); backward runs them in reverse.

``to_dot`` needs nothing; rendering an image (``.svg``, ``.png``, ``.pdf``) runs Graphviz's ``dot``
program: install the Graphviz system package (``apt-get install graphviz`` on Debian/Ubuntu,
``brew install graphviz`` on macOS).  The Python package named ``graphviz`` only wraps that program
and is not needed.  ``minidl viz SPEC --out graph.svg`` draws a model description's graph for one batch.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from minidl import backend
from minidl.autograd import Tensor
from minidl.nn import Module

STYLE = {"output": "fillcolor=lightyellow", "parameter": "fillcolor=lightblue", "leaf": "fillcolor=palegreen",
         "tensor": "fillcolor=white"}


def _param_names(params: Module | Mapping[str, Tensor] | None) -> dict[int, str]:
    if params is None:
        return {}
    items = params.named_parameters() if isinstance(params, Module) else params.items()
    return {id(t): name for name, t in items}


def _nodes(root: Tensor) -> Iterator[tuple[Any, list[Tensor]]]:
    """Every op node behind ``root`` (depth first from the output, each once) with its tensor inputs."""
    seen, stack = set(), [root.grad_fn] if root.grad_fn is not None else []
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        inputs = [t for t in (fn.inputs or ()) if t is not None]
        yield fn, inputs
        stack.extend(t.grad_fn for t in reversed(inputs) if t.grad_fn is not None)


def _tensor_label(t: Tensor, name: str | None) -> str:
    lines = ([name] if name else []) + [f"{tuple(t.shape)} {t.dtype.name}"]
    if t.grad is not None:
        grad = backend.to_numpy(t.grad.array).astype("float64")
        lines.append(f"|grad| = {math.sqrt(float((grad * grad).sum())):.3g}")
    return "\\n".join(lines)


def to_dot(tensor: Tensor, params: Module | Mapping[str, Tensor] | None = None) -> str:
    """The graph behind ``tensor`` as Graphviz DOT text (see the module docstring for what is drawn)."""
    names = _param_names(params)
    ids: dict[int, str] = {}
    lines = ["digraph minidl {", '  node [fontname="Helvetica", fontsize=10, style=filled];']

    def tensor_node(t: Tensor, kind: str) -> str:
        if id(t) not in ids:
            ids[id(t)] = f"t{len(ids)}"
            kind = "parameter" if id(t) in names else kind
            lines.append(f'  {ids[id(t)]} [shape=box, {STYLE[kind]}, label="{_tensor_label(t, names.get(id(t)))}"];')
        return ids[id(t)]

    def op_node(fn: Any) -> str:
        if id(fn) not in ids:
            ids[id(fn)] = f"f{len(ids)}"
            lines.append(f'  {ids[id(fn)]} [shape=ellipse, fillcolor=lightgrey, label="{fn.name}"];')
        return ids[id(fn)]

    out = tensor_node(tensor, "output")
    if tensor.grad_fn is not None:
        lines.append(f"  {op_node(tensor.grad_fn)} -> {out};")
    for fn, inputs in _nodes(tensor):
        for t in inputs:
            if t.grad_fn is None:
                source = tensor_node(t, "leaf" if t.requires_grad else "tensor")
            else:
                source = tensor_node(t, "tensor")
                lines.append(f"  {op_node(t.grad_fn)} -> {source};")
            lines.append(f"  {source} -> {op_node(fn)};")
    return "\n".join(dict.fromkeys(lines)) + "\n}\n"  # an op's output feeding two ops: its edge once


def draw(tensor: Tensor, path: str | Path, params: Module | Mapping[str, Tensor] | None = None) -> Path:
    """Write the graph behind ``tensor`` to ``path``: DOT text for ``.dot``/``.gv``, else ``dot -T<suffix>``."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    text = to_dot(tensor, params)
    tmp = path.with_name(path.name + ".tmp")
    if fmt in ("dot", "gv"):
        tmp.write_text(text)
    else:
        if not fmt:
            raise ValueError(f"draw: {path} has no suffix; use .svg, .png, .pdf or .dot")
        if shutil.which("dot") is None:
            raise RuntimeError(f"draw: rendering {path.name} needs Graphviz's `dot` program, which is not installed: "
                               "apt-get install graphviz (Debian/Ubuntu) or brew install graphviz (macOS); "
                               "or write .dot text instead")
        result = subprocess.run(["dot", f"-T{fmt}", "-o", str(tmp)], input=text, capture_output=True, text=True)
        if result.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise ValueError(f"draw: Graphviz could not write {path.name}: {result.stderr.strip()}")
    tmp.replace(path)
    return path
