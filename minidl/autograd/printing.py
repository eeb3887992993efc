"""How a tensor prints: PyTorch's ``repr`` text (``torch/_tensor_str.py``), with ``minidl`` for ``torch``.

Kept apart from ``tensor.py`` so that the class a student reads first is about the graph.
Only ``Tensor.__repr__`` calls :func:`format_tensor`; it needs a tensor's ``data``, ``device``,
``grad_fn`` and ``requires_grad`` and nothing else.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from minidl import backend

# PyTorch's default print options (torch.set_printoptions)
_LINEWIDTH, _PRECISION, _THRESHOLD, _EDGEITEMS = 80, 4, 1000, 3


def format_tensor(t: Any) -> str:
    """PyTorch's repr text (``torch/_tensor_str.py``), with ``minidl`` for ``torch`` in dtypes:
    ``tensor([1.0000, 2.5000], dtype=minidl.float64, requires_grad=True)``."""
    values = backend.to_numpy(t.array)
    suffixes = [f"device='{t.device}:0'"] if t.device != "cpu" else []
    if values.size == 0:
        text = "[]"
        suffixes += [f"size={values.shape}"] if values.ndim != 1 else []
        suffixes += [f"dtype=minidl.{values.dtype}"] if values.dtype != backend.float32 else []
    else:
        summarize = values.size > _THRESHOLD
        formatter = _Formatter(_summarized(values) if summarize else values)
        text = _nested_text(values, len("tensor("), summarize, formatter)
        if values.dtype not in (backend.float32, backend.int64, backend.bool_):
            suffixes.append(f"dtype=minidl.{values.dtype}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _with_suffixes("tensor(" + text, suffixes, len("tensor("))


class _Formatter:
    """Formats each element to one common width, choosing fixed, integer or scientific notation
    from the nonzero finite values as PyTorch does (scientific when max/min > 1000, max > 1e8
    or min < 1e-4; integer mode ``3.`` when all are whole numbers)."""

    def __init__(self, values: numpy.ndarray) -> None:
        self.floating = backend.is_floating(values.dtype)
        self.int_mode, self.sci_mode = True, False
        if not self.floating:
            self.width = max(len(str(v)) for v in values.ravel().tolist())
            return
        finite = values[numpy.isfinite(values) & (values != 0)]
        self.width = 1
        if finite.size == 0:
            return
        magnitude = numpy.abs(finite.astype(numpy.float64))
        big, small = magnitude.max(), magnitude.min()
        self.int_mode = bool(numpy.all(finite == numpy.ceil(finite)))
        self.sci_mode = bool(big / small > 1000.0 or big > 1.0e8 or small < 1.0e-4)
        self.width = max(len(self.text(v)) for v in finite.tolist())

    def text(self, value: Any) -> str:
        """One element without padding."""
        if not self.floating:
            return str(value)
        if self.sci_mode:
            return f"{value:.{_PRECISION}e}"
        if self.int_mode:
            return f"{value:.0f}" + ("" if math.isinf(value) or math.isnan(value) else ".")
        return f"{value:.{_PRECISION}f}"

    def __call__(self, value: Any) -> str:
        return self.text(value).rjust(self.width)


def _summarized(values: numpy.ndarray) -> numpy.ndarray:
    """Only the elements a summarized print shows (the first and last ``_EDGEITEMS`` per dim)."""
    if values.ndim == 0:
        return values
    if values.shape[0] > 2 * _EDGEITEMS:
        values = numpy.concatenate([values[:_EDGEITEMS], values[-_EDGEITEMS:]])
    return values if values.ndim == 1 else numpy.stack([_summarized(v) for v in values])


def _nested_text(values: numpy.ndarray, indent: int, summarize: bool, formatter: _Formatter) -> str:
    """``[[...], [...]]`` with PyTorch's line breaks: one per row, a blank line per extra dim."""
    if values.ndim == 0:
        return formatter(values.item())
    n = values.shape[0]
    rows: list[int | None] = list(range(n))
    if summarize and n > 2 * _EDGEITEMS:
        rows = [*range(_EDGEITEMS), None, *range(n - _EDGEITEMS, n)]
    if values.ndim == 1:
        items = [" ..." if i is None else formatter(values[i].item()) for i in rows]
        per_line = max(1, (_LINEWIDTH - indent) // (formatter.width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    parts = ["..." if i is None else _nested_text(values[i], indent + 1, summarize, formatter) for i in rows]
    return "[" + ("," + "\n" * (values.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _with_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    """Append ``, dtype=...`` and the like, wrapping to a new line past the line width."""
    last_line = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line + len(suffix) + 2 > _LINEWIDTH:
            text += ",\n" + " " * indent + suffix
            last_line = indent + len(suffix)
        else:
            text += ", " + suffix
            last_line += len(suffix) + 2
    return text + ")"
