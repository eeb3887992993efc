"""Version counters (issue 11): an in-place edit of a tensor saved for backward is an error, as in PyTorch.

* The issue's three cases raise PyTorch's error in both frameworks.
* For every op with a PyTorch counterpart (:data:`OPS`), each input and the output is edited in
  place between forward and backward: minidl raises exactly where PyTorch raises, except for the
  differences listed in :data:`DIFFERENCES` (each explained there).
* For every primitive of ``minidl gradcheck`` (:data:`CASES`): an edit never gives a wrong
  gradient -- either backward raises, or the gradients are those of the unedited graph.
* Legal edits (after backward; of a tensor that no node saved) do not raise, in both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as torch_F

import minidl
import minidl.functional as minidl_F
from minidl.cli.gradcheck import make_inputs
from minidl.cli.gradcheck_cases import CASES, Case
from tests.helpers import md, th, to_np

INPLACE_ERROR = "modified by an inplace operation"


# ------------------------------------------------------------------------ the issue's cases
def _mul_then_edit_x(lib: Any, tensor: Callable) -> None:
    w, x = tensor([1.0, 2.0, 3.0], True), tensor([4.0, 5.0, 6.0], False)
    y = (w * x).sum()
    x.mul_(2)
    y.backward()


def _optimizer_step_between(lib: Any, tensor: Callable) -> None:
    w = tensor([1.0, 2.0, 3.0], True)
    y = (w * w).sum()
    with lib.no_grad():
        w.add_(1)
    y.backward()


def _edit_saved_output(lib: Any, tensor: Callable) -> None:
    w = tensor(np.arange(12.0).reshape(3, 4) / 10, True)
    z = w.exp()
    s = z.sum()
    with lib.no_grad():
        z.mul_(5)
    s.backward()


def _minidl_tensor(values: Any, requires_grad: bool) -> minidl.Tensor:
    return md(np.asarray(values, dtype=np.float32), requires_grad)


def _torch_tensor(values: Any, requires_grad: bool) -> torch.Tensor:
    return th(np.asarray(values, dtype=np.float32), requires_grad)


@pytest.mark.parametrize("case, message", [
    (_mul_then_edit_x, r"\[float32 tensor of shape \[3\]\], which is input 1 of Mul, is at version 1; "
                       "expected version 0 instead"),
    (_optimizer_step_between, r"\[float32 tensor of shape \[3\]\], which is input 0 of Mul, is at version 1; "
                              "expected version 0 instead"),
    (_edit_saved_output, r"\[float32 tensor of shape \[3, 4\]\], which is output 0 of Exp, is at version 1; "
                         "expected version 0 instead"),
], ids=["mul_ of a saved input", "optimizer-style add_ under no_grad", "mul_ of a saved output"])
def test_the_issue_cases_raise_in_both(case: Callable, message: str) -> None:
    with pytest.raises(RuntimeError, match=INPLACE_ERROR):
        case(torch, _torch_tensor)
    with pytest.raises(RuntimeError, match="one of the variables needed for gradient computation has been "
                                           f"modified by an inplace operation: {message}"):
        case(minidl, _minidl_tensor)


# ------------------------------------------------------------------ every op, against PyTorch
@dataclass(frozen=True)
class Op:
    """``run(lib, F, *inputs)`` in minidl (``lib=minidl``) and PyTorch; inputs drawn by ``make``."""

    name: str
    run: Callable[..., Any]
    shapes: tuple[tuple[int, ...], ...]
    low: float = -1.0  # inputs are uniform in [low, high] (away from 0 when low > 0)
    high: float = 1.0
    fixed: tuple[np.ndarray, ...] = field(default=())  # more arguments, as tensors without gradient


OPS = [
    Op("add", lambda L, F, x, y: x + y, ((3, 4), (4,))),
    Op("sub", lambda L, F, x, y: x - y, ((3, 4), (3, 4))),
    Op("mul", lambda L, F, x, y: x * y, ((3, 4), (4,))),
    Op("div", lambda L, F, x, y: x / y, ((3, 4), (3, 4)), 0.5, 2.0),
    Op("pow", lambda L, F, x, y: x**y, ((3, 4), (3, 4)), 0.5, 2.0),
    Op("neg", lambda L, F, x: -x, ((3, 4),)),
    Op("add a number", lambda L, F, x: x + 2.5, ((3, 4),)),
    Op("number - x", lambda L, F, x: 1.5 - x, ((3, 4),)),
    Op("mul by a number", lambda L, F, x: x * 0.5, ((3, 4),)),
    Op("div by a number", lambda L, F, x: x / 4, ((3, 4),)),
    Op("number / x", lambda L, F, x: 2.0 / x, ((3, 4),), 0.5, 2.0),
    Op("x ** number", lambda L, F, x: x**3, ((3, 4),)),
    Op("number ** x", lambda L, F, x: 2.0**x, ((3, 4),)),
    Op("exp", lambda L, F, x: x.exp(), ((3, 4),)),
    Op("log", lambda L, F, x: x.log(), ((3, 4),), 0.5, 2.0),
    Op("sqrt", lambda L, F, x: x.sqrt(), ((3, 4),), 0.5, 2.0),
    Op("abs", lambda L, F, x: x.abs(), ((3, 4),)),
    Op("clamp", lambda L, F, x: x.clamp(-0.5, 0.5), ((3, 4),)),
    Op("maximum", lambda L, F, x, y: L.maximum(x, y), ((3, 4), (3, 4))),
    Op("minimum", lambda L, F, x, y: L.minimum(x, y), ((3, 4), (3, 4))),
    Op("where", lambda L, F, x, y: L.where(x > 0, x, y), ((3, 4), (3, 4))),
    Op("relu", lambda L, F, x: x.relu(), ((3, 4),)),
    Op("leaky_relu", lambda L, F, x: F.leaky_relu(x, 0.1), ((3, 4),)),
    Op("sigmoid", lambda L, F, x: x.sigmoid(), ((3, 4),)),
    Op("tanh", lambda L, F, x: x.tanh(), ((3, 4),)),
    Op("softplus", lambda L, F, x: F.softplus(x), ((3, 4),)),
    Op("gelu", lambda L, F, x: F.gelu(x), ((3, 4),)),
    Op("gelu tanh", lambda L, F, x: F.gelu(x, approximate="tanh"), ((3, 4),)),
    Op("softmax", lambda L, F, x: x.softmax(1), ((3, 4),)),
    Op("log_softmax", lambda L, F, x: x.log_softmax(1), ((3, 4),)),
    Op("logsumexp", lambda L, F, x: x.logsumexp(1), ((3, 4),)),
    Op("sum", lambda L, F, x: x.sum(1), ((3, 4),)),
    Op("mean", lambda L, F, x: x.mean(1), ((3, 4),)),
    Op("var", lambda L, F, x: x.var(1), ((3, 4),)),
    Op("amax", lambda L, F, x: x.amax(1), ((3, 4),)),
    Op("max along dim", lambda L, F, x: x.max(1).values, ((3, 4),)),
    Op("matmul", lambda L, F, x, y: x @ y, ((3, 4), (4, 5))),
    Op("linear", lambda L, F, x, w, b: F.linear(x, w, b), ((2, 4), (3, 4), (3,))),
    Op("conv1d", lambda L, F, x, w, b: F.conv1d(x, w, b, padding=1), ((2, 3, 6), (4, 3, 3), (4,))),
    Op("conv2d", lambda L, F, x, w: F.conv2d(x, w, stride=2), ((1, 2, 5, 5), (3, 2, 2, 2))),
    Op("max_pool1d", lambda L, F, x: F.max_pool1d(x, 2), ((2, 3, 6),)),
    Op("avg_pool1d", lambda L, F, x: F.avg_pool1d(x, 2), ((2, 3, 6),)),
    Op("adaptive_avg_pool1d", lambda L, F, x: F.adaptive_avg_pool1d(x, 2), ((2, 3, 5),)),
    Op("batch_norm", lambda L, F, x, w, b: F.batch_norm(x, None, None, w, b, training=True), ((4, 3), (3,), (3,))),
    Op("layer_norm", lambda L, F, x, w, b: F.layer_norm(x, (4,), w, b), ((2, 4), (4,), (4,))),
    Op("bce_with_logits", lambda L, F, x, t: F.binary_cross_entropy_with_logits(x, t), ((3, 4), (3, 4)), 0.1, 0.9),
    Op("bce", lambda L, F, x, t: F.binary_cross_entropy(x, t), ((3, 4), (3, 4)), 0.1, 0.9),
    Op("mse_loss", lambda L, F, x, t: F.mse_loss(x, t), ((3, 4), (3, 4))),
    Op("cross_entropy", lambda L, F, x, t: F.cross_entropy(x, t), ((3, 4),), fixed=(np.array([0, 3, 1]),)),
    Op("reshape", lambda L, F, x: x.reshape(4, 3), ((3, 4),)),
    Op("view", lambda L, F, x: x.view(2, 6), ((3, 4),)),
    Op("permute", lambda L, F, x: x.permute(1, 0), ((3, 4),)),
    Op("x[1:, ::2]", lambda L, F, x: x[1:, ::2], ((3, 4),)),
    Op("x[[0, 2, 0]]", lambda L, F, x: x[[0, 2, 0]], ((3, 4),)),
    Op("cat", lambda L, F, x, y: L.cat([x, y], 1), ((2, 3), (2, 2))),
    Op("stack", lambda L, F, x, y: L.stack([x, y]), ((2, 3), (2, 3))),
    Op("pad", lambda L, F, x: F.pad(x, (1, 2)), ((2, 3),)),
    Op("clone", lambda L, F, x: x.clone(), ((3, 4),)),
    Op("float", lambda L, F, x: x.float(), ((3, 4),)),
]

#: where minidl and PyTorch keep different things for backward: {op: {role: why}}.  Mostly minidl keeps a
#: derived array (a mask, x - mean) where PyTorch keeps the input itself: then only PyTorch raises, and
#: minidl's gradient stays right (test_an_edit_never_gives_a_wrong_gradient checks that for every
#: primitive).  Where minidl keeps more (``div``'s output, ``c / x``), only minidl raises.
DIFFERENCES = {
    "div": {"input 0": "PyTorch keeps x for dz/dy = -x / y^2, minidl keeps the output z (dz/dy = -z / y)",
            "output 0": "minidl keeps z (see input 0), PyTorch does not"},
    "number / x": {"input 0": "PyTorch computes c / x as reciprocal(x) * c and keeps the reciprocal, an "
                              "intermediate; minidl's single node keeps x and z",
                   "output 0": "the same"},
    "clamp": {"input 0": "minidl keeps the mask min <= x <= max"},
    "maximum": {"input 0": "minidl keeps the masks of the winners", "input 1": "the same"},
    "minimum": {"input 0": "minidl keeps the masks of the winners", "input 1": "the same"},
    "leaky_relu": {"input 0": "minidl keeps the slope of each element"},
    "softplus": {"input 0": "minidl keeps the slope sigmoid(beta x)"},
    "var": {"input 0": "minidl keeps x - mean"},
    "amax": {"input 0": "minidl keeps the share of the gradient of each (tied) maximum; PyTorch keeps x and "
                        "the result to find them",
             "output 0": "the same"},
    "conv1d": {"input 0": "minidl keeps the unfolded windows of x (im2col, a copy)"},
    "conv2d": {"input 0": "minidl keeps the unfolded windows of x (im2col, a copy)"},
    "max_pool1d": {"input 0": "minidl keeps the position of each maximum"},
    "avg_pool1d": {"input 0": "minidl keeps only shapes: the gradient of a mean does not depend on x"},
    "adaptive_avg_pool1d": {"input 0": "minidl keeps only the averaging matrices"},
    "batch_norm": {"input 0": "minidl keeps x_hat = (x - mean) / std"},
    "layer_norm": {"input 0": "minidl keeps x_hat = (x - mean) / std",
                   "input 2": "PyTorch keeps the bias as well, minidl's gradients do not need it"},
    "mse_loss": {"input 0": "minidl keeps x - t", "input 1": "the same"},
}


def _edit_outcome(op: Op, role: str, lib: Any, F: Any, tensor: Callable) -> bool:
    """Whether backward raises the in-place error after ``role`` ("input i", "output 0") is edited."""
    rng = np.random.default_rng(0)
    inputs = [tensor(rng.uniform(op.low, op.high, shape), True) for shape in op.shapes]
    out = op.run(lib, F, *inputs, *(tensor(a, False) for a in op.fixed))
    edited = out if role == "output 0" else inputs[int(role.split()[1])]
    with lib.no_grad():
        edited.mul_(1.5)
    try:
        out.backward(tensor(rng.standard_normal(tuple(out.shape)).astype(to_np(out).dtype), False))
    except RuntimeError as error:
        assert INPLACE_ERROR in str(error), error
        return True
    return False


def _roles(op: Op) -> list[str]:
    return [f"input {i}" for i in range(len(op.shapes))] + ["output 0"]


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_an_edit_between_forward_and_backward_raises_as_in_pytorch(op: Op) -> None:
    theirs = {role for role in _roles(op) if _edit_outcome(op, role, torch, torch_F, th)}
    ours = {role for role in _roles(op) if _edit_outcome(op, role, minidl, minidl_F, md)}
    assert ours ^ theirs == set(DIFFERENCES.get(op.name, {})), \
        f"minidl raises for {sorted(ours)}, PyTorch for {sorted(theirs)}"


# ------------------------------------------------------------- every primitive: never a wrong gradient
def _gradients_after_edit(case: Case, target: int | None) -> list[np.ndarray] | None:
    """The inputs' gradients from one backward pass of ``case`` with a fixed upstream gradient, after
    ``target`` (an index into the differentiable inputs, their count for the output, None for nothing)
    was multiplied by 1.5 in place between forward and backward; None when backward refused."""
    inputs = make_inputs(case, 0)
    wrt = [t for t in inputs if isinstance(t, minidl.Tensor) and t.requires_grad]
    out = case.func(*inputs)
    upstream = np.random.default_rng(1).uniform(0.5, 1.5, out.shape).astype(out.dtype)
    if target is not None:
        with minidl.no_grad():
            (wrt + [out])[target].mul_(1.5)
    try:
        out.backward(minidl.tensor(upstream))
    except RuntimeError as error:
        assert INPLACE_ERROR in str(error), error
        return None
    return [to_np(t.grad) for t in wrt]


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.name}: {case.label}")
def test_an_edit_never_gives_a_wrong_gradient(case: Case) -> None:
    unedited = _gradients_after_edit(case, None)
    n_targets = len([t for t in make_inputs(case, 0) if isinstance(t, minidl.Tensor) and t.requires_grad]) + 1
    for target in range(n_targets):
        try:
            edited = _gradients_after_edit(case, target)
        except RuntimeError as error:  # an expanded output can't be written to, in PyTorch neither
            assert "more than one element of the written-to tensor" in str(error)
            continue
        if edited is not None:
            for got, expected in zip(edited, unedited, strict=True):
                np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=f"edit of target {target}")


# ---------------------------------------------------------------------------------- legal edits
def _legal_edits(lib: Any, tensor: Callable) -> list[np.ndarray]:
    """Edits PyTorch allows: after backward, and of tensors no node saved (Add keeps nothing)."""
    w, x = tensor(np.array([1.0, 2.0, 3.0]), True), tensor(np.array([0.5, -1.0, 2.0]), True)
    y = (w * w).sum()
    y.backward()
    with lib.no_grad():
        w.add_(1)  # after backward: the graph is gone
    z = (x + 1).sum() + (w * w).sum()
    with lib.no_grad():
        x.mul_(2)  # nothing saved x: Add keeps nothing
    z.backward()
    return [to_np(w.grad), to_np(x.grad), to_np(w), to_np(x)]


def test_legal_edits_do_not_raise() -> None:
    for ours, theirs in zip(_legal_edits(minidl, md), _legal_edits(torch, th), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def _through_view(lib: Any, tensor: Callable) -> None:
    w = tensor(np.ones((2, 3)), True)
    z = w.exp()
    s = z.sum()
    with lib.no_grad():
        z[0].mul_(2)  # a view of z: it shares z's version counter
    s.backward()


def _through_detach(lib: Any, tensor: Callable) -> None:
    w = tensor(np.ones(3), True)
    s = (w * w).sum()
    w.detach().mul_(2)  # detach shares the memory and the version counter
    s.backward()


def _second_backward(lib: Any, tensor: Callable) -> None:
    w = tensor(np.ones(3), True)
    s = (w * w).sum()
    s.backward(retain_graph=True)
    with lib.no_grad():
        w.add_(1)
    s.backward()


def _setitem(lib: Any, tensor: Callable) -> None:
    w = tensor(np.ones(3), True)
    x = tensor(np.ones(3), False)
    s = (w * x).sum()
    x[1] = 5.0
    s.backward()


@pytest.mark.parametrize("case", [_through_view, _through_detach, _second_backward, _setitem],
                         ids=["through a view", "through detach()", "before a second backward", "x[i] = v"])
def test_edits_that_raise_in_both(case: Callable) -> None:
    with pytest.raises(RuntimeError, match=INPLACE_ERROR):
        case(torch, th)
    with pytest.raises(RuntimeError, match=INPLACE_ERROR):
        case(minidl, md)


def test_versions_count_as_in_pytorch() -> None:
    def versions(lib: Any, tensor: Callable) -> list[int]:
        x = tensor(np.zeros((2, 3)), False)
        v, d = x[0], x.detach()
        seen = [x._version]
        for update in (lambda: x.add_(1), lambda: v.mul_(2), lambda: x.__setitem__(1, 3.0), lambda: d.zero_(),
                       lambda: x.copy_(tensor(np.ones((2, 3)), False)), lambda: x.fill_(2.0)):
            update()
            seen += [x._version, v._version, d._version]
        x += 1
        seen.append(x._version)
        return seen

    assert versions(minidl, md) == versions(torch, th)


def test_minidl_checks_everything_a_node_keeps() -> None:
    """The one kind of edit PyTorch allows and minidl refuses: PyTorch's nodes keep only what the
    gradients they will compute need (a first layer, whose input needs no gradient, does not keep
    its weight); a minidl node keeps the same arrays whatever is needed, and its check follows
    what it keeps (no per-op declarations)."""
    def edit_first_layer_weight(lib: Any, F: Any, tensor: Callable) -> None:
        x, w = tensor(np.ones((2, 3)), False), tensor(np.ones((4, 3)), True)
        out = F.linear(x, w)
        with lib.no_grad():
            w.mul_(2)  # an optimizer step between forward and backward
        out.sum().backward()

    edit_first_layer_weight(torch, torch_F, th)
    with pytest.raises(RuntimeError, match=r"which is input 1 of Linear, is at version 1; expected version 0"):
        edit_first_layer_weight(minidl, minidl_F, md)


@pytest.mark.parametrize("name", ["SGD", "Adam", "LBFGS"])
def test_an_optimizer_step_between_forward_and_backward_raises_as_in_pytorch(name: str) -> None:
    """``opt.step()`` edits the parameters in place, so a graph that saved one can no longer backward."""
    for lib in (minidl, torch):
        w = lib.nn.Parameter(lib.ones(3, dtype=lib.float64))
        opt = getattr(lib.optim, name)([w], lr=0.1)
        (w * w).sum().backward()
        y = (w * w).sum()
        opt.step((lambda w=w: (w * w).sum()) if name == "LBFGS" else None)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()


def test_a_parameter_shares_the_version_counter_of_its_tensor() -> None:
    t = minidl.ones(3)
    p = minidl.nn.Parameter(t)
    with minidl.no_grad():
        t.add_(1)
    assert p._version == t._version == torch.nn.Parameter(torch.ones(3).add_(1))._version
