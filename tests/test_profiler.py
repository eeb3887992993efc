"""``minidl.profiler``: call counts equal the ops run, times fit in the step, the trace parses, and
nothing of the profiler stays installed after its ``with`` block (normal exit, exception, nesting)."""

from __future__ import annotations

import json
import time
import weakref
from collections import Counter

import pytest
from helpers import DEVICE, md, rng

import minidl
from minidl import nn, optim, profiler
from minidl.autograd import engine, set_detect_anomaly, wrapping
from minidl.autograd.function import Function
from minidl.profiler import profile, record_function

ORIGINAL_APPLY = vars(Function)["apply"]
ORIGINAL_PROPAGATE = engine._propagate


def assert_nothing_installed() -> None:
    assert vars(Function)["apply"] is ORIGINAL_APPLY
    assert engine._propagate is ORIGINAL_PROPAGATE
    assert wrapping.wrappers(Function, "apply") == [] and wrapping.wrappers(engine, "_propagate") == []
    assert profiler._active is None


def small_model() -> tuple[nn.Module, nn.Module, optim.Optimizer, minidl.Tensor, minidl.Tensor]:
    """The paper's fc model in miniature: Linear, ReLU, Linear, sigmoid cross-entropy, Adam."""
    model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 5)).to(DEVICE)
    x, y = md(rng(1).standard_normal((8, 20)).astype("float32")), md((rng(2).random((8, 5)) < 0.3).astype("float32"))
    return model, nn.BCEWithLogitsLoss(), optim.Adam(model.parameters()), x, y


def tracks_memory(t: minidl.Tensor) -> bool:
    """Whether the profiler can see this tensor's arrays freed (weak references; not the CuPy stand-in's)."""
    try:
        weakref.ref(t.array)
    except TypeError:
        return False
    return True


def counts(prof: profile, category: str) -> Counter:
    """Calls per row name of one category (``forward``, ``backward``, ``user_annotation``)."""
    return Counter(e.name for e in prof.events() if e.category == category)


def test_call_counts_equal_the_ops_of_the_graph_and_fit_in_the_wall_time():
    model, loss_fn, opt, x, y = small_model()
    started = time.perf_counter()
    with profile() as prof:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        nodes = engine.topological_order(loss.grad_fn)  # counted independently, before backward frees them
        loss.backward()
        opt.step()
    wall_us = (time.perf_counter() - started) * 1e6
    assert counts(prof, "forward") == Counter(fn.op_name for fn in nodes)
    assert counts(prof, "backward") == Counter(fn.name for fn in nodes)
    assert counts(prof, "backward") == Counter({"LinearBackward": 2, "ReLUBackward": 1,
                                                "BinaryCrossEntropyWithLogitsBackward": 1})
    rows = {row.key: row for row in prof.key_averages()}
    assert rows["linear"].count == 2 and rows["LinearBackward"].count == 2
    assert 0 < prof.self_cpu_time_total <= prof.wall_time_us <= wall_us
    assert all(0 <= e.start_us <= e.end_us <= prof.wall_time_us for e in prof.events())
    assert sum(row.cpu_time_total for row in prof.key_averages()) == pytest.approx(prof.self_cpu_time_total)


def test_counts_a_hand_counted_expression_forward_only_under_no_grad():
    a, b = md(rng().standard_normal(3), requires_grad=True), md(rng(1).standard_normal(3), requires_grad=True)
    with profile() as prof:
        (a * b + a * 0.5).sum().backward()  # mul, mul (scalar), add, sum; four backward nodes
        with minidl.no_grad():
            a * b  # forward only: no node, no backward
    assert counts(prof, "forward") == Counter({"mul": 3, "add": 1, "sum": 1})
    assert counts(prof, "backward") == Counter({"MulBackward": 2, "AddBackward": 1, "SumBackward": 1})


def test_rows_are_named_as_the_nodes_name_themselves():
    x = md(rng().standard_normal(4), requires_grad=True)
    with profile() as prof:
        y = x * 0.5  # MulScalar
    assert [e.name for e in prof.events()] == [y.grad_fn.op_name] == ["mul"]
    with profile() as prof:
        y.sum().backward()
    assert [e.name for e in prof.events() if e.category == "backward"] == ["SumBackward", y.grad_fn.name]


def test_input_shapes_are_recorded_and_grouped():
    x = md(rng().standard_normal((2, 3)), requires_grad=True)
    w = md(rng(1).standard_normal((4, 3)), requires_grad=True)
    with profile() as prof:
        minidl.nn.functional.linear(x, w)
        minidl.nn.functional.linear(x[:1], w)
    linear = [e for e in prof.events() if e.name == "linear"]
    assert [e.input_shapes for e in linear] == [[(2, 3), (4, 3), None], [(1, 3), (4, 3), None]]
    grouped = [row for row in prof.key_averages(group_by_input_shape=True) if row.key == "linear"]
    assert [row.count for row in grouped] == [1, 1]
    assert [row.count for row in prof.key_averages() if row.key == "linear"] == [2]


