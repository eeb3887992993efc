"""Optimizers against torch.optim: 100 steps of a small MLP from identical weights and data.

Each case trains the same 7-16-5 tanh MLP with minidl and with PyTorch and compares the final
parameters (float64 within 1e-10, float32 within 1e-5 relative) and the optimizer state.
"""

from __future__ import annotations

import copy
import tracemalloc
from typing import Any

import numpy as np
import pytest
import torch
from helpers import DEVICE, DTYPES, assert_close, md, mlp_loss, mlp_problem, th, to_np, train_steps

import minidl
from minidl import optim

STEPS = 100

# (optimizer name, keyword arguments): every option of each optimizer, alone and combined
CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.05, "nesterov": True}),
    ("SGD", {"lr": 0.01, "momentum": 0.5, "maximize": True}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.003, "alpha": 0.9, "eps": 1e-6}),
    ("RMSprop", {"lr": 0.003, "alpha": 0.3, "centered": True}),
    ("RMSprop", {"lr": 0.003, "centered": True}),
    ("RMSprop", {"lr": 0.002, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.003, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.002, "momentum": 0.5, "centered": True, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.001, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "betas": (0.5, 0.9), "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "eps": 1e-4}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("Adam", {"lr": 0.001, "maximize": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.5, "maximize": True}),
]


def make_pair(name: str, kwargs: dict[str, Any], dtype: Any, groups: bool = False) -> tuple[Any, ...]:
    """The same problem, parameters and optimizer in minidl and in PyTorch."""
    weights, data = mlp_problem(dtype)
    m_params = [md(w, requires_grad=True) for w in weights]
    t_params = [th(w, requires_grad=True) for w in weights]

    def spec(params: list[Any]) -> Any:
        return [{"params": params[:2], "lr": 0.3 * kwargs.get("lr", 0.01)}, {"params": params[2:]}] if groups \
            else params

    m_opt = getattr(optim, name)(spec(m_params), **kwargs)
    t_opt = getattr(torch.optim, name)(spec(t_params), **kwargs)
    m_data = [(md(x), md(y)) for x, y in data]
    t_data = [(th(x), th(y)) for x, y in data]
    return m_opt, m_params, m_data, t_opt, t_params, t_data


def run_pair(name: str, kwargs: dict[str, Any], dtype: Any, groups: bool = False) -> tuple[Any, ...]:
    m_opt, m_params, m_data, t_opt, t_params, t_data = make_pair(name, kwargs, dtype, groups)
    train_steps(m_opt, m_params, m_data, STEPS)
    train_steps(t_opt, t_params, t_data, STEPS)
    return m_opt, m_params, t_opt, t_params


def assert_same_state(m_opt: Any, t_opt: Any, dtype: Any) -> None:
    """State dicts with the same layout, hyperparameters and (within tolerance) state values."""
    m_sd, t_sd = m_opt.state_dict(), t_opt.state_dict()
    assert m_sd["state"].keys() == t_sd["state"].keys()
    for key, t_state in t_sd["state"].items():
        m_state = m_sd["state"][key]
        assert m_state.keys() == t_state.keys(), f"state of parameter {key}"
        for name, t_value in t_state.items():
            if name == "step":
                assert m_state[name] == int(t_value.item())
            else:
                assert_close(m_state[name], t_value, dtype, f"state {name} of parameter {key}")
    for m_group, t_group in zip(m_sd["param_groups"], t_sd["param_groups"]):
        assert m_group["params"] == t_group["params"]
        for name, value in m_group.items():
            assert value == t_group[name] or tuple(value) == tuple(t_group[name]), f"group entry {name}"


@pytest.mark.parametrize("foreach", [None, False], ids=["in_place", "textbook"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "kwargs"), CASES)
def test_matches_torch_over_100_steps(name: str, kwargs: dict[str, Any], dtype: Any, foreach: bool | None) -> None:
    m_opt, m_params, t_opt, t_params = run_pair(name, {**kwargs, "foreach": foreach}, dtype)
    for i, (m, t) in enumerate(zip(m_params, t_params)):
        assert m.dtype == np.dtype(dtype)
        assert_close(m, t, dtype, f"parameter {i} after {STEPS} steps")
    assert_same_state(m_opt, t_opt, dtype)


@pytest.mark.parametrize(("name", "kwargs"), CASES)
def test_in_place_path_equals_the_textbook_one(name: str, kwargs: dict[str, Any]) -> None:
    """The default zero-temporary update and the docstring's formula, line for line, agree (float64)."""
    weights, data = mlp_problem(np.float64)
    finals = []
    for foreach in (False, None):
        params = [md(w, requires_grad=True) for w in weights]
        train_steps(getattr(optim, name)(params, **kwargs, foreach=foreach), params,
                    [(md(x), md(y)) for x, y in data], 20)
        finals.append([to_np(p) for p in params])
    for textbook, in_place in zip(*finals):
        np.testing.assert_allclose(in_place, textbook, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "kwargs"), [("SGD", {"lr": 0.1, "momentum": 0.9}), ("RMSprop", {}),
                                              ("Adam", {"lr": 0.01}), ("AdamW", {"amsgrad": True})])
