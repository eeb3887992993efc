"""Adadelta: step sizes from running averages of squared gradients and squared steps (``torch.optim.Adadelta``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from minidl import backend
from minidl.autograd import Tensor
from minidl.optim.optimizer import Optimizer, ParamGroup


class Adadelta(Optimizer):
    r"""Adadelta, step by step as ``torch.optim.Adadelta`` (θ: parameter, ρ: rho, λ: weight_decay)::

        g ← ∇θ  (−∇θ if maximize);   g ← g + λ θ      (if weight_decay ≠ 0)
        v ← ρ v + (1 − ρ) g²                          (square_avg)
        Δ ← √(u + eps) / √(v + eps) · g
        u ← ρ u + (1 − ρ) Δ²                          (acc_delta)
        θ ← θ − lr Δ

    The step Δ carries the units of θ (the ratio of two root-mean-squares), so the default
    ``lr`` is 1.  State per parameter: ``'step'`` (an int), ``'square_avg'`` and ``'acc_delta'``,
    both starting at zero.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, *, maximize: bool = False) -> None:
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                                  "maximize": maximize})

    def _check_group(self, group: ParamGroup) -> None:
        for name in ("lr", "eps", "weight_decay"):
            self._check_range(name, group[name])
        self._check_range("rho", group["rho"])
        if group["rho"] > 1:
            raise ValueError(f"Adadelta: invalid rho {group['rho']!r}: expected in [0, 1]")

    def _update(self, p: Tensor, state: dict[str, Any], group: ParamGroup) -> None:
        xp = backend.xp_of(p.array)
        if not state:
            state.update(step=0, square_avg=Tensor(xp.zeros_like(p.array)), acc_delta=Tensor(xp.zeros_like(p.array)))
        state["step"] += 1
        rho, eps = group["rho"], group["eps"]
        g = -p.grad.array if group["maximize"] else p.grad.array
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p.array
        v, u = state["square_avg"].array, state["acc_delta"].array
        v[...] = rho * v + (1 - rho) * g * g
        delta = xp.sqrt(u + eps) / xp.sqrt(v + eps) * g
        u[...] = rho * u + (1 - rho) * delta * delta
        p.array -= group["lr"] * delta
