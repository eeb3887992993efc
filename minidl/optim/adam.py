"""Adam (with L2 or decoupled weight decay, AMSGrad) and AdamW (``torch.optim.Adam``, ``torch.optim.AdamW``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from minidl import backend
from minidl.autograd import Tensor
from minidl.optim.optimizer import Array, Optimizer, ParamGroup, lerp_


class Adam(Optimizer):
    r"""Adam, step t by step t as ``torch.optim.Adam`` (θ: parameter, λ: weight_decay, β1, β2: betas)::

        g ← ∇θ  (−∇θ if maximize)
        θ ← θ (1 − lr λ)                    if decoupled_weight_decay (AdamW)
        g ← g + λ θ                         otherwise, if λ ≠ 0 (L2: the same as a (λ/2)||θ||² loss)
        m ← β1 m + (1 − β1) g               (exp_avg)
        v ← β2 v + (1 − β2) g²              (exp_avg_sq)
        v ← max(v_max, v)                   if amsgrad (max_exp_avg_sq keeps the maximum)
        θ ← θ − lr (m / (1 − β1^t)) / (√(v / (1 − β2^t)) + eps)

    :meth:`_update` is these lines; :meth:`_update_in_place` (the default, ``foreach=None``) folds
    the bias corrections into two scalars, so the last line costs three passes, all in place::

        θ ← θ − [lr √(1 − β2^t) / (1 − β1^t)] · m / (√v + eps √(1 − β2^t))

    State per parameter: ``'step'`` (t, an int), ``'exp_avg'``, ``'exp_avg_sq'`` and, with
    amsgrad, ``'max_exp_avg_sq'``.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, decoupled_weight_decay: bool = False) -> None:
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                  "amsgrad": amsgrad, "foreach": foreach, "maximize": maximize,
                                  "decoupled_weight_decay": decoupled_weight_decay})

    def _check_group(self, group: ParamGroup) -> None:
        for name in ("lr", "eps", "weight_decay"):
            self._check_range(name, group[name])
        betas = group["betas"]
        if len(betas) != 2:
            raise ValueError(f"{self._name}: betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            self._check_range(f"beta parameter at index {i} (betas[{i}])", beta, high=1.0)

    def _init_state(self, p: Tensor, state: dict[str, Any], group: ParamGroup) -> None:
        """Zero moments at the first step; then t ← t + 1."""
        if not state:
            state["step"] = 0
            state["exp_avg"] = self._zeros_like(p)
            state["exp_avg_sq"] = self._zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = self._zeros_like(p)
        state["step"] += 1

    def _update(self, p: Tensor, state: dict[str, Any], group: ParamGroup) -> None:
        """The class docstring's update, line for line (``x[...] = ...`` writes into a state array)."""
        self._init_state(p, state, group)
        xp, t = backend.xp_of(p.array), state["step"]
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        decoupled = group["decoupled_weight_decay"]
        if decoupled:
            p.array *= 1 - lr * weight_decay
        g = self._grad(p, 0.0 if decoupled else weight_decay, group["maximize"])
        m, v = state["exp_avg"].array, state["exp_avg_sq"].array
        m[...] = beta1 * m + (1 - beta1) * g
        v[...] = beta2 * v + (1 - beta2) * g * g
        if group["amsgrad"]:
            v_max = state["max_exp_avg_sq"].array
            v_max[...] = xp.maximum(v_max, v)
            v = v_max
        p.array -= lr * (m / (1 - beta1**t)) / (xp.sqrt(v / (1 - beta2**t)) + eps)

    def _update_in_place(self, p: Tensor, state: dict[str, Any], group: ParamGroup) -> None:
        """:meth:`_update` with no temporaries: ``out=`` into the state and one reused scratch array."""
        self._init_state(p, state, group)
        lr, weight_decay, decoupled = group["lr"], group["weight_decay"], group["decoupled_weight_decay"]
        if decoupled and weight_decay != 0:
            p.array *= 1.0 - lr * weight_decay
        g = self._effective_grad(p, 0.0 if decoupled else weight_decay, group["maximize"])
        scratch = self._buffer(p)
        v = self._update_moments(g, state, group, scratch)
        self._apply_step(p, state["exp_avg"].array, v, state["step"], group, scratch)

    @staticmethod
    def _update_moments(g: Array, state: dict[str, Any], group: ParamGroup, scratch: Array) -> Array:
        """m ← β1 m + (1 − β1) g (torch's lerp), v ← β2 v + (1 − β2) g²; return v (or its running max)."""
        xp = backend.xp_of(g)
        beta1, beta2 = group["betas"]
        lerp_(state["exp_avg"].array, g, 1.0 - beta1, scratch)
        exp_avg_sq = state["exp_avg_sq"].array
        exp_avg_sq *= beta2
        xp.multiply(g, 1.0 - beta2, out=scratch)  # (1 − β2) g g, in torch's addcmul order
        scratch *= g
        exp_avg_sq += scratch
        if not group["amsgrad"]:
            return exp_avg_sq
        max_exp_avg_sq = state["max_exp_avg_sq"].array
        return xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)

    @staticmethod
    def _apply_step(p: Tensor, m: Array, v: Array, step: int, group: ParamGroup, scratch: Array) -> None:
        """θ ← θ − [lr √(1 − β2^t) / (1 − β1^t)] · m / (√v + eps √(1 − β2^t)), in place."""
        xp = backend.xp_of(m)
        beta1, beta2 = group["betas"]
        bias_correction2_sqrt = (1.0 - beta2**step) ** 0.5
        step_size = group["lr"] * bias_correction2_sqrt / (1.0 - beta1**step)
        xp.sqrt(v, out=scratch)
        scratch += group["eps"] * bias_correction2_sqrt
        xp.divide(m, scratch, out=scratch)
        scratch *= step_size
        p.array -= scratch


class AdamW(Adam):
    r"""AdamW (``torch.optim.AdamW``): Adam with decoupled weight decay, default λ = 1e-2::

        θ ← θ (1 − lr λ)   before the Adam step (the decay never enters m or v)
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         decoupled_weight_decay=True)
