"""RMSprop, plain or centered, with momentum and L2 weight decay (``torch.optim.RMSprop``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from minidl import backend
from minidl.autograd import Tensor
from minidl.optim.optimizer import Array, Optimizer, ParamGroup, lerp_


class RMSprop(Optimizer):
    r"""RMSprop, step by step as ``torch.optim.RMSprop`` (θ: parameter, α: alpha, λ: weight_decay, μ: momentum)::

        g ← ∇θ  (−∇θ if maximize);   g ← g + λ θ          (if weight_decay ≠ 0)
        v ← α v + (1 − α) g²                               (square_avg)
        if centered:  ḡ ← α ḡ + (1 − α) g;  d ← √(v − ḡ²) + eps      (grad_avg)
        else:         d ← √v + eps                        (eps added AFTER the square root)
        if μ > 0:  b ← μ b + g / d;  θ ← θ − lr b         (momentum_buffer)
        else:      θ ← θ − lr g / d

    State per parameter: ``'step'``, ``'square_avg'``, ``'momentum_buffer'`` (if μ > 0) and
    ``'grad_avg'`` (if centered), all starting at zero.  :meth:`_update` is these lines;
    :meth:`_update_in_place` (the default) the same without temporaries.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False) -> None:
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
                                  "momentum": momentum, "centered": centered, "foreach": foreach,
                                  "maximize": maximize})

    def _check_group(self, group: ParamGroup) -> None:
        for name in ("lr", "eps", "momentum", "weight_decay", "alpha"):
            self._check_range(name, group[name])

    def _init_state(self, p: Tensor, state: dict[str, Any], group: ParamGroup) -> None:
        """Zero averages at the first step; then step ← step + 1."""
        if not state:
            state["step"] = 0
            state["square_avg"] = self._zeros_like(p)
            if group["momentum"] > 0:
                state["momentum_buffer"] = self._zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = self._zeros_like(p)
        state["step"] += 1

    def _update(self, p: Tensor, state: dict[str, Any], group: ParamGroup) -> None:
        """The class docstring's update, line for line (``x[...] = ...`` writes into a state array)."""
        self._init_state(p, state, group)
        xp = backend.xp_of(p.array)
        lr, alpha, eps, mu = group["lr"], group["alpha"], group["eps"], group["momentum"]
        g = self._grad(p, group["weight_decay"], group["maximize"])
        v = state["square_avg"].array
        v[...] = alpha * v + (1 - alpha) * g * g
        if group["centered"]:
            g_avg = state["grad_avg"].array
            g_avg[...] = alpha * g_avg + (1 - alpha) * g
            d = xp.sqrt(v - g_avg * g_avg) + eps
        else:
            d = xp.sqrt(v) + eps
        if mu > 0:
            b = state["momentum_buffer"].array
            b[...] = mu * b + g / d
            p.array -= lr * b
        else:
            p.array -= lr * g / d

    def _update_in_place(self, p: Tensor, state: dict[str, Any], group: ParamGroup) -> None:
        """:meth:`_update` with no temporaries: ``out=`` into the state and one reused scratch array."""
        self._init_state(p, state, group)
        xp = backend.xp_of(p.array)
        alpha, scratch = group["alpha"], self._buffer(p)
        g = self._effective_grad(p, group["weight_decay"], group["maximize"])
        square_avg = state["square_avg"].array
        square_avg *= alpha
        xp.multiply(g, 1.0 - alpha, out=scratch)  # (1 − α) g g, in torch's addcmul order
        scratch *= g
        square_avg += scratch
        denom = self._denominator(state, group, g, scratch)
        xp.divide(g, denom, out=scratch)  # g / d
        if group["momentum"] > 0:
            buf = state["momentum_buffer"].array
            buf *= group["momentum"]
            buf += scratch
            xp.multiply(buf, group["lr"], out=scratch)
        else:
            scratch *= group["lr"]
        p.array -= scratch

    @staticmethod
    def _denominator(state: dict[str, Any], group: ParamGroup, g: Array, scratch: Array) -> Array:
        """d = √(v − ḡ²) + eps (centered, updating ḡ first) or √v + eps, written into ``scratch``."""
        xp = backend.xp_of(g)
        square_avg = state["square_avg"].array
        if group["centered"]:
            grad_avg = state["grad_avg"].array
            lerp_(grad_avg, g, 1.0 - group["alpha"], scratch)
            xp.multiply(grad_avg, grad_avg, out=scratch)
            xp.subtract(square_avg, scratch, out=scratch)
            xp.sqrt(scratch, out=scratch)
        else:
            xp.sqrt(square_avg, out=scratch)
        scratch += group["eps"]
        return scratch
