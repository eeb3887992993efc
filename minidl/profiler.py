"""Where the time of a step goes: every op's forward and backward, timed, with PyTorch's names.

    with minidl.profiler.profile() as prof:
        with minidl.profiler.record_function("forward"):   # a labelled region: a row of its own
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=10))
    prof.export_chrome_trace("trace.json")                 # open in chrome://tracing or ui.perfetto.dev

How it hooks in: nothing in the engine knows about the profiler.  On entry, ``profile`` installs
two wrappers with :func:`minidl.autograd.wrapping.wrap`; on exit (also on an exception) it
removes them, and ``Function.apply`` and ``engine._propagate`` are the original objects again, so
the profiler costs nothing when it is not running:

* around ``Function.apply``: an op's forward, timed from its call to its return (the node's
  checks, the forward on arrays, recording the node; not the argument checks of the function
  that called it, such as ``F.linear``), as a row named by the op's lower-case
  name, ``Function.op_name`` (``mul`` for ``Mul`` and ``MulScalar``, ``linear``), the short form
  of PyTorch's ``aten::mul``;
* around ``engine._propagate``: one node's backward, timed from the engine's call of
  ``fn.backward(gy)`` to the routing of its gradients (reduction to each input's shape, the sums,
  a leaf's ``.grad``), as a row named by the node, ``Function.name`` (``MulBackward``; PyTorch's
  ``MulBackward0``).

``record_function("name")`` adds a row for a region of your code; the time of the rows inside it
is its total minus its self time.  What the wrappers do not see is not timed: the optimizer's
update works on arrays (no ops), and code between ops.  The table's share is of the profile's wall
time, so the untimed part is visible as the shares' shortfall from 100%.

Memory: the table's footer gives the peak bytes of live arrays that the profiled ops made: forward
outputs, arrays a node saves for backward (not its inputs), gradients.  A view counts as the array
that owns its memory, once.  Arrays made before the profile (parameters, the batch) and the
optimizer's state are not counted; neither are arrays that cannot be weakly referenced.

Times are host times from ``time.perf_counter_ns``, in microseconds as in PyTorch
(``cpu_time_total``).  On a GPU (CuPy) kernels run asynchronously, so an op's time is mostly the
time to launch its kernels.  Profiles do not nest (as in PyTorch).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from minidl import backend
from minidl.autograd import engine
from minidl.autograd.function import Function
from minidl.autograd.tensor import Tensor
from minidl.autograd.wrapping import wrap

Array = backend.Array
Shapes = list[tuple[int, ...] | None]

#: the profile now running, if any (``record_function`` reports to it)
_active: profile | None = None


def forward_name(cls: type[Function]) -> str:
    """The row of an op's forward: ``Function.op_name`` of the class (``mul`` for ``Mul`` and ``MulScalar``)."""
    return cls.__name__.removesuffix("Scalar").lower()


@dataclass
class FunctionEvent:
    """One timed call: an op's forward, a node's backward, or a ``record_function`` region."""

    name: str
    category: str  # "forward", "backward" or "user_annotation"
    start_us: float  # since the profile began
    input_shapes: Shapes
    thread: int
    end_us: float = float("nan")
    children_us: float = 0.0  # time of the events directly inside this one

    @property
    def cpu_time_total(self) -> float:
        return self.end_us - self.start_us

    @property
    def self_cpu_time_total(self) -> float:
        """The time not spent in the events inside (all of it for an op)."""
        return self.cpu_time_total - self.children_us


@dataclass
class FunctionEventAvg:
    """One row of :meth:`profile.key_averages`: the events of one name (and input shapes, if grouped)."""

    key: str
    input_shapes: Shapes  # those of the first event, as PyTorch's rows
    count: int = 0
    cpu_time_total: float = 0.0
    self_cpu_time_total: float = 0.0

    @property
    def cpu_time(self) -> float:
        """The average time of one call (microseconds)."""
        return self.cpu_time_total / self.count if self.count else 0.0

    def add(self, event: FunctionEvent) -> None:
        self.count += 1
        self.cpu_time_total += event.cpu_time_total
        self.self_cpu_time_total += event.self_cpu_time_total


