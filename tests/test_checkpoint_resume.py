"""Checkpoint and resume: a run interrupted after k epochs and resumed from its checkpoint in
fresh objects ends BIT-IDENTICAL to the uninterrupted run.

The checkpoint holds what a training loop needs: model, optimizer and scheduler state dicts,
the epoch and the random generator's state (dropout masks and input noise draw from it), written
with ``minidl.save`` and read back with ``minidl.load``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import DEVICE, md, mlp_problem, to_np

import minidl
from minidl import nn, optim
from minidl.optim import lr_scheduler

EPOCHS, INTERRUPT_AT = 6, 3

# (optimizer factory, scheduler factory): every scheduler kind, with state in both
SETUPS: list[tuple[Callable[[Any], optim.Optimizer], Callable[[optim.Optimizer], Any]]] = [
    (lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True), lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=0.5)),
    (lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
     lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=1e-3)),
    (lambda ps: optim.RMSprop(ps, lr=3e-3, momentum=0.5, centered=True),
     lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=0, factor=0.5)),
    (lambda ps: optim.AdamW(ps, lr=0.01), lambda o: lr_scheduler.ExponentialLR(o, gamma=0.8)),
]


class Run:
    """Model, optimizer and scheduler built from a seed; trains epoch by epoch."""

    def __init__(self, setup: tuple[Callable[..., Any], Callable[..., Any]], seed: int) -> None:
        minidl.manual_seed(seed)
        self.model = nn.Sequential(nn.Linear(7, 16), nn.Tanh(), nn.Dropout(0.3), nn.Linear(16, 5)).to(DEVICE)
        self.optimizer = setup[0](list(self.model.parameters()))
        self.scheduler = setup[1](self.optimizer)
        self.batches = [(md(x), md(y)) for x, y in mlp_problem(np.float32, seed=1)[1]]
        self.epoch = 0

    def train_epoch(self) -> None:
        """One pass over the batches (dropout and input noise use the RNG), then a scheduler step."""
        total = 0.0
        for x, y in self.batches:
            self.optimizer.zero_grad()
            noisy = x + 0.1 * minidl.randn(*x.shape, device=DEVICE)
            loss = nn.MSELoss()(self.model(noisy), y)
            loss.backward()
            self.optimizer.step()
            total += loss.item()
        if isinstance(self.scheduler, lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(total)
        else:
            self.scheduler.step()
        self.epoch += 1

    def train_until(self, epochs: int) -> None:
        while self.epoch < epochs:
            self.train_epoch()

    def save(self, path: Path) -> None:
        minidl.save({"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                     "scheduler": self.scheduler.state_dict(), "epoch": self.epoch,
                     "rng": minidl.get_rng_state()}, path)

    def resume(self, path: Path, restore_rng: bool = True) -> None:
        checkpoint = minidl.load(path)
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        self.epoch = checkpoint["epoch"]
        if restore_rng:
            minidl.set_rng_state(checkpoint["rng"])

    def weights(self) -> list[np.ndarray]:
        return [to_np(p).copy() for p in self.model.parameters()]


def resumed_run(setup: Any, tmp_path: Path, restore_rng: bool = True) -> Run:
    """Train to INTERRUPT_AT, checkpoint, then resume in fresh objects (other seed, RNG moved on)."""
    first = Run(setup, seed=0)
    first.train_until(INTERRUPT_AT)
    first.save(tmp_path / "checkpoint.npz")
    minidl.randn(100)  # the global generator moves on before the resume
    fresh = Run(setup, seed=123)
    fresh.resume(tmp_path / "checkpoint.npz", restore_rng)
    fresh.train_until(EPOCHS)
    return fresh


@pytest.mark.parametrize("setup", SETUPS)
def test_resumed_run_is_bit_identical_to_uninterrupted_run(setup: Any, tmp_path: Path) -> None:
    uninterrupted = Run(setup, seed=0)
    uninterrupted.train_until(EPOCHS)
    resumed = resumed_run(setup, tmp_path)
    for i, (a, b) in enumerate(zip(resumed.weights(), uninterrupted.weights())):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_array_equal(a, b, err_msg=f"parameter {i}")
    assert resumed.scheduler.get_last_lr() == uninterrupted.scheduler.get_last_lr()
    for key, state in uninterrupted.optimizer.state_dict()["state"].items():
        resumed_state = resumed.optimizer.state_dict()["state"][key]
        for name, value in state.items():
            np.testing.assert_array_equal(to_np(resumed_state[name]), to_np(value), err_msg=name)


def test_the_rng_state_matters(tmp_path: Path) -> None:
    """Without restoring the generator the resumed run differs: the test above can fail."""
    uninterrupted = Run(SETUPS[0], seed=0)
    uninterrupted.train_until(EPOCHS)
    resumed = resumed_run(SETUPS[0], tmp_path, restore_rng=False)
    assert any(not np.array_equal(a, b) for a, b in zip(resumed.weights(), uninterrupted.weights()))
