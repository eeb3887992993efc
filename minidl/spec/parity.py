"""The parity check: one description, two frameworks, the same weights, batches and dropout masks.

:func:`parity` builds the description in minidl and in another backend (PyTorch by default),
copies minidl's initial weights into the other, feeds both the same batches for ``steps``
training steps (dropout layers draw the same masks: :mod:`minidl.spec.masks`), and compares,
layer by layer, with the relative difference ``max|a - b| / max|b|``:

* the layer's output (a forward hook on each description layer), worst over the steps;
* the gradients of the layer's parameters, worst over the steps;
* the layer's parameters (and buffers) after the last step;
* the two loss curves.

In float32 a step can put a ReLU input within rounding of 0 (a kink): one run keeps the unit, the
other drops it, and from there the two follow different, equally correct trajectories (a gradient
jumps by a whole unit's share).  The check spots that (a unit exactly 0 in one run's layer output
and within ``KINK`` of 0 in the other's) and compares only the steps before it (``report.kink``).

In float32 it also runs the other backend in float64 and reports how far that framework's own
float32 parameters end from its float64 ones (the scale of rounding that no engine avoids), and
how far minidl's float32 parameters end from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minidl.data.clips import dequantize
from minidl.data.standin import builtin
from minidl.spec import schema
from minidl.spec.backends import backend_module
from minidl.spec.masks import DropoutMasks

TOLERANCE = {"float64": 1e-9, "float32": 1e-4}
KINK = 1e-5  # float32: a unit 0 in one run and within KINK * max|output| of 0 in the other sat on a kink


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """``max|a - b| / max|b|`` (0 when both are zero)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"parity: shapes differ, {a.shape} vs {b.shape}")
    scale = np.abs(b).max(initial=0.0)
    diff = np.abs(a - b).max(initial=0.0)
    return 0.0 if diff == 0 else float(diff / scale) if scale > 0 else float("inf")


def kinks(a: np.ndarray, b: np.ndarray) -> tuple[int, float]:
    """(count, max |value| / max|output|) over the elements that are exactly 0 in one of a, b and not the other."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    odd = (a == 0) != (b == 0)
    if not odd.any():
        return 0, 0.0
    scale = max(np.abs(a).max(), np.abs(b).max())
    return int(odd.sum()), float(np.abs(a[odd] + b[odd]).max() / scale)  # one side is 0: a + b is the other


@dataclass
class Kink:
    """Where the float32 comparison stopped: at ``step`` a ReLU input of layer ``index`` sat within rounding of 0."""

    step: int
    index: str
    count: int
    size: float  # the largest such value over the layer's largest output


@dataclass
class LayerRow:
    """The differences for one description layer (``index`` "0", "1", ..., "output")."""

    index: str
    layer: str
    output: float = 0.0
    grad: float | None = None     # None: the layer has no parameters
    param: float | None = None
    drift: float | None = None    # float32 only: the other framework's own float32 vs float64 parameters
    accuracy: float | None = None  # float32 only: minidl's float32 parameters vs the other's float64 ones


@dataclass
class ParityReport:
    """What :func:`parity` measured; ``passed`` when every difference is within ``tolerance``."""

    name: str
    against: str
    dtype: str
    steps: int
    batch: int
    tolerance: float
    rows: list[LayerRow] = field(default_factory=list)
    losses: list[tuple[float, float]] = field(default_factory=list)
    kink: Kink | None = None

    @property
    def loss_difference(self) -> float:
        return max((abs(a - b) / max(abs(b), 1e-300) for a, b in self.losses), default=0.0)

    @property
    def worst(self) -> float:
        values = [self.loss_difference] + [v for r in self.rows for v in (r.output, r.grad, r.param) if v is not None]
        return max(values)

    @property
    def passed(self) -> bool:
        return self.worst <= self.tolerance

    def table(self) -> str:
        """The per-layer table, then the two loss curves side by side (markdown)."""
        drift = self.dtype == "float32"
        compared = self.steps if self.kink is None else self.kink.step - 1
        head = ["layer", "type", "output", "gradients", f"parameters after {compared} steps"]
        head += [f"{self.against} float32 vs float64", f"minidl float32 vs {self.against} float64"] if drift else []
        lines = [f"Parity of {self.name!r}: minidl vs {self.against}, {self.dtype}, {self.steps} steps of batch "
                 f"{self.batch}; relative difference max|a-b|/max|b| (tolerance {self.tolerance:g})", "",
                 "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            cells = [r.index, r.layer, _fmt(r.output), _fmt(r.grad), _fmt(r.param)]
            cells += [_fmt(r.drift), _fmt(r.accuracy)] if drift else []
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", f"| step | minidl loss | {self.against} loss | relative difference |", "|---|---|---|---|"]
        lines += [f"| {k} | {a:.10g} | {b:.10g} | {_fmt(abs(a - b) / max(abs(b), 1e-300))} |"
                  for k, (a, b) in enumerate(self.losses, 1)]
        if self.kink is not None:
            k = self.kink
            lines += ["", f"Gradients and parameters compared over steps 1-{k.step - 1}: at step {k.step}, "
                          f"{k.count} unit(s) of layer {k.index} sat on a ReLU kink (0 in one run, "
                          f"{k.size:.1e} x the largest output in the other); past it the runs follow different "
                          f"trajectories that are both correct to float32 rounding."]
        verdict = "PASS" if self.passed else "FAIL"
        lines += ["", f"{verdict}: worst relative difference {self.worst:.2e} (tolerance {self.tolerance:g})"]
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2e}"


def batches(desc: schema.Description, steps: int, batch: int, data: str = "random",
            seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``steps`` (x, y) float64 batches: random ones of the described shape, or the built-in clips."""
    if data == "builtin":
        if desc.input.shape != (10, 128) or desc.output.units != 527:
            raise ValueError(f"parity: the built-in data are (10, 128) clips with 527 classes; the description "
                             f"{desc.name!r} takes {list(desc.input.shape)} with {desc.output.units} classes")
        clips = builtin("bal_train", progress=False).take(np.arange(steps * batch))
        x = dequantize(clips.x, desc.input.scale, np.float64)
        return [(x[k * batch:(k + 1) * batch], clips.y[k * batch:(k + 1) * batch].astype(np.float64))
                for k in range(steps)]
    if data != "random":
        raise ValueError(f"parity: data must be 'random' or 'builtin', got {data!r}")
    rng = np.random.default_rng(seed)
    return [(rng.uniform(-1.0, 1.0, (batch, *desc.input.shape)),
             (rng.random((batch, desc.output.units)) < 0.1).astype(np.float64)) for _ in range(steps)]


