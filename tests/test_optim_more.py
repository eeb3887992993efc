"""Adagrad, Adadelta and LBFGS against torch.optim, from identical weights and data.

Adagrad and Adadelta train the 7-16-5 tanh MLP of helpers.mlp_problem for 50 steps; LBFGS fits it
full-batch through a closure, with and without the strong-Wolfe line search.  Final parameters
and optimizer states are compared (float64 within 1e-10, float32 within 1e-5 relative).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import DTYPES, assert_close, full_batch_closure, md, to_np, train_steps
from test_optim import assert_same_state, make_pair

import minidl
from minidl import optim

STEPS = 50

CASES = [
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
    ("Adagrad", {"lr": 0.05, "weight_decay": 0.1, "initial_accumulator_value": 0.5}),
    ("Adagrad", {"lr": 0.05, "eps": 1e-3, "maximize": True}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.1, "weight_decay": 0.05, "initial_accumulator_value": 0.1}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.5}),
    ("Adadelta", {"rho": 0.95, "eps": 1e-4, "weight_decay": 0.1}),
    ("Adadelta", {"lr": 0.3, "maximize": True}),
    ("Adadelta", {"rho": 0.3, "weight_decay": 0.01}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "kwargs"), CASES)
def test_matches_torch_over_50_steps(name: str, kwargs: dict[str, Any], dtype: Any) -> None:
    m_opt, m_params, m_data, t_opt, t_params, t_data = make_pair(name, kwargs, dtype)
    train_steps(m_opt, m_params, m_data, STEPS)
    train_steps(t_opt, t_params, t_data, STEPS)
    for i, (m, t) in enumerate(zip(m_params, t_params)):
        assert_close(m, t, dtype, f"parameter {i} after {STEPS} steps")
    assert_same_state(m_opt, t_opt, dtype)


@pytest.mark.parametrize("name", ["Adagrad", "Adadelta"])
def test_two_param_groups(name: str) -> None:
    m_opt, m_params, m_data, t_opt, t_params, t_data = make_pair(name, {"lr": 0.1}, np.float64, groups=True)
    train_steps(m_opt, m_params, m_data, STEPS)
    train_steps(t_opt, t_params, t_data, STEPS)
    for i, (m, t) in enumerate(zip(m_params, t_params)):
        assert_close(m, t, np.float64, f"parameter {i}")
    assert_same_state(m_opt, t_opt, np.float64)


# (keyword arguments, steps, dtypes).  lr = 5 makes the line search zoom, lr = 0.05 extrapolate.  In float32
# that extrapolation takes the other branch of the cubic interpolation (its discriminant is ~1e-9 here)
# on a one-ulp difference of the first loss, so the float32 runs part ways, as two PyTorch builds would.
LBFGS_CASES = [
    ({}, 2, DTYPES),
    ({"lr": 0.5, "max_iter": 5, "history_size": 3}, 6, DTYPES),
    ({"line_search_fn": "strong_wolfe", "max_iter": 4, "history_size": 2, "lr": 0.8}, 5, DTYPES),
    ({"line_search_fn": "strong_wolfe", "max_iter": 30, "max_eval": 10}, 2, DTYPES),
    ({"line_search_fn": "strong_wolfe", "lr": 5.0}, 3, DTYPES),
    ({"line_search_fn": "strong_wolfe", "lr": 3.0, "max_iter": 8}, 2, DTYPES),
    ({"line_search_fn": "strong_wolfe", "lr": 0.05}, 3, [np.float64]),
]


@pytest.mark.parametrize(("kwargs", "steps", "dtype"),
                         [(kwargs, steps, dtype) for kwargs, steps, dtypes in LBFGS_CASES for dtype in dtypes])
def test_lbfgs_matches_torch(kwargs: dict[str, Any], steps: int, dtype: Any) -> None:
    m_opt, m_params, m_data, t_opt, t_params, t_data = make_pair("LBFGS", kwargs, dtype)
    m_closure, t_closure = full_batch_closure(m_opt, m_params, m_data), full_batch_closure(t_opt, t_params, t_data)
    for step in range(steps):
        m_loss, t_loss = m_opt.step(m_closure), t_opt.step(t_closure)
        assert_close(m_loss, t_loss, dtype, f"loss returned by step {step}")
    # One LBFGS step runs up to max_iter (20) inner updates, so float32 rounding gathers over ~20x more
    # updates than one step of another optimizer: the float32 parameters get twice the usual 1e-5.
    tol = 2e-5 if dtype == np.float32 else None
    for i, (m, t) in enumerate(zip(m_params, t_params)):
        assert_close(m, t, dtype, f"parameter {i} after {steps} steps", tol=tol)
    assert_same_lbfgs_state(m_opt, t_opt, dtype)


def assert_same_lbfgs_state(m_opt: Any, t_opt: Any, dtype: Any) -> None:
    """Equal counters and history lengths; equal vectors in float64.  (In float32 the direction d is
    built from gradient differences y = g - g_prev that cancel near a minimum, so its float32 noise
    is amplified: the parameters agree to 1e-5, d and the y need not.)"""
    m_state, t_state = m_opt.state_dict()["state"][0], t_opt.state_dict()["state"][0]
    assert m_state.keys() == t_state.keys()
    assert (m_state["func_evals"], m_state["n_iter"]) == (t_state["func_evals"], t_state["n_iter"])
    assert len(m_state["old_dirs"]) == len(t_state["old_dirs"])
    if dtype == np.float32:
        return
    for name in ("d", "prev_flat_grad", *[f"old_dirs {i}" for i in range(len(t_state["old_dirs"]))]):
        key, *i = name.split()
        m_value, t_value = (m_state[key][int(i[0])], t_state[key][int(i[0])]) if i else (m_state[key], t_state[key])
        assert_close(m_value, t_value, dtype, f"state {name}")
    assert_close(np.asarray(float(m_state["t"]), dtype), np.asarray(float(t_state["t"]), dtype), dtype, "state t")


def test_lbfgs_stops_at_once_at_a_minimum_and_returns_the_first_loss() -> None:
    p = md(np.zeros(3), requires_grad=True)
    opt = optim.LBFGS([p])

    def closure() -> minidl.Tensor:
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    assert float(opt.step(closure)) == 0.0
    assert opt.state[p] == {"func_evals": 1, "n_iter": 0}


@pytest.mark.parametrize("make,error,match", [
    (lambda p: optim.Adagrad(p, lr=-1), ValueError, "invalid lr -1"),
    (lambda p: optim.Adagrad(p, lr_decay=-0.1), ValueError, "lr_decay"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1), ValueError, "initial_accumulator_value"),
    (lambda p: optim.Adagrad(p, eps="small"), TypeError, "eps must be a number"),
    (lambda p: optim.Adadelta(p, rho=1.5), ValueError, "rho 1.5"),
    (lambda p: optim.Adadelta(p, rho=-0.5), ValueError, "rho -0.5"),
    (lambda p: optim.Adadelta(p, weight_decay=-1), ValueError, "weight_decay"),
    (lambda p: optim.LBFGS(p, lr=-1), ValueError, "invalid lr"),
    (lambda p: optim.LBFGS(p, max_iter=0), ValueError, "max_iter must be a positive integer, got 0"),
    (lambda p: optim.LBFGS(p, history_size=2.5), ValueError, "history_size"),
    (lambda p: optim.LBFGS(p, line_search_fn="armijo"), ValueError, "'armijo'"),
    (lambda p: optim.LBFGS([{"params": p[:1]}, {"params": p[1:]}]), ValueError, "parameter groups"),
])
def test_invalid_hyperparameters(make: Any, error: type, match: str) -> None:
    params = [md(np.ones(2), True), md(np.ones(3), True)]
    with pytest.raises(error, match=match):
        make(params)


def test_adagrad_state_exists_from_the_start_as_in_torch() -> None:
    a, b = md(np.ones(2), True), md(np.ones(3), True)
    opt = optim.Adagrad([a], initial_accumulator_value=0.25)
    opt.add_param_group({"params": [b], "initial_accumulator_value": 2.0})
    state = opt.state_dict()["state"]
    assert state[0]["step"] == 0 and to_np(state[0]["sum"]).tolist() == [0.25, 0.25]
    assert to_np(state[1]["sum"]).tolist() == [2.0] * 3
