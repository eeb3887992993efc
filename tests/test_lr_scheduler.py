"""Learning-rate schedulers against torch.optim.lr_scheduler: equal lr sequences over many steps."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from helpers import md, th

from minidl import optim
from minidl.optim import lr_scheduler

STEPS = 120
LR_TOL = 1e-12


def optimizers(lrs: tuple[float, ...] = (0.1, 0.03)) -> tuple[optim.SGD, torch.optim.SGD]:
    """A minidl and a torch SGD, one parameter group per learning rate."""
    m = optim.SGD([{"params": [md(np.ones(2), True)], "lr": lr} for lr in lrs], lr=lrs[0])
    t = torch.optim.SGD([{"params": [th(np.ones(2), True)], "lr": lr} for lr in lrs], lr=lrs[0])
    return m, t


def run(scheduler: Any, opt: Any, steps: int, metrics: list[float] | None = None) -> list[list[float]]:
    """Step the optimizer then the scheduler ``steps`` times; the lrs the optimizer held at each step."""
    lrs = [[g["lr"] for g in opt.param_groups]]
    for i in range(steps):
        opt.step()
        scheduler.step(*([] if metrics is None else [metrics[i]]))
        lrs.append([g["lr"] for g in opt.param_groups])
        assert scheduler.get_last_lr() == lrs[-1]
    return lrs


def assert_same_sequence(m_lrs: list[list[float]], t_lrs: list[list[float]]) -> None:
    assert len(m_lrs) == len(t_lrs)
    for epoch, (m, t) in enumerate(zip(m_lrs, t_lrs)):
        assert np.allclose(m, t, rtol=LR_TOL, atol=0), f"epoch {epoch}: minidl {m} != torch {t}"


class Halving:
    """A callable object (its attributes are saved in LambdaLR's state dict)."""

    def __init__(self, every: int) -> None:
        self.every = every

    def __call__(self, epoch: int) -> float:
        return 0.5 ** (epoch // self.every)


SCHEDULES: list[tuple[str, Callable[[Any], dict[str, Any]]]] = [
    ("StepLR", lambda _: {"step_size": 7, "gamma": 0.5}),
    ("StepLR", lambda _: {"step_size": 1}),
    ("ExponentialLR", lambda _: {"gamma": 0.97}),
    ("CosineAnnealingLR", lambda _: {"T_max": 10, "eta_min": 0.001}),  # many cycles: the 0/0 branch
    ("CosineAnnealingLR", lambda _: {"T_max": 200}),
    ("LambdaLR", lambda _: {"lr_lambda": lambda e: 0.95**e}),
    ("LambdaLR", lambda _: {"lr_lambda": [lambda e: 1 / (1 + e), Halving(10)]}),
]


@pytest.mark.parametrize(("name", "kwargs"), SCHEDULES)
def test_lr_sequence_matches_torch(name: str, kwargs: Callable[[Any], dict[str, Any]]) -> None:
    m_opt, t_opt = optimizers()
    m_sched = getattr(lr_scheduler, name)(m_opt, **kwargs(None))
    t_sched = getattr(torch.optim.lr_scheduler, name)(t_opt, **kwargs(None))
    assert m_sched.last_epoch == t_sched.last_epoch == 0
    assert m_sched.base_lrs == t_sched.base_lrs
    assert_same_sequence(run(m_sched, m_opt, STEPS), run(t_sched, t_opt, STEPS))
    assert m_sched.last_epoch == t_sched.last_epoch == STEPS


# (kwargs, scripted validation losses): improvements, plateaus, noise below the threshold
LOSSES = [1.0, 0.9, 0.8, 0.8, 0.8, 0.8, 0.79999, 0.7, 0.71, 0.72, 0.73, 0.69, 0.69, 0.69, 0.69, 0.5,
          0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
PLATEAUS = [
    ({}, LOSSES * 2),
    ({"patience": 2, "factor": 0.5}, LOSSES),
    ({"patience": 0, "factor": 0.5, "cooldown": 2, "min_lr": 0.01}, LOSSES),
    ({"patience": 1, "factor": 0.3, "min_lr": [0.02, 0.001]}, LOSSES),
    ({"mode": "max", "patience": 1, "threshold": 0.05, "threshold_mode": "abs"}, [-x for x in LOSSES]),
    ({"mode": "max", "patience": 2, "threshold": 0.1}, [1 - x for x in LOSSES]),
    ({"mode": "min", "patience": 1, "threshold": 0.05, "threshold_mode": "abs", "eps": 0.05}, LOSSES),
]


@pytest.mark.parametrize(("kwargs", "losses"), PLATEAUS)
def test_reduce_lr_on_plateau_matches_torch(kwargs: dict[str, Any], losses: list[float]) -> None:
    m_opt, t_opt = optimizers()
    m_sched = lr_scheduler.ReduceLROnPlateau(m_opt, **kwargs)
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    m_lrs, t_lrs = run(m_sched, m_opt, len(losses), losses), run(t_sched, t_opt, len(losses), losses)
    assert_same_sequence(m_lrs, t_lrs)
    assert m_lrs[-1] != m_lrs[0], "the scripted losses should reduce the learning rate at least once"
    assert (m_sched.best, m_sched.num_bad_epochs, m_sched.cooldown_counter) == \
        (t_sched.best, t_sched.num_bad_epochs, t_sched.cooldown_counter)


def test_reduce_lr_on_plateau_accepts_a_tensor_metric() -> None:
    m_opt, _ = optimizers()
    sched = lr_scheduler.ReduceLROnPlateau(m_opt, patience=0)
    sched.step(md(np.array(1.0)))
    sched.step(md(np.array(2.0)))
    assert sched.get_last_lr() == pytest.approx([0.01, 0.003])


@pytest.mark.parametrize(("name", "kwargs"), [
    *SCHEDULES,
    ("ReduceLROnPlateau", lambda _: {"patience": 1, "cooldown": 1, "factor": 0.5}),
])
def test_state_dict_round_trip_mid_run(name: str, kwargs: Callable[[Any], dict[str, Any]]) -> None:
    """Save optimizer and scheduler at epoch 40; fresh objects that load them continue identically."""
    metrics = LOSSES * 4 if name == "ReduceLROnPlateau" else None
    opt, _ = optimizers()
    sched = getattr(lr_scheduler, name)(opt, **kwargs(None))
    run(sched, opt, 40, metrics)
    saved_opt, saved_sched = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
    expected = run(sched, opt, 60, metrics and metrics[40:])

    new_opt, _ = optimizers((5.0, 7.0))
    new_sched = getattr(lr_scheduler, name)(new_opt, **kwargs(None))
    new_opt.load_state_dict(saved_opt)
    new_sched.load_state_dict(saved_sched)
    assert run(new_sched, new_opt, 60, metrics and metrics[40:]) == expected


def test_lambda_lr_state_dict_saves_callable_objects_only() -> None:
    opt, _ = optimizers()
    halving = Halving(10)
    sched = lr_scheduler.LambdaLR(opt, [lambda e: 1.0, halving])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, {"every": 10}]
    assert "optimizer" not in state
    halving.every = 3
    sched.load_state_dict(state)
    assert halving.every == 10


def test_scheduler_records_initial_lr_and_resumes_from_last_epoch() -> None:
    m_opt, t_opt = optimizers()
    lr_scheduler.StepLR(m_opt, step_size=3)
    torch.optim.lr_scheduler.StepLR(t_opt, step_size=3)
    assert [g["initial_lr"] for g in m_opt.param_groups] == [0.1, 0.03]
    resumed = lr_scheduler.CosineAnnealingLR(m_opt, T_max=10, last_epoch=4)
    t_resumed = torch.optim.lr_scheduler.CosineAnnealingLR(t_opt, T_max=10, last_epoch=4)
    assert_same_sequence(run(resumed, m_opt, 30), run(t_resumed, t_opt, 30))


@pytest.mark.parametrize(("factory", "error", "message"), [
    (lambda o: lr_scheduler.StepLR("sgd", 3), TypeError, "expected an Optimizer, got str"),
    (lambda o: lr_scheduler.StepLR(o, 0), ValueError, "step_size must be a positive integer, got 0"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError, "T_max must be a positive integer"),
    (lambda o: lr_scheduler.LambdaLR(o, [lambda e: 1.0]), ValueError, "expected 2 lr_lambdas"),
    (lambda o: lr_scheduler.LambdaLR(o, 0.5), TypeError, "lr_lambda must be callable"),
    (lambda o: lr_scheduler.ExponentialLR(o, 0.9, last_epoch=3), KeyError, "initial_lr"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor should be < 1.0"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="lowest"), ValueError, "mode 'lowest' is unknown"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="x"), ValueError, "threshold mode 'x'"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "expected 2 min_lrs"),
])
def test_bad_arguments_raise_clear_errors(factory: Any, error: type, message: str) -> None:
    opt, _ = optimizers()
    with pytest.raises(error, match=message):
        factory(opt)


def test_cosine_annealing_follows_the_closed_form_within_one_cycle() -> None:
    opt, _ = optimizers((0.1,))
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=20, eta_min=0.01)
    lrs = run(sched, opt, 20)
    closed = [0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * e / 20)) / 2 for e in range(21)]
    assert np.allclose([lr[0] for lr in lrs], closed, rtol=1e-12, atol=0)