class EventList(list):
    """The rows of :meth:`profile.key_averages`, with the profile's wall time and peak memory for the table."""

    def __init__(self, rows: Iterable[FunctionEventAvg], wall_time_us: float, peak_bytes: int) -> None:
        super().__init__(rows)
        self.wall_time_us, self.peak_bytes = wall_time_us, peak_bytes

    def table(self, sort_by: str | None = None, row_limit: int = 100) -> str:
        """The rows as text: name, calls, total ms, share of the wall time, self ms, input shapes.

        ``sort_by`` is a row attribute (``"cpu_time_total"``, ``"self_cpu_time_total"``,
        ``"cpu_time"``, ``"count"``), largest first; None keeps the order of first calls.
        ``row_limit`` rows at most (all when it is not positive), as PyTorch's ``table``.
        """
        rows = list(self)
        if sort_by is not None:
            if sort_by not in ("cpu_time_total", "self_cpu_time_total", "cpu_time", "count"):
                raise ValueError(f"table: cannot sort by {sort_by!r}; use cpu_time_total, self_cpu_time_total, "
                                 "cpu_time or count")
            rows.sort(key=lambda row: getattr(row, sort_by), reverse=True)
        if row_limit > 0:
            rows = rows[:row_limit]
        lines = [_TABLE.format("Name", "# of Calls", "CPU total", "CPU total %", "Self CPU", "Input Shapes")]
        lines += [_TABLE.format(row.key[:40], row.count, _ms(row.cpu_time_total),
                                f"{100 * row.cpu_time_total / self.wall_time_us:.1f}%",
                                _ms(row.self_cpu_time_total), _shapes_text(row.input_shapes)) for row in rows]
        timed = sum(row.self_cpu_time_total for row in self)
        lines.append(f"Wall time of the profile: {_ms(self.wall_time_us)}; timed (self CPU total): {_ms(timed)} "
                     f"({100 * timed / self.wall_time_us:.1f}%); peak live arrays made by ops: "
                     f"{_mib(self.peak_bytes)} ({self.peak_bytes:,} bytes)")
        return "\n".join(lines)


_TABLE = "{:<40}  {:>10}  {:>10}  {:>11}  {:>10}  {}"


def _ms(us: float) -> str:
    return f"{us / 1000:.3f}ms"


def _mib(nbytes: int) -> str:
    return f"{nbytes / 2**20:.1f} MiB" if nbytes >= 2**20 else f"{nbytes / 2**10:.1f} KiB"


def _dims(shapes: Shapes) -> list[list[int]]:
    """PyTorch's form of input shapes: ``[[256, 1280], [1024, 1280], []]`` (``[]`` for an absent input)."""
    return [[] if s is None else list(s) for s in shapes]


def _shapes_text(shapes: Shapes) -> str:
    text = str(_dims(shapes)) if shapes else ""
    return text if len(text) <= 60 else text[:57] + "..."


class _LiveBytes:
    """Bytes of the arrays being tracked that are still alive, and their peak, with a sample per change."""

    def __init__(self, now: Callable[[], float]) -> None:
        self.live = self.peak = 0
        self.samples: list[tuple[float, int]] = []  # (time in us, live bytes) for the trace
        self._now = now
        self._refs: dict[int, tuple[weakref.ref, int]] = {}

    def track(self, array: Array) -> None:
        """Count the memory behind ``array`` (its owner's, if it is a view) until that owner is freed."""
        owner = _owner(array)
        key = id(owner)
        if key in self._refs:
            return
        try:
            ref = weakref.ref(owner, lambda _: self._change(-self._refs.pop(key)[1]))
        except TypeError:  # an array type without weak references: not counted
            return
        self._refs[key] = (ref, owner.nbytes)
        self._change(owner.nbytes)

    def stop(self) -> None:
        """Stop tracking: dropping the references also drops their callbacks."""
        self._refs.clear()

    def _change(self, nbytes: int) -> None:
        self.live += nbytes
        self.peak = max(self.peak, self.live)
        self.samples.append((self._now(), self.live))


def _owner(array: Array) -> Array:
    """The array that owns the memory of ``array`` (``array`` itself unless it is a view)."""
    ndarray = backend.xp_of(array).ndarray
    while isinstance(array.base, ndarray):
        array = array.base
    return array


def _is_array(value: Any) -> bool:
    return isinstance(value, backend.xp_of(value).ndarray)


