"""Optimizer input checks (issue 11): NaN hyperparameters and state dicts of another model.

NaN fails every comparison, so a check written ``value < low`` lets it through and one step
turns the model into NaN; every range check must refuse it (PyTorch refuses it for lr, betas,
eps, weight_decay, alpha and rho of most optimizers, not SGD's; minidl refuses it everywhere).  A state
dict whose moment buffers have another shape must be refused by ``load_state_dict`` before it
changes anything, so a failed load leaves the optimizer exactly as it was.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
import torch

import minidl
from minidl import optim
from minidl.optim.lr_scheduler import ReduceLROnPlateau

NAN = float("nan")

# (optimizer, keyword arguments with one NaN, whether torch.optim refuses the same call)
NAN_CASES = [
    ("Adam", {"lr": NAN}, True), ("Adam", {"betas": (NAN, 0.999)}, True), ("Adam", {"betas": (0.9, NAN)}, True),
    ("Adam", {"eps": NAN}, True), ("Adam", {"weight_decay": NAN}, True),
    ("AdamW", {"lr": NAN}, True), ("AdamW", {"weight_decay": NAN}, True),
    ("SGD", {"lr": NAN}, False), ("SGD", {"lr": 0.1, "momentum": NAN}, False),
    ("SGD", {"lr": 0.1, "weight_decay": NAN}, False), ("SGD", {"lr": 0.1, "dampening": NAN}, False),
    ("RMSprop", {"lr": NAN}, True), ("RMSprop", {"alpha": NAN}, True), ("RMSprop", {"eps": NAN}, True),
    ("RMSprop", {"momentum": NAN}, True), ("RMSprop", {"weight_decay": NAN}, True),
    ("Adagrad", {"lr": NAN}, True), ("Adagrad", {"lr_decay": NAN}, True), ("Adagrad", {"eps": NAN}, True),
    ("Adagrad", {"weight_decay": NAN}, True), ("Adagrad", {"initial_accumulator_value": NAN}, True),
    ("Adadelta", {"lr": NAN}, True), ("Adadelta", {"rho": NAN}, True), ("Adadelta", {"eps": NAN}, True),
    ("Adadelta", {"weight_decay": NAN}, True),
    ("LBFGS", {"lr": NAN}, True), ("LBFGS", {"tolerance_grad": NAN}, False),
    ("LBFGS", {"tolerance_change": NAN}, False),
]


def torch_refuses(name: str, kwargs: dict[str, Any]) -> bool:
    try:
        getattr(torch.optim, name)([torch.zeros(3, requires_grad=True)], **kwargs)
    except ValueError:
        return True
    return False


@pytest.mark.parametrize(("name", "kwargs", "torch_raises"), NAN_CASES)
def test_nan_fails_every_hyperparameter_check(name: str, kwargs: dict[str, Any], torch_raises: bool) -> None:
    with pytest.raises(ValueError, match=rf"{name}: invalid .*nan"):
        getattr(optim, name)([minidl.zeros(3, requires_grad=True)], **kwargs)
    assert torch_refuses(name, kwargs) == torch_raises  # the table says where PyTorch 2.13 lets NaN through


def test_nan_learning_rate_in_an_added_group() -> None:
    opt = optim.SGD([minidl.zeros(3, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="SGD: invalid lr nan"):
        opt.add_param_group({"params": [minidl.zeros(2, requires_grad=True)], "lr": NAN})
    assert len(opt.param_groups) == 1


def test_nan_plateau_factor() -> None:
    opt = optim.SGD([minidl.zeros(3, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="ReduceLROnPlateau: factor should be < 1.0, got nan"):
        ReduceLROnPlateau(opt, factor=NAN)


# ---------------------------------------------------------------------------- state dicts
LOAD_CASES = [("Adam", {}, "exp_avg"), ("Adam", {"amsgrad": True}, "exp_avg"),
              ("SGD", {"lr": 0.1, "momentum": 0.9}, "momentum_buffer"),
              ("RMSprop", {"centered": True, "momentum": 0.5}, "square_avg"),
              ("Adagrad", {}, "sum"), ("Adadelta", {}, "square_avg")]


def stepped(name: str, kwargs: dict[str, Any], shapes: list[tuple[int, ...]], steps: int = 1) -> Any:
    params = [minidl.tensor(np.arange(np.prod(s), dtype=np.float32).reshape(s) / 7, requires_grad=True)
              for s in shapes]
    opt = getattr(optim, name)(params, **kwargs)
    for _ in range(steps):
        for p in params:
            p.grad = minidl.ones(*p.shape)
        opt.step()
    return opt


def snapshot(opt: Any) -> dict[str, Any]:
    """The optimizer's state dict with every tensor as a NumPy copy (to compare before/after)."""
    sd = opt.state_dict()
    state = {k: {n: v.numpy().copy() if isinstance(v, minidl.Tensor) else v for n, v in s.items()}
             for k, s in sd["state"].items()}
    return {"state": state, "param_groups": copy.deepcopy(sd["param_groups"])}


def assert_same_snapshot(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["param_groups"] == b["param_groups"] and a["state"].keys() == b["state"].keys()
    for k in a["state"]:
        for n, v in a["state"][k].items():
            assert np.array_equal(v, b["state"][k][n]), (k, n)


@pytest.mark.parametrize(("name", "kwargs", "first_key"), LOAD_CASES)
def test_load_state_dict_of_another_shape_changes_nothing(name: str, kwargs: dict[str, Any], first_key: str) -> None:
    other = stepped(name, {**kwargs, "lr": 0.5}, [(2, 3), (3, 4)])
    opt = stepped(name, kwargs, [(2, 3), (4, 3)], steps=2)
    before = snapshot(opt)
    with pytest.raises(ValueError, match=rf"{name}.load_state_dict: state\[1\]\['{first_key}'\] has shape "
                                         r"\(3, 4\), but parameter 1 has shape \(4, 3\).*nothing was loaded"):
        opt.load_state_dict(other.state_dict())
    assert_same_snapshot(snapshot(opt), before)  # lr, step counts and moments as they were
    params = opt.param_groups[0]["params"]
    for p in params:
        p.grad = minidl.ones(*p.shape)
    opt.step()  # the optimizer still works, and its step counter moved by exactly one
    if "step" in before["state"][1]:
        assert opt.state[params[1]]["step"] == before["state"][1]["step"] + 1


def test_lbfgs_load_state_dict_of_another_size_changes_nothing() -> None:
    def run(opt: Any, params: list[minidl.Tensor]) -> None:
        def closure() -> minidl.Tensor:
            opt.zero_grad()
            loss = sum(((p - 1) ** 2).sum() for p in params)
            loss.backward()
            return loss
        opt.step(closure)

    small = [minidl.zeros(2, 3, requires_grad=True)]
    large = [minidl.zeros(4, 3, requires_grad=True)]
    other, opt = optim.LBFGS(small, max_iter=2), optim.LBFGS(large, max_iter=2)
    run(other, small)
    run(opt, large)
    before = snapshot(opt)
    with pytest.raises(ValueError, match=r"LBFGS.load_state_dict: state\[0\]\['d'\] has shape \(6,\), but the "
                                         r"parameters have 12 elements in all"):
        opt.load_state_dict(other.state_dict())
    assert before.keys() == snapshot(opt).keys()
    run(opt, large)