def _layer_of(key: str) -> str:
    return key.split(".", 1)[0]


def parity(desc: schema.Description | Any, against: str = "torch", steps: int = 20, dtype: str = "float64",
           batch: int = 16, data: str = "random", seed: int = 0, tolerance: float | None = None) -> ParityReport:
    """Train ``desc`` for ``steps`` steps in minidl and in ``against`` from the same start; compare layer by layer."""
    desc = desc if isinstance(desc, schema.Description) else schema.load(desc)
    if dtype not in TOLERANCE:
        raise ValueError(f"parity: dtype must be float64 or float32, got {dtype!r}")
    if steps < 1 or batch < 1:
        raise ValueError(f"parity: steps and batch must be at least 1, got {steps} and {batch}")
    masks = DropoutMasks(seed)
    mine = backend_module("minidl").Runner(desc, dtype, masks)
    other_backend = backend_module(against)
    runners = [mine, other_backend.Runner(desc, dtype, masks)]
    if dtype == "float32":
        runners.append(other_backend.Runner(desc, "float64", masks))
    start = backend_module("minidl").get_weights(mine.model)
    for runner in runners[1:]:
        other_backend.set_weights(runner.model, start)
    names = [str(i) for i in range(len(desc.layers))] + ["output"]
    texts = [schema.layer_text(layer) for layer in desc.layers] + [f"output(units={desc.output.units})"]
    report = ParityReport(desc.name, against, dtype, steps, batch,
                          TOLERANCE[dtype] if tolerance is None else tolerance,
                          [LayerRow(n, t) for n, t in zip(names, texts, strict=True)])
    rows = {r.index: r for r in report.rows}

    def weights() -> list[dict[str, np.ndarray]]:
        """Every run's weights now: minidl's, the other backend's, and (float32) its float64 run's."""
        return [backend_module("minidl").get_weights(mine.model)] + [other_backend.get_weights(r.model)
                                                                    for r in runners[1:]]

    before_kink = weights() if dtype == "float32" else None  # float32: the weights before the latest step
    for k, (x, y) in enumerate(batches(desc, steps, batch, data, seed)):
        masks.step = k
        records = [runner.step(x, y) for runner in runners]
        (loss_a, out_a, grad_a), (loss_b, out_b, grad_b) = records[0], records[1]
        report.losses.append((loss_a, loss_b))
        for row, a, b in zip(report.rows, out_a, out_b, strict=True):
            row.output = max(row.output, relative_difference(a, b))
        if dtype == "float32":  # the forward pass is still comparable; this step's gradients and updates are not
            found = [(row.index, *kinks(a, b)) for row, a, b in zip(report.rows, out_a, out_b, strict=True)]
            found = [f for f in found if f[1] > 0 and f[2] <= KINK]
            if found:
                report.kink = Kink(k + 1, *found[0])
                break
        for key, g in grad_a.items():
            row = rows[_layer_of(key)]
            row.grad = max(row.grad or 0.0, relative_difference(g, grad_b[key]))
        if dtype == "float32":
            before_kink = weights()
    finals = before_kink if before_kink is not None else weights()
    for key, value in finals[0].items():
        row = rows[_layer_of(key)]
        row.param = max(row.param or 0.0, relative_difference(value, finals[1][key]))
        if dtype == "float32":
            row.drift = max(row.drift or 0.0, relative_difference(finals[1][key], finals[2][key]))
            row.accuracy = max(row.accuracy or 0.0, relative_difference(value, finals[2][key]))
    return report