class profile:  # noqa: N801 - PyTorch's name
    """Time every op's forward and backward inside a ``with`` block (see the module docstring).

    ``record_shapes`` keeps each call's input shapes and ``profile_memory`` tracks live arrays;
    both are on by default (PyTorch's are off) because they cost little here and the table
    shows them.
    """

    def __init__(self, *, record_shapes: bool = True, profile_memory: bool = True) -> None:
        self.record_shapes, self.profile_memory = record_shapes, profile_memory
        self._events: list[FunctionEvent] = []
        self._open: defaultdict[int, list[FunctionEvent]] = defaultdict(list)  # per thread, innermost last
        self._handles: list[Any] = []
        self._start_ns = self._end_ns = 0
        self.memory = _LiveBytes(self._now)

    # ------------------------------------------------------------------------ start and stop
    def __enter__(self) -> profile:
        global _active
        if _active is not None:
            raise RuntimeError("profile: a profile is already running (profiles do not nest)")
        _active = self
        self._events, self.memory = [], _LiveBytes(self._now)
        self._handles = [wrap(Function, "apply", self._timed_apply), wrap(engine, "_propagate", self._timed_propagate)]
        self._start_ns = time.perf_counter_ns()
        return self

    def __exit__(self, *exc: Any) -> None:
        global _active
        self._end_ns = time.perf_counter_ns()
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self.memory.stop()
        _active = None

    # ---------------------------------------------------------------------------- results
    def events(self) -> list[FunctionEvent]:
        """Every timed call, in the order the calls began."""
        return sorted(self._events, key=lambda e: e.start_us)

    @property
    def wall_time_us(self) -> float:
        """The wall time of the ``with`` block (so far, while it runs; microseconds)."""
        return ((self._end_ns if _active is not self else time.perf_counter_ns()) - self._start_ns) / 1000

    @property
    def self_cpu_time_total(self) -> float:
        """The time of all events without double counting nested ones (microseconds)."""
        return sum(e.self_cpu_time_total for e in self._events)

    @property
    def peak_bytes(self) -> int:
        """The peak bytes of live arrays made by the profiled ops (module docstring)."""
        return self.memory.peak

    def key_averages(self, group_by_input_shape: bool = False) -> EventList:
        """One row per event name (per name and input shapes with ``group_by_input_shape``), in order of first call."""
        rows: dict[Any, FunctionEventAvg] = {}
        for event in self.events():
            key = (event.name, str(event.input_shapes)) if group_by_input_shape else event.name
            if key not in rows:
                rows[key] = FunctionEventAvg(event.name, event.input_shapes)
            rows[key].add(event)
        return EventList(rows.values(), self.wall_time_us, self.peak_bytes)

    def export_chrome_trace(self, path: str | os.PathLike) -> None:
        """Write the events as Chrome trace JSON (chrome://tracing, ui.perfetto.dev), atomically."""
        pid = os.getpid()
        events = [{"name": e.name, "cat": e.category, "ph": "X", "ts": e.start_us, "dur": e.cpu_time_total,
                   "pid": pid, "tid": e.thread, "args": {"Input Dims": _dims(e.input_shapes)}} for e in self.events()]
        events += [{"name": "live bytes", "ph": "C", "ts": ts, "pid": pid, "args": {"bytes": live}}
                   for ts, live in self.memory.samples]
        _write_atomically(path, json.dumps({"traceEvents": events, "displayTimeUnit": "ms"}))

    # ------------------------------------------------------------------------ recording
    def _now(self) -> float:
        return (time.perf_counter_ns() - self._start_ns) / 1000

    def _begin(self, name: str, category: str, shapes: Shapes) -> FunctionEvent:
        event = FunctionEvent(name, category, self._now(), shapes, threading.get_ident())
        self._open[event.thread].append(event)
        return event

    def _end(self, event: FunctionEvent) -> None:
        event.end_us = self._now()
        stack = self._open[event.thread]
        stack.pop()
        if stack:
            stack[-1].children_us += event.cpu_time_total
        self._events.append(event)

    def _timed_apply(self, apply: Callable[..., Tensor], cls: type[Function], *inputs: Tensor | None,
                     **params: Any) -> Tensor:
        """``Function.apply``, timed as one forward event."""
        shapes = [None if t is None else tuple(t.shape) for t in inputs] if self.record_shapes else []
        event = self._begin(forward_name(cls), "forward", shapes)
        try:
            out = apply(cls, *inputs, **params)
        finally:
            self._end(event)
        if self.profile_memory:
            self._track_forward(out, inputs)
        return out

    def _timed_propagate(self, propagate: Callable[..., None], fn: Function, gy: Array, grads: dict) -> None:
        """``engine._propagate``, timed as one backward event."""
        event = self._begin(fn.name, "backward", [tuple(gy.shape)] if self.record_shapes else [])
        try:
            propagate(fn, gy, grads)
        finally:
            self._end(event)
        if self.profile_memory:
            self._track_backward(fn, gy)

    def _track_forward(self, out: Tensor, inputs: tuple[Tensor | None, ...]) -> None:
        """Count the output and what the node saved for backward, except its inputs."""
        self.memory.track(out.array)
        if out.grad_fn is None:
            return
        own_inputs = {id(_owner(t.array)) for t in inputs if t is not None}
        for value in vars(out.grad_fn).values():
            if _is_array(value) and id(_owner(value)) not in own_inputs:
                self.memory.track(value)

    def _track_backward(self, fn: Function, gy: Array) -> None:
        """Count the incoming gradient and the ``.grad`` of the leaves the node fed."""
        self.memory.track(gy)
        for t in fn.inputs or ():
            if t is not None and t.grad_fn is None and t.grad is not None:
                self.memory.track(t.grad.array)


class record_function(contextlib.ContextDecorator):  # noqa: N801 - PyTorch's name
    """Label a region of code (``with`` block or decorated function) as a row of the running profile.

    Does nothing when no profile is running.
    """

    def __init__(self, name: str, args: str | None = None) -> None:
        self.name, self.args = name, args
        self._open: list[tuple[profile, FunctionEvent]] = []  # a stack: a decorated function may recurse

    def __enter__(self) -> record_function:
        if _active is not None:
            self._open.append((_active, _active._begin(self.name, "user_annotation", [])))
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._open:
            prof, event = self._open.pop()
            prof._end(event)


def _write_atomically(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path`` (``os.replace``)."""
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    temp = os.path.join(folder, f".{name}.{secrets.token_hex(8)}.tmp")
    try:
        with open(temp, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