def test_two_param_groups_with_different_lr(name: str, kwargs: dict[str, Any], dtype: Any) -> None:
    m_opt, m_params, t_opt, t_params = run_pair(name, kwargs, dtype, groups=True)
    assert [g["lr"] for g in m_opt.param_groups] == [g["lr"] for g in t_opt.param_groups]
    for i, (m, t) in enumerate(zip(m_params, t_params)):
        assert_close(m, t, dtype, f"parameter {i} after {STEPS} steps")
    assert_same_state(m_opt, t_opt, dtype)


@pytest.mark.parametrize(("name", "kwargs"), [("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1}),
                                              ("RMSprop", {"momentum": 0.5, "centered": True}),
                                              ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
                                              ("AdamW", {}),
                                              ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
                                              ("Adadelta", {"weight_decay": 0.1}),
                                              ("LBFGS", {"lr": 0.5, "max_iter": 3, "history_size": 4})])
def test_state_dict_round_trip_mid_run_continues_identically(name: str, kwargs: dict[str, Any]) -> None:
    weights, data = mlp_problem(np.float32)
    batches = [(md(x), md(y)) for x, y in data]
    params = [md(w, requires_grad=True) for w in weights]
    opt = getattr(optim, name)(params, **kwargs)
    train_steps(opt, params, batches, 7)
    saved = copy.deepcopy(opt.state_dict())

    resumed_params = [md(to_np(p), requires_grad=True) for p in params]
    resumed = getattr(optim, name)(resumed_params, lr=123.0)  # hyperparameters come from the state dict
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    train_steps(opt, params, batches, 9)
    train_steps(resumed, resumed_params, batches, 9)
    for p, q in zip(params, resumed_params):
        np.testing.assert_array_equal(to_np(q), to_np(p))


def test_load_state_dict_copies_state_to_the_parameters_dtype() -> None:
    params = [md(np.ones((3, 2)), requires_grad=True)]  # float64 parameters
    opt = optim.Adam(params)
    source = optim.Adam([md(np.ones((3, 2), np.float32), requires_grad=True)])
    source.param_groups[0]["params"][0].grad = md(np.ones((3, 2), np.float32))
    source.step()
    opt.load_state_dict(source.state_dict())
    exp_avg = opt.state[params[0]]["exp_avg"]
    assert exp_avg.dtype == np.float64
    assert exp_avg.array is not source.state_dict()["state"][0]["exp_avg"].array


def test_load_state_dict_rejects_mismatched_groups() -> None:
    a, b = md(np.ones(2), True), md(np.ones(3), True)
    saved = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="group 0 has 2 parameters"):
        optim.SGD([a], lr=0.1).load_state_dict(saved)
    saved["state"] = {"0": {}}  # ids must be the integers listed in the groups
    with pytest.raises(ValueError, match="unknown parameter ids"):
        optim.SGD([a, b], lr=0.1).load_state_dict(saved)


def test_closure_runs_with_grad_and_its_loss_is_returned() -> None:
    weights, data = mlp_problem(np.float64)
    params = [md(w, requires_grad=True) for w in weights]
    x, y = md(data[0][0]), md(data[0][1])
    opt = optim.SGD(params, lr=0.1)

    def closure() -> minidl.Tensor:
        opt.zero_grad()
        loss = mlp_loss(params, x, y)
        loss.backward()
        return loss

    with minidl.no_grad():
        loss = opt.step(closure)
    t_params = [th(w, requires_grad=True) for w in weights]
    t_opt = torch.optim.SGD(t_params, lr=0.1)
    t_opt.zero_grad()
    mlp_loss(t_params, th(data[0][0]), th(data[0][1])).backward()
    t_opt.step()
    assert_close(loss, mlp_loss([th(w) for w in weights], th(data[0][0]), th(data[0][1])), np.float64)
    for m, t in zip(params, t_params):
        assert_close(m, t, np.float64)


