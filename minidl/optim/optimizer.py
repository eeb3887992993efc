"""``Optimizer``: the base class of every optimizer, as ``torch.optim.Optimizer``.

An optimizer holds

* ``param_groups`` -- a list of dicts, each with ``'params'`` (a list of tensors) and that group's
  hyperparameters (``'lr'``, ``'weight_decay'``, ...); a group leaves out what it does not
  override and the constructor's ``defaults`` fill it in;
* ``state`` -- for each parameter, a dict of what the algorithm carries from step to step
  (``'step'``, ``'exp_avg'``, ...; arrays as minidl Tensors), created at the parameter's first step.

``step()`` visits every parameter that has a gradient and calls one of the subclass's two updates,
which change ``p.array`` in place:

* ``_update`` -- the textbook form, the docstring's formula line for line (with temporaries), the
  one to read first; used with ``foreach=False``;
* ``_update_in_place`` -- the same update written with ``out=`` arguments into state arrays and one
  reused scratch array per parameter (:meth:`Optimizer._buffer`): no temporaries, fewer passes
  over memory.  The default (``foreach=None`` or ``True``, PyTorch's name for its faster
  implementation), because it measurably pays: see ``benchmarks/bench_optim.py``.  Only when
  ``weight_decay`` (L2) or ``maximize`` changes the gradient does it need a second array (PyTorch
  allocates one anew every step).  ``tests/test_optim.py`` checks both against ``torch.optim``.

``state_dict()`` has PyTorch's layout, parameters replaced by their position in the groups::

    {'state': {0: {'step': 3, 'exp_avg': Tensor, ...}, 1: {...}},
     'param_groups': [{'lr': 0.001, ..., 'params': [0, 1]}]}
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable
from numbers import Real
from typing import Any

from minidl import backend
from minidl.autograd import Tensor, enable_grad

Array = backend.Array
ParamGroup = dict[str, Any]
StateDict = dict[str, Any]


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad``, ``step``, state dicts.

    Subclasses pass their hyperparameters as ``defaults``, check a group's values in
    ``_check_group`` and update one parameter in ``_update``.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[ParamGroup], defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError(f"{self._name}: params must be an iterable of Tensors or of dicts, "
                            f"got a single Tensor of shape {tuple(params.shape)}; wrap it in a list")
        _check_ordered(self._name, params)
        self.defaults = dict(defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[ParamGroup] = []
        self._buffers: defaultdict[Tensor, dict[str, Array]] = defaultdict(dict)
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self) -> str:
        return type(self).__name__

    # ----------------------------------------------------------------------------- groups
    def add_param_group(self, param_group: ParamGroup) -> None:
        """Add a group of parameters with its own hyperparameters (defaults fill in the rest).

        Raises TypeError for a non-dict group, a set of parameters (its order would change from
        run to run) or a non-Tensor parameter, and ValueError for a non-leaf tensor or a
        parameter that is already optimized (in this group or another one).
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: param_group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{self._name}: param_group has no 'params' entry (keys: {sorted(param_group)})")
        group = {**self.defaults, **param_group, "params": self._param_list(param_group["params"])}
        self._check_group(group)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(group["params"]):
            if id(p) in seen:
                raise ValueError(f"{self._name}: parameter {i} of the new group (shape {tuple(p.shape)}) "
                                 "is given twice: a parameter may appear only once across all groups")
            seen.add(id(p))
        self.param_groups.append(group)

    def _param_list(self, params: Any) -> list[Tensor]:
        """``params`` as a list of leaf tensors, with a clear error for anything else."""
        if isinstance(params, Tensor):
            return [params]
        _check_ordered(self._name, params)
        params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{self._name}: can only optimize Tensors, but parameter {i} is a "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{self._name}: can't optimize a non-leaf Tensor (parameter {i}, "
                                 f"shape {tuple(p.shape)}, made by {p.grad_fn.name})")
        return params

    def _check_group(self, group: ParamGroup) -> None:
        """Raise ValueError for an invalid hyperparameter of ``group`` (subclasses override)."""

    def _check_range(self, name: str, value: Any, low: float = 0.0, high: float | None = None) -> None:
        """``low <= value`` (and ``value < high`` when ``high`` is given), else a clear error.

        Written as ``not (low <= value ...)`` so that NaN, which fails every comparison, fails too.
        """
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{self._name}: {name} must be a number, got {value!r}")
        if not (low <= value and (high is None or value < high)):
            bounds = f"in [{low}, {high})" if high is not None else f">= {low}"
            raise ValueError(f"{self._name}: invalid {name} {value!r}: expected {bounds}")

    # ------------------------------------------------------------------------------ steps
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: drop them (``set_to_none=True``, the default) or fill them with 0."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.array[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return ``closure()``'s loss when given.

        ``closure`` re-evaluates the model (forward, backward) and returns the loss; it runs
        with grad mode on, before the update.  Parameters whose ``.grad`` is None are skipped.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            update = self._update if group.get("foreach") is False else self._update_in_place
            for p in group["params"]:
                if p.grad is not None:
                    self._check_grad(p)
                    _follow_parameter(p, self.state[p])
                    update(p, self.state[p], group)
                    p._version_counter.bump()  # an in-place edit: a graph that saved p can no longer backward
        return loss

    def _check_grad(self, p: Tensor) -> None:
        """The gradient must match its parameter in shape, dtype and device."""
        g = p.grad
        if g.shape != p.shape or g.dtype != p.dtype or g.device != p.device:
            raise RuntimeError(f"{self._name}: gradient {tuple(g.shape)} {g.dtype} on {g.device} does not match "
                               f"its parameter {tuple(p.shape)} {p.dtype} on {p.device}")

    def _update(self, p: Tensor, state: dict[str, Any], group: ParamGroup) -> None:
        """Update ``p.array`` from ``p.grad``, ``state`` and the group's hyperparameters: the textbook form."""
        raise NotImplementedError(f"{self._name}._update")

    def _update_in_place(self, p: Tensor, state: dict[str, Any], group: ParamGroup) -> None:
        """The same update as :meth:`_update` without temporaries (the default path); subclasses override."""
        self._update(p, state, group)

    def _buffer(self, p: Tensor, name: str = "scratch") -> Array:
        """A work array shaped like ``p``, allocated once per (parameter, name) and reused.

        Its contents are garbage on entry; it is not part of the state (nothing to save).
        """
        buffers = self._buffers[p]
        buf = buffers.get(name)
        if buf is None or buf.shape != p.shape or buf.dtype != p.dtype or type(buf) is not type(p.array):
            buf = buffers[name] = backend.xp_of(p.array).empty_like(p.array)
        return buf

    @staticmethod
    def _grad(p: Tensor, weight_decay: float, maximize: bool) -> Array:
        """g = (−∇θ if maximize else ∇θ) + λθ: the gradient the textbook updates use (``p.grad`` unchanged)."""
        g = -p.grad.array if maximize else p.grad.array
        return g + weight_decay * p.array if weight_decay else g

    def _effective_grad(self, p: Tensor, weight_decay: float, maximize: bool) -> Array:
        """g = (-grad if maximize else grad) + weight_decay * p: torch's order, L2 folded into g.

        Returns ``p.grad``'s own array when there is nothing to add (no copy), otherwise writes
        into a second work array (``p.grad`` itself is never changed, as in PyTorch).
        """
        grad = p.grad.array
        if not weight_decay and not maximize:
            return grad
        xp = backend.xp_of(grad)
        out = self._buffer(p, "grad")
        if not weight_decay:
            return xp.negative(grad, out=out)
        xp.multiply(p.array, weight_decay, out=out)
        if maximize:
            out -= grad
        else:
            out += grad
        return out

    @staticmethod
    def _zeros_like(p: Tensor) -> Tensor:
        """A state tensor of zeros shaped like ``p`` (same dtype and device)."""
        return Tensor(backend.xp_of(p.array).zeros_like(p.array))

    # ------------------------------------------------------------------------ state dicts
    def state_dict(self) -> StateDict:
        """The optimizer's state in PyTorch's layout, parameters replaced by integer ids.

        ``'state'`` maps a parameter's position (counting through the groups in order) to its
        state dict; ``'param_groups'`` lists each group's hyperparameters with ``'params'`` as
        those positions.  As in PyTorch, the state tensors are the live ones, not copies: save
        the dict (``minidl.save``) before the next ``step``.
        """
        ids = {id(p): i for i, p in enumerate(p for g in self.param_groups for p in g["params"])}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [ids[id(p)] for p in g["params"]]}
                  for g in self.param_groups]
        state = {ids[id(p)]: dict(s) for p, s in self.state.items() if s}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: StateDict) -> None:
        """Restore a dict made by :meth:`state_dict` (for an optimizer with the same groups).

        Hyperparameters come from the dict (learning rates included); state tensors are copied
        to each parameter's dtype and device, so the loaded optimizer never shares arrays with
        the one that saved them.  Raises ValueError when the groups do not match or a state tensor
        has the wrong shape, before anything is changed: a failed load leaves the optimizer as it was.
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{self._name}.load_state_dict: the state dict has {len(saved_groups)} parameter "
                             f"groups, the optimizer has {len(self.param_groups)}")
        saved_ids: list[Any] = []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{self._name}.load_state_dict: group {i} has {len(saved['params'])} parameters "
                                 f"in the state dict but {len(group['params'])} in the optimizer")
            saved_ids.extend(saved["params"])
        params = dict(zip(saved_ids, (p for g in self.param_groups for p in g["params"])))
        unknown = sorted(set(state_dict["state"]) - set(params), key=str)
        if unknown:
            raise ValueError(f"{self._name}.load_state_dict: state for unknown parameter ids {unknown} "
                             f"(the groups list ids {saved_ids})")
        for key, saved_state in state_dict["state"].items():
            self._check_saved_state(key, params[key], saved_state)
        self.state = defaultdict(dict)
        for key, saved_state in state_dict["state"].items():
            p = params[key]
            self.state[p] = {k: _state_value(v, p) for k, v in saved_state.items()}
        self.param_groups = [{**copy.deepcopy({k: v for k, v in saved.items() if k != "params"}),
                              "params": group["params"]}
                             for group, saved in zip(self.param_groups, saved_groups)]

    def _check_saved_state(self, key: Any, p: Tensor, saved: dict[str, Any]) -> None:
        """A saved state tensor (a moment, a buffer) must have the shape of its parameter ``p``.

        ValueError naming the parameter id ``key``, the state entry and both shapes; ``'step'``
        (a count, possibly a 0-d tensor from PyTorch) is exempt.  LBFGS, whose state is flat
        vectors over all parameters, overrides this.
        """
        for name, value in saved.items():
            if isinstance(value, Tensor) and name != "step" and value.shape != p.shape:
                raise ValueError(f"{self._name}.load_state_dict: state[{key!r}][{name!r}] has shape "
                                 f"{tuple(value.shape)}, but parameter {key!r} has shape {tuple(p.shape)} "
                                 "(a state dict of another model?); nothing was loaded")

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {key}: {group[key]}" for key in sorted(group) if key != "params")
        return "\n".join([*lines, ")"])


def _check_ordered(optimizer: str, params: Any) -> None:
    """Parameters come in a list (or another ordered iterable), never in a set."""
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"{optimizer}: parameters must be an ordered collection (a list), not a set: "
                        "the order of a set changes between runs, and with it the state dict")


def _follow_parameter(p: Tensor, state: dict[str, Any]) -> None:
    """Move/cast ``p``'s state tensors to where ``p`` is now, after ``model.to(...)`` between steps.

    A model moved to another device (or float dtype) under its optimizer keeps its parameter
    objects but not their arrays; the state made before the move follows them here, so the
    next step goes on with the same moments instead of failing inside a kernel.
    """
    for key, value in state.items():
        if isinstance(value, Tensor) and (value.device != p.device or
                                          (value.dtype != p.dtype and backend.is_floating(value.dtype))):
            state[key] = _state_value(value, p)


def _state_value(value: Any, p: Tensor) -> Any:
    """A copy of a saved state value; tensors moved to ``p``'s device (and float dtype)."""
    if not isinstance(value, Tensor):
        return copy.deepcopy(value)
    data = backend.to_device(value.array, p.device)
    floating = backend.is_floating(p.dtype) and backend.is_floating(data.dtype)
    return Tensor(data.astype(p.dtype if floating else data.dtype))  # astype always copies


def lerp_(start: Array, end: Array, weight: float, scratch: Array) -> None:
    """``start += weight * (end - start)`` in place, rounded exactly as ``torch.lerp_``.

    PyTorch evaluates ``start + w (end - start)`` for |w| < 0.5 and ``end - (end - start)(1 - w)``
    otherwise (so w = 1 gives ``end`` exactly).  ``scratch`` is overwritten.
    """
    xp = backend.xp_of(start)
    xp.subtract(end, start, out=scratch)
    if abs(weight) < 0.5:
        scratch *= weight
        start += scratch
    else:
        scratch *= 1.0 - weight
        xp.subtract(end, scratch, out=start)
