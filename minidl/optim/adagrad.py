"""Adagrad: per-coordinate step sizes from the sum of squared gradients (``torch.optim.Adagrad``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from minidl import backend
from minidl.autograd import Tensor
from minidl.optim.optimizer import Optimizer, ParamGroup


class Adagrad(Optimizer):
    r"""Adagrad, step t by step t as ``torch.optim.Adagrad`` (θ: parameter, λ: weight_decay, η: lr_decay)::

        g ← ∇θ  (−∇θ if maximize);   g ← g + λ θ      (if weight_decay ≠ 0)
        lr_t ← lr / (1 + (t − 1) η)
        s ← s + g²                                    (sum, starting at initial_accumulator_value)
        θ ← θ − lr_t · g / (√s + eps)

    State per parameter, created with the optimizer (as PyTorch): ``'step'`` (t, an int) and
    ``'sum'``.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *, maximize: bool = False) -> None:
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value, "maximize": maximize})

    def add_param_group(self, param_group: ParamGroup) -> None:
        """Add a group (see :meth:`Optimizer.add_param_group`) and start its parameters' sums."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            xp = backend.xp_of(p.array)
            self.state[p] = {"step": 0, "sum": Tensor(xp.full_like(p.array, group["initial_accumulator_value"]))}

    def _check_group(self, group: ParamGroup) -> None:
        for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            self._check_range(name, group[name])

    def _update(self, p: Tensor, state: dict[str, Any], group: ParamGroup) -> None:
        xp = backend.xp_of(p.array)
        state["step"] += 1
        g = -p.grad.array if group["maximize"] else p.grad.array
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p.array
        lr_t = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"].array
        s += g * g
        p.array -= lr_t * (g / (xp.sqrt(s) + group["eps"]))
