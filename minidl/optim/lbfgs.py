"""L-BFGS with an optional strong-Wolfe line search (``torch.optim.LBFGS``).

L-BFGS treats all parameters as one flat vector θ and steps along ``d = −H g``, where H
approximates the inverse Hessian from the last ``history_size`` pairs (s = step taken,
y = change of gradient) by the two-loop recursion.  Each ``step(closure)`` runs up to
``max_iter`` such iterations, calling ``closure`` (which recomputes the loss and gradients)
whenever it needs f(θ) and ∇f(θ).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, NamedTuple

from minidl import backend
from minidl.autograd import Tensor, enable_grad
from minidl.optim.optimizer import Array, Optimizer, ParamGroup

Objective = Callable[[list[Array], Any, Array], tuple[float, Array]]


class LBFGS(Optimizer):
    r"""L-BFGS, iteration by iteration as ``torch.optim.LBFGS`` (g: the flat gradient, k: iterations so far)::

        stop at once if max|g| ≤ tolerance_grad
        repeat up to max_iter times:
            if k = 0:  d ← −g,  H ← 1,  history empty
            else:      y ← g − g_prev,  s ← t d
                       if y·s > 1e-10:  append (y, s, ρ = 1/(y·s)) to the history (keeping the last
                                        history_size),  H ← (y·s)/(y·y)
                       q ← −g;   for i from newest to oldest:  α_i ← ρ_i s_i·q,  q ← q − α_i y_i
                       r ← H q;  for i from oldest to newest:  β_i ← ρ_i y_i·r,  r ← r + (α_i − β_i) s_i
                       d ← r
            t ← lr · min(1, 1/Σ|g|) if k = 0, else lr
            stop if g·d > −tolerance_change                (d is no descent direction)
            θ ← θ + t d, with t from a strong-Wolfe line search if line_search_fn = "strong_wolfe";
                then f, g ← closure() at the new θ
            stop after max_eval evaluations, or if max|g| ≤ tolerance_grad, max|t d| ≤ tolerance_change
            or |f − f_prev| < tolerance_change

    ``step(closure)`` returns the loss of the first evaluation.  There is a single parameter
    group; the state (under the first parameter, PyTorch's layout) holds ``'func_evals'``,
    ``'n_iter'``, ``'d'``, ``'t'``, ``'old_dirs'`` (the y), ``'old_stps'`` (the s), ``'ro'``,
    ``'H_diag'``, ``'prev_flat_grad'``, ``'prev_loss'`` and ``'al'`` (the α of the last recursion).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, {"lr": lr, "max_iter": max_iter, "max_eval": max_eval,
                                  "tolerance_grad": tolerance_grad, "tolerance_change": tolerance_change,
                                  "history_size": history_size, "line_search_fn": line_search_fn})
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def _check_group(self, group: ParamGroup) -> None:
        for name in ("lr", "tolerance_grad", "tolerance_change"):
            self._check_range(name, group[name])
        for name in ("max_iter", "max_eval", "history_size"):
            if isinstance(group[name], bool) or not isinstance(group[name], int) or group[name] < 1:
                raise ValueError(f"LBFGS: {name} must be a positive integer, got {group[name]!r}")
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {group['line_search_fn']!r}")

    def _check_saved_state(self, key: Any, p: Tensor, saved: dict[str, Any]) -> None:
        """The saved vectors (``'d'``, ``'prev_flat_grad'``, each of ``'old_dirs'``, ``'old_stps'``)
        are flat, one entry per element of all parameters; ValueError otherwise (nothing loaded)."""
        size = sum(q.numel() for q in self._params)
        for name in _Memory.VECTORS:
            value = saved.get(name)
            for i, vector in enumerate(value if isinstance(value, list) else [value]):
                if isinstance(vector, Tensor) and vector.shape != (size,):
                    where = f"state[{key!r}][{name!r}]" + (f"[{i}]" if isinstance(value, list) else "")
                    raise ValueError(f"LBFGS.load_state_dict: {where} has shape {tuple(vector.shape)}, but the "
                                     f"parameters have {size} elements in all, so it should be ({size},); "
                                     "nothing was loaded")

    # ------------------------------------------------------------- the flat parameter vector
    def _flat_grad(self) -> Array:
        """Every parameter's gradient, flattened and concatenated (zeros for a missing one)."""
        xp = backend.xp_of(self._params[0].array)
        return xp.concatenate([xp.zeros(p.numel(), p.dtype) if p.grad is None else p.grad.array.ravel()
                               for p in self._params])

    def _add_grad(self, step_size: Any, update: Array) -> None:
        """θ ← θ + step_size · update, ``update`` cut into the parameters' shapes."""
        offset = 0
        for p in self._params:
            p.array += step_size * update[offset:offset + p.numel()].reshape(p.shape)
            p._version_counter.bump()
            offset += p.numel()

    def _directional_evaluate(self, closure: Callable[[], Any], x: list[Array], t: Any,
                              d: Array) -> tuple[float, Array]:
        """f and g at θ = x + t d (evaluated by ``closure``); the parameters are then set back to x."""
        self._add_grad(t, d)
        loss = float(_evaluate(closure))
        flat_grad = self._flat_grad()
        for p, saved in zip(self._params, x):
            p.array[...] = saved
            p._version_counter.bump()
        return loss, flat_grad

    # ------------------------------------------------------------------------------ step
    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations; ``closure`` recomputes the loss and gradients."""
        if len(self.param_groups) != 1:
            raise ValueError(f"LBFGS: expected one parameter group, got {len(self.param_groups)}")
        group = self.param_groups[0]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        orig_loss = _evaluate(closure)
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if backend.xp_of(flat_grad).abs(flat_grad).max() <= group["tolerance_grad"]:
            return orig_loss
        memory = _Memory.load(state)
        self._iterate(closure, group, state, memory, float(orig_loss), flat_grad)
        memory.save(state)
        return orig_loss

    def _iterate(self, closure: Callable[[], Any], group: ParamGroup, state: dict[str, Any], memory: _Memory,
                 loss: float, flat_grad: Array) -> None:
        """The iterations of one step, from the loss and gradient at the current θ."""
        xp = backend.xp_of(flat_grad)
        current_evals = 1
        for n_iter in range(1, group["max_iter"] + 1):
            state["n_iter"] += 1
            first = state["n_iter"] == 1
            d = memory.direction(flat_grad, first, group["history_size"], state)
            memory.prev_flat_grad, memory.prev_loss = flat_grad, loss
            t = memory.t = min(1.0, 1.0 / xp.abs(flat_grad).sum()) * group["lr"] if first else group["lr"]
            gtd = flat_grad @ d
            if gtd > -group["tolerance_change"]:
                break
            loss, flat_grad, memory.t, evals = self._move(closure, group, t, d, loss, flat_grad, gtd,
                                                          group["max_eval"] - current_evals,
                                                          last=n_iter == group["max_iter"])
            current_evals += evals
            state["func_evals"] += evals
            if (n_iter == group["max_iter"] or current_evals >= group["max_eval"]
                    or xp.abs(flat_grad).max() <= group["tolerance_grad"]
                    or xp.abs(d * memory.t).max() <= group["tolerance_change"]
                    or abs(loss - memory.prev_loss) < group["tolerance_change"]):
                break

    def _move(self, closure: Callable[[], Any], group: ParamGroup, t: Any, d: Array, loss: float,
              flat_grad: Array, gtd: Any, evals_left: int, last: bool) -> tuple[float, Array, Any, int]:
        """θ ← θ + t d, t chosen by the line search if there is one; returns the loss and gradient at
        the new θ, t and the evaluations used (none after the last iteration without line search:
        the old loss and gradient are returned then)."""
        if group["line_search_fn"] == "strong_wolfe":
            x_init = [p.array.copy() for p in self._params]
            loss, flat_grad, t, evals = _strong_wolfe(partial(self._directional_evaluate, closure), x_init, t, d,
                                                      loss, flat_grad, gtd, max_ls=evals_left)
            self._add_grad(t, d)
            return loss, flat_grad, t, evals
        self._add_grad(t, d)
        if last:
            return loss, flat_grad, t, 0
        return float(_evaluate(closure)), self._flat_grad(), t, 1


def _evaluate(closure: Callable[[], Any]) -> Any:
    """``closure()`` with grad mode on (the step itself needs none)."""
    with enable_grad():
        return closure()


class _Memory:
    """What L-BFGS carries between iterations and steps: the last direction and step size, the
    curvature pairs (y, s) with ρ = 1/(y·s), the scale H, the previous gradient and loss."""

    VECTORS = ("d", "old_dirs", "old_stps", "prev_flat_grad")  # flat arrays (lists of them), saved as Tensors
    SCALARS = ("t", "ro", "H_diag", "prev_loss")  # numbers (a list of them for ro), saved as they are

    def __init__(self, values: dict[str, Any]) -> None:
        for name in self.VECTORS + self.SCALARS:
            setattr(self, name, values.get(name))

    @classmethod
    def load(cls, state: dict[str, Any]) -> _Memory:
        """The memory stored in ``state`` (Tensors unwrapped to arrays)."""
        values = {name: state.get(name) for name in cls.SCALARS}
        values.update({name: _unwrap(state.get(name)) for name in cls.VECTORS})
        return cls(values)

    def save(self, state: dict[str, Any]) -> None:
        """Store the memory in ``state``, arrays wrapped as Tensors (PyTorch's layout)."""
        state.update({name: getattr(self, name) for name in self.SCALARS})
        state.update({name: _wrap(getattr(self, name)) for name in self.VECTORS})

    def direction(self, flat_grad: Array, first: bool, history_size: int, state: dict[str, Any]) -> Array:
        """d = −g at the very first iteration, else −H̃ g by the two-loop recursion (after
        adding the latest (y, s) pair when its curvature y·s > 1e-10)."""
        if first:
            self.old_dirs, self.old_stps, self.ro, self.H_diag = [], [], [], 1
            self.d = -flat_grad
            return self.d
        y = flat_grad - self.prev_flat_grad
        s = self.d * self.t
        ys = y @ s
        if ys > 1e-10:
            if len(self.old_dirs) == history_size:
                del self.old_dirs[0], self.old_stps[0], self.ro[0]
            self.old_dirs.append(y)
            self.old_stps.append(s)
            self.ro.append(1.0 / ys)
            self.H_diag = ys / (y @ y)
        al = state.setdefault("al", [None] * history_size)
        q = -flat_grad
        for i in reversed(range(len(self.old_dirs))):
            al[i] = (self.old_stps[i] @ q) * self.ro[i]
            q = q - al[i] * self.old_dirs[i]
        r = q * self.H_diag
        for i in range(len(self.old_dirs)):
            be_i = (self.old_dirs[i] @ r) * self.ro[i]
            r = r + (al[i] - be_i) * self.old_stps[i]
        self.d = r
        return r


def _wrap(value: Any) -> Any:
    """An array (or a list of them) as Tensors; None stays None."""
    if isinstance(value, list):
        return [Tensor(v) for v in value]
    return None if value is None else Tensor(value)


def _unwrap(value: Any) -> Any:
    """A Tensor (or a list of them) as arrays; None stays None."""
    if isinstance(value, list):
        return [v.array for v in value]
    return None if value is None else value.array


# ------------------------------------------------------------------ strong-Wolfe line search
class _Point(NamedTuple):
    """A trial step size t with f(θ + t d), its gradient g and the slope g·d."""

    t: Any
    f: float
    g: Array
    gtd: Any


def _cubic_interpolate(x1: Any, f1: Any, g1: Any, x2: Any, f2: Any, g2: Any,
                       bounds: tuple[Any, Any] | None = None) -> Any:
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clipped to
    ``bounds`` (default: [min(x1, x2), max(x1, x2)]); the bounds' midpoint when it has none::

        d1 = g1 + g2 − 3 (f1 − f2)/(x1 − x2),   d2 = √(d1² − g1 g2)
        x  = x2 − (x2 − x1) (g2 + d2 − d1)/(g2 − g1 + 2 d2)          (for x1 ≤ x2)
    """
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square < 0:
        return (low + high) / 2.0
    d2 = backend.xp_of(d2_square).sqrt(d2_square)
    if x1 <= x2:
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(min_pos, low), high)


def _strong_wolfe(objective: Objective, x: list[Array], t: Any, d: Array, f: float, g: Array, gtd: Any,
                  c1: float = 1e-4, c2: float = 0.9, tolerance_change: float = 1e-9,
                  max_ls: int = 25) -> tuple[float, Array, Any, int]:
    """A step size t along d satisfying the strong Wolfe conditions

        f(θ + t d) ≤ f + c1 t g·d      (enough decrease)      |g(θ + t d)·d| ≤ −c2 g·d      (flat enough)

    found by bracketing then zooming with cubic interpolation (minFunc's, as PyTorch).  Uses at
    most ``max_ls`` evaluations after the first; returns (f, g, t, evaluations) at the chosen t.
    """
    bracket, ls_iter, evals, done = _bracket(objective, x, t, d, _Point(0, f, g, gtd), c1, c2, max_ls)
    best, zoom_evals = _zoom(objective, x, d, f, gtd, bracket, ls_iter, done, c1, c2, tolerance_change, max_ls)
    return best.f, best.g, best.t, evals + zoom_evals


def _bracket(objective: Objective, x: list[Array], t: Any, d: Array, start: _Point, c1: float, c2: float,
             max_ls: int) -> tuple[list[_Point], int, int, bool]:
    """Grow t (extrapolating by cubic interpolation, between 1.01x and 10x) until [t_prev, t]
    brackets an acceptable step or t itself is one.  Returns (bracket, iterations, evaluations,
    whether t already satisfies both conditions)."""
    f_new, g_new = objective(x, t, d)
    evals, prev = 1, start
    for ls_iter in range(max_ls):
        new = _Point(t, f_new, g_new, g_new @ d)
        if new.f > start.f + c1 * t * start.gtd or (ls_iter > 1 and new.f >= prev.f):
            return [prev, new], ls_iter, evals, False
        if abs(new.gtd) <= -c2 * start.gtd:
            return [new], ls_iter, evals, True
        if new.gtd >= 0:
            return [prev, new], ls_iter, evals, False
        t = _cubic_interpolate(prev.t, prev.f, prev.gtd, t, new.f, new.gtd,
                               bounds=(t + 0.01 * (t - prev.t), t * 10))
        prev = new
        f_new, g_new = objective(x, t, d)
        evals += 1
    return [start, _Point(t, f_new, g_new, g_new @ d)], max_ls, evals, False


def _zoom(objective: Objective, x: list[Array], d: Array, f: float, gtd: Any, bracket: list[_Point],
          ls_iter: int, done: bool, c1: float, c2: float, tolerance_change: float,
          max_ls: int) -> tuple[_Point, int]:
    """Shrink the bracket around an acceptable step (interpolating inside it) until one is found,
    the bracket is shorter than ``tolerance_change`` or ``max_ls`` iterations are used.  Returns
    the best point (the bracket's lower f) and the evaluations used."""
    d_norm = backend.xp_of(d).abs(d).max()
    evals, insufficient_progress = 0, False
    low, high = (0, 1) if bracket[0].f <= bracket[-1].f else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1].t - bracket[0].t) * d_norm < tolerance_change:
            break
        a, b = bracket
        t = _cubic_interpolate(a.t, a.f, a.gtd, b.t, b.f, b.gtd)
        t, insufficient_progress = _away_from_the_ends(t, bracket[0].t, bracket[1].t, insufficient_progress)
        f_new, g_new = objective(x, t, d)
        evals, ls_iter = evals + 1, ls_iter + 1
        new = _Point(t, f_new, g_new, g_new @ d)
        if new.f > f + c1 * t * gtd or new.f >= bracket[low].f:
            bracket[high] = new
            low, high = (0, 1) if bracket[0].f <= bracket[1].f else (1, 0)
            continue
        if abs(new.gtd) <= -c2 * gtd:
            done = True
        elif new.gtd * (bracket[high].t - bracket[low].t) >= 0:
            bracket[high] = bracket[low]
        bracket[low] = new
    return bracket[low], evals


def _away_from_the_ends(t: Any, a: Any, b: Any, insufficient_progress: bool) -> tuple[Any, bool]:
    """Keep t at least 10% of the bracket [a, b] away from its ends when the last try already came
    that close (or t is outside): returns the adjusted t and whether progress was insufficient."""
    high, low = max(a, b), min(a, b)
    eps = 0.1 * (high - low)
    if min(high - t, t - low) >= eps:
        return t, False
    if not (insufficient_progress or t >= high or t <= low):
        return t, True
    return (high - eps if abs(t - high) < abs(t - low) else low + eps), False
