"""Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay (``torch.optim.SGD``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from minidl import backend
from minidl.autograd import Tensor
from minidl.optim.optimizer import Array, Optimizer, ParamGroup


class SGD(Optimizer):
    r"""SGD, step by step as ``torch.optim.SGD`` (θ: parameter, λ: weight_decay, μ: momentum, τ: dampening)::

        g ← ∇θ                     (−∇θ if maximize)
        g ← g + λ θ                (if weight_decay ≠ 0)
        if μ ≠ 0:
            b ← g                  at the first step (no dampening then)
            b ← μ b + (1 − τ) g    afterwards
            g ← g + μ b  if nesterov  else  g ← b
        θ ← θ − lr g

    State per parameter: ``'momentum_buffer'`` (only when μ ≠ 0).  Nesterov needs μ > 0 and τ = 0.
    :meth:`_update` is these lines; :meth:`_update_in_place` (the default) the same without temporaries.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                                  "foreach": foreach})

    def _check_group(self, group: ParamGroup) -> None:
        for name in ("lr", "momentum", "weight_decay"):
            self._check_range(name, group[name])
        self._check_range("dampening", group["dampening"], low=float("-inf"))
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: Nesterov momentum requires a momentum > 0 and zero dampening, got "
                             f"momentum={group['momentum']}, dampening={group['dampening']}")

    def _update(self, p: Tensor, state: dict[str, Any], group: ParamGroup) -> None:
        """The class docstring's update, line for line (``b[...] = ...`` writes into the state array)."""
        lr, mu, tau = group["lr"], group["momentum"], group["dampening"]
        g = self._grad(p, group["weight_decay"], group["maximize"])
        if mu != 0:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = Tensor(g.copy())
            else:
                b = state["momentum_buffer"].array
                b[...] = mu * b + (1 - tau) * g
            b = state["momentum_buffer"].array
            g = g + mu * b if group["nesterov"] else b
        p.array -= lr * g

    def _update_in_place(self, p: Tensor, state: dict[str, Any], group: ParamGroup) -> None:
        """:meth:`_update` with no temporaries: ``out=`` into the state and one reused scratch array."""
        xp = backend.xp_of(p.array)
        scratch = self._buffer(p)
        g = self._effective_grad(p, group["weight_decay"], group["maximize"])
        if group["momentum"] != 0:
            g = self._momentum(g, state, group, scratch)
        xp.multiply(g, group["lr"], out=scratch)
        p.array -= scratch

    @staticmethod
    def _momentum(g: Array, state: dict[str, Any], group: ParamGroup, scratch: Array) -> Array:
        """Update the momentum buffer b and return the step direction (b, or g + μ b for Nesterov)."""
        xp = backend.xp_of(g)
        momentum, dampening = group["momentum"], group["dampening"]
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = Tensor(g.copy())  # b ← g at the first step: no dampening
            buf = state["momentum_buffer"].array
        else:
            buf = state["momentum_buffer"].array
            buf *= momentum
            if dampening:
                xp.multiply(g, 1.0 - dampening, out=scratch)
                buf += scratch
            else:
                buf += g
        if not group["nesterov"]:
            return buf
        xp.multiply(buf, momentum, out=scratch)
        scratch += g
        return scratch