def test_zero_grad_sets_to_none_or_zero() -> None:
    p = md(np.ones(3), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = md(np.full(3, 2.0))
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(to_np(p.grad), np.zeros(3))
    opt.zero_grad()
    assert p.grad is None


def test_parameters_without_grad_are_skipped_and_grads_left_unchanged() -> None:
    a, b = md(np.ones(3), True), md(np.ones(2), True)
    opt = optim.Adam([a, b], lr=0.1, weight_decay=0.5, maximize=True)
    a.grad = md(np.array([1.0, -2.0, 3.0]))
    opt.step()
    np.testing.assert_array_equal(to_np(b), np.ones(2))
    assert b not in opt.state or not opt.state[b]
    np.testing.assert_array_equal(to_np(a.grad), [1.0, -2.0, 3.0])  # the L2 term never touches .grad


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adam"])
def test_steady_state_step_allocates_no_parameter_sized_arrays(name: str) -> None:
    """After the first step (state and scratch allocated) a step works in place: peak allocation
    stays far below the size of one parameter (a temporary per operation would be 4 MB)."""
    p = minidl.zeros(1000, 1000, device=DEVICE, requires_grad=True)
    p.grad = minidl.randn(1000, 1000, device=DEVICE)
    opt = getattr(optim, name)([p], lr=0.01, **({"momentum": 0.9} if name != "Adam" else {"amsgrad": True}))
    opt.step()
    tracemalloc.start()
    opt.step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < p.array.nbytes // 10, f"{name}.step allocated {peak} bytes at peak"


@pytest.mark.parametrize(("factory", "message"), [
    (lambda p: optim.SGD(p, lr=-0.1), "invalid lr -0.1"),
    (lambda p: optim.SGD(p, momentum=-1), "invalid momentum -1"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "Nesterov momentum requires"),
    (lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires"),
    (lambda p: optim.RMSprop(p, alpha=-0.5), "invalid alpha -0.5"),
    (lambda p: optim.RMSprop(p, eps=-1e-8), "invalid eps"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), r"betas\[0\]\) 1.0: expected in \[0.0, 1.0\)"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), r"betas\[1\]\) -0.1"),
    (lambda p: optim.Adam(p, betas=(0.9,)), "betas must be a pair"),
    (lambda p: optim.AdamW(p, weight_decay=-0.01), "invalid weight_decay -0.01"),
    (lambda p: optim.Adam([{"params": p, "lr": -1.0}]), "Adam: invalid lr -1.0"),
    (lambda p: optim.SGD(p + p, lr=0.1), "given twice"),
    (lambda p: optim.SGD([{"params": p}, {"params": p[:1]}], lr=0.1), "given twice"),
    (lambda p: optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda p: optim.SGD([p[0] * 2], lr=0.1), "non-leaf"),
])
def test_bad_hyperparameters_and_params_raise_value_error(factory: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        factory([md(np.ones(2), True), md(np.ones(3), True)])


@pytest.mark.parametrize(("factory", "message"), [
    (lambda p: optim.SGD(p[0], lr=0.1), "wrap it in a list"),
    (lambda p: optim.SGD(set(p), lr=0.1), "not a set"),
    (lambda p: optim.SGD([np.ones(2)], lr=0.1), "parameter 0 is a ndarray"),
    (lambda p: optim.SGD(p, lr="0.1"), "lr must be a number"),
    (lambda p: optim.SGD(p, lr=0.1).add_param_group(p), "param_group must be a dict"),
])
def test_bad_param_types_raise_type_error(factory: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        factory([md(np.ones(2), True), md(np.ones(3), True)])


def test_gradient_of_wrong_shape_is_a_clear_error() -> None:
    p = md(np.ones(3), True)
    p.grad = md(np.ones(4))
    with pytest.raises(RuntimeError, match=r"gradient \(4,\) minidl.float64 .* parameter \(3,\) minidl.float64"):
        optim.Adam([p]).step()


def test_add_param_group_fills_defaults() -> None:
    a, b = md(np.ones(2), True), md(np.ones(3), True)
    opt = optim.Adam([a], lr=0.01, betas=(0.8, 0.9))
    opt.add_param_group({"params": b, "lr": 0.5})
    assert opt.param_groups[1]["params"] == [b]
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["betas"] == (0.8, 0.9)
    assert opt.state_dict()["param_groups"][1]["params"] == [1]