def test_record_function_labels_a_region_with_its_self_time():
    model, loss_fn, _, x, y = small_model()

    @record_function("loss")
    def compute_loss() -> minidl.Tensor:
        return loss_fn(model(x), y)

    with profile() as prof, record_function("step"):
        compute_loss().backward()
    rows = {row.key: row for row in prof.key_averages()}
    assert rows["step"].count == 1 and rows["loss"].count == 1
    step, loss = (next(e for e in prof.events() if e.name == name) for name in ("step", "loss"))
    assert step.start_us <= loss.start_us <= loss.end_us <= step.end_us
    ops = [e for e in prof.events() if e.category != "user_annotation"]
    assert step.self_cpu_time_total == pytest.approx(step.cpu_time_total - loss.cpu_time_total
                                                      - sum(e.cpu_time_total for e in ops if e.start_us > loss.end_us))
    assert loss.self_cpu_time_total == pytest.approx(loss.cpu_time_total
                                                      - sum(e.cpu_time_total for e in ops if e.end_us <= loss.end_us))
    with record_function("nobody is profiling"):  # no profile running: nothing happens
        model(x)


def test_table_lists_rows_sorted_with_shares_and_the_memory_peak():
    model, loss_fn, _, x, y = small_model()
    with profile() as prof:
        loss_fn(model(x), y).backward()
    averages = prof.key_averages()
    text = averages.table(sort_by="cpu_time_total", row_limit=3)
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["Name", "#", "of", "Calls"] and "Input Shapes" in lines[0]
    assert len(lines) == 1 + 3 + 1 and lines[-1].startswith("Wall time of the profile")
    top = sorted(averages, key=lambda row: row.cpu_time_total, reverse=True)[:3]
    assert [line.split()[0] for line in lines[1:4]] == [row.key for row in top]
    assert f"{100 * top[0].cpu_time_total / prof.wall_time_us:.1f}%" in lines[1]
    assert f"({prof.peak_bytes:,} bytes)" in lines[-1] and (prof.peak_bytes > 0) == tracks_memory(x)
    assert "[[8, 20], [16, 20], [16]]" in averages.table()
    with pytest.raises(ValueError, match="cannot sort by 'name'"):
        averages.table(sort_by="name")


def test_peak_bytes_counts_live_op_results_once_and_forgets_freed_ones():
    a = minidl.randn(1000, dtype=minidl.float64, requires_grad=True)  # made before: not counted
    with profile() as prof:
        for _ in range(3):
            a * 2.0  # 8,000 bytes each, freed at once
    assert prof.peak_bytes == 8000
    with profile() as prof:
        b = a * 2.0
        c = b * 3.0  # keeps b alive through its node
        b.reshape(10, 100)  # a view of b: no new memory
    assert prof.peak_bytes == 16000 and c.shape == (1000,)


def test_chrome_trace_parses_and_holds_every_event(tmp_path):
    model, loss_fn, _, x, y = small_model()
    with profile() as prof, record_function("step"):
        loss_fn(model(x), y).backward()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(path)
    trace = json.loads(path.read_text())
    spans = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert [(e["name"], e["cat"]) for e in spans] == [(e.name, e.category) for e in prof.events()]
    assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in spans)
    assert {"forward", "backward", "user_annotation"} == {e["cat"] for e in spans}
    samples = [e["args"]["bytes"] for e in trace["traceEvents"] if e["ph"] == "C"]
    assert max(samples, default=0) == prof.peak_bytes and bool(samples) == tracks_memory(x)
    assert [p.name for p in tmp_path.iterdir()] == ["trace.json"]  # no temporary file left


def test_nothing_stays_installed_after_exit_exception_or_nesting():
    assert_nothing_installed()
    x = md(rng().standard_normal(3), requires_grad=True)
    with pytest.raises(KeyError), profile():
        x * 2.0
        assert vars(Function)["apply"] is not ORIGINAL_APPLY
        raise KeyError("the step failed")
    assert_nothing_installed()
    with profile() as outer:
        with pytest.raises(RuntimeError, match="already running"), profile():
            pass
        x * 2.0
    assert [e.name for e in outer.events()] == ["mul"]
    assert_nothing_installed()


@pytest.mark.filterwarnings("ignore:invalid value encountered in log:RuntimeWarning")
def test_profile_and_anomaly_mode_end_in_any_order():
    x = md(rng().standard_normal(3), requires_grad=True)
    with profile() as prof:
        set_detect_anomaly(True)  # installed on top of the profiler's wrappers
        (x * 2.0).sum().backward()
    assert minidl.autograd.is_anomaly_enabled()
    assert len(wrapping.wrappers(Function, "apply")) == 1  # the anomaly wrapper alone
    with pytest.raises(RuntimeError, match="Function 'Log' produced nan"):
        (x.abs() * -1.0).log()
    set_detect_anomaly(False)
    assert_nothing_installed()
    assert Counter(e.name for e in prof.events()) == Counter({"mul": 1, "sum": 1, "SumBackward": 1, "MulBackward": 1})
