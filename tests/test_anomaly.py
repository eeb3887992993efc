"""Anomaly mode: the first forward or backward op that makes NaN or Inf raises, naming the op, its
input shapes and the user's line that created it; outside the mode nothing is checked or installed."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import numpy as np
import pytest
from helpers import md, rng

import minidl
from minidl.autograd import (
    detect_anomaly,
    engine,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_detect_anomaly,
    wrapping,
)
from minidl.autograd.function import Function

ORIGINAL_APPLY = vars(Function)["apply"]
ORIGINAL_PROPAGATE = engine._propagate
HERE = Path(__file__).name
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's warnings about the planted values


class _PlantedNan(Function):
    """y = 2 x, with a wrong backward that returns NaN (a planted bug)."""

    def forward(self, x):
        return 2 * x

    def backward(self, gy):
        return gy * math.nan


class _Failing(Function):
    """y = x, with a backward that raises."""

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        raise ValueError("backward failed")


def next_line() -> int:
    """The number of the line after the caller's."""
    return inspect.currentframe().f_back.f_lineno + 1


def created_at(line: int) -> str:
    return f'{HERE}", line {line}, in '


def assert_off() -> None:
    assert not is_anomaly_enabled()
    assert vars(Function)["apply"] is ORIGINAL_APPLY and engine._propagate is ORIGINAL_PROPAGATE
    assert wrapping.wrappers(Function, "apply") == [] and wrapping.wrappers(engine, "_propagate") == []


def test_a_nan_made_in_forward_raises_at_that_op_naming_the_users_line():
    x = md(rng().uniform(-2, -1, (2, 3)), requires_grad=True)
    y = x * 2.0
    with detect_anomaly(), pytest.raises(RuntimeError) as error:
        line = next_line()
        y.log()
    message = str(error.value)
    assert "Function 'Log' produced nan values in its forward output (shape (2, 3), input shapes [(2, 3)]" in message
    assert "its inputs are finite" in message
    assert created_at(line) in message and "y.log()" in message
    assert_off()


def test_an_inf_made_in_backward_raises_at_that_node_naming_where_it_was_created():
    x = md(np.array([1.0, 0.0, 2.0, 3.0]), requires_grad=True)
    with detect_anomaly():
        line = next_line()
        y = x.sqrt()  # finite: sqrt(0) = 0, but its gradient 1 / (2 sqrt(x)) is inf at 0
        loss = (y * 3.0).sum()
        with pytest.raises(RuntimeError) as error:
            loss.backward()
    message = str(error.value)
    assert "Function 'SqrtBackward' returned inf values in its 0th output (the gradient of shape (4,)" in message
    assert "input shapes [(4,)]" in message and "it came in finite" in message
    assert created_at(line) in message and "y = x.sqrt()" in message
    assert_off()


def test_a_nan_returned_by_a_custom_backward_is_caught():
    x = md(rng().standard_normal(3), requires_grad=True)
    with detect_anomaly():
        line = next_line()
        y = _PlantedNan.apply(x)
        with pytest.raises(RuntimeError, match=r"Function '_PlantedNanBackward' returned nan values in its 0th output"):
            y.sum().backward()
        assert x.grad is None  # raised before the gradient reached the leaf
    with set_detect_anomaly(True), pytest.raises(RuntimeError) as error:
        line = next_line()
        _PlantedNan.apply(x).sum().backward()
    assert created_at(line) in str(error.value)


def test_an_error_in_backward_warns_with_the_creation_line_and_goes_on():
    x = md(rng().standard_normal(3), requires_grad=True)
    with detect_anomaly(check_nan=False):
        line = next_line()
        y = _Failing.apply(x)
        with pytest.warns(UserWarning, match="Error detected in _FailingBackward") as warned, \
                pytest.raises(ValueError, match="backward failed"):
            y.sum().backward()
    assert created_at(line) in str(warned[0].message)
    assert_off()


def test_no_error_and_nothing_installed_outside_the_mode():
    assert_off()
    x = md(rng().uniform(-2, -1, 3), requires_grad=True)
    y = x.log()  # nan, unchecked
    y.sum().backward()
    assert math.isnan(float(y.detach().sum()))
    zero = md(np.zeros(2), requires_grad=True)
    zero.sqrt().sum().backward()
    assert math.isinf(float(zero.grad.sum()))
    assert_off()


def test_finite_values_pass_and_check_nan_false_only_notes_lines():
    x = md(rng().uniform(1, 2, 3), requires_grad=True)
    with detect_anomaly():
        (x.log() * x.sqrt()).sum().backward()
    with detect_anomaly(check_nan=False):
        assert is_anomaly_enabled() and not is_anomaly_check_nan_enabled()
        (-x).log().sum().backward()  # nan everywhere, not checked
    assert is_anomaly_check_nan_enabled()
    assert_off()


def test_set_detect_anomaly_is_a_function_and_a_context_manager_and_modes_nest():
    set_detect_anomaly(True)
    try:
        assert is_anomaly_enabled()
        with detect_anomaly(check_nan=False):
            assert not is_anomaly_check_nan_enabled()
        assert is_anomaly_enabled() and is_anomaly_check_nan_enabled()
        with set_detect_anomaly(False):
            assert not is_anomaly_enabled()
            assert vars(Function)["apply"] is ORIGINAL_APPLY
        assert is_anomaly_enabled()
    finally:
        set_detect_anomaly(False)
    assert_off()


def test_an_exception_leaves_the_mode_off_and_the_decorator_form_works():
    with pytest.raises(KeyError), detect_anomaly():
        raise KeyError("the step failed")
    assert_off()

    @detect_anomaly()
    def step(x: minidl.Tensor) -> minidl.Tensor:
        assert is_anomaly_enabled()
        return (x * x).sum()

    assert step(md(rng().standard_normal(2))).item() > 0
    assert_off()
