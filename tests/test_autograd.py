"""The graph and the backward engine: grad modes, freeing the graph, accumulation, retained
gradients, diamonds, aliasing of gradient arrays, deep chains and memory over many steps."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import numpy as np
import pytest
import torch
from helpers import assert_close, md, rng, th, to_np

import minidl
from minidl import Function


def _leaf(shape: tuple[int, ...] = (3,), seed: int = 0) -> minidl.Tensor:
    return md(rng(seed).standard_normal(shape), requires_grad=True)


# ------------------------------------------------------------------------------- grad modes
def _assert_no_graph(t: minidl.Tensor) -> None:
    assert not t.requires_grad and t.grad_fn is None


def _assert_graph(t: minidl.Tensor) -> None:
    assert t.requires_grad and t.grad_fn is not None


def test_no_grad_context_records_nothing() -> None:
    x = _leaf()
    with minidl.no_grad():
        assert not minidl.is_grad_enabled()
        y = (x * 2).exp().sum()
        _assert_no_graph(y)
        with minidl.enable_grad():
            assert minidl.is_grad_enabled()
            z = (x * 2).sum()
        _assert_graph(z)
        _assert_no_graph(x * 3)
    assert minidl.is_grad_enabled()
    _assert_graph(x * 2)
    z.backward()
    np.testing.assert_array_equal(to_np(x.grad), np.full(3, 2.0))


def test_grad_modes_as_decorators() -> None:
    x = _leaf()

    @minidl.no_grad()
    def without(t: minidl.Tensor) -> minidl.Tensor:
        return t * 2

    @minidl.enable_grad()
    def with_grad(t: minidl.Tensor) -> minidl.Tensor:
        return t * 2

    _assert_no_graph(without(x))
    assert minidl.is_grad_enabled()
    with minidl.no_grad():
        _assert_graph(with_grad(x))
        assert not minidl.is_grad_enabled()
    assert without.__name__ == "without"


def test_grad_mode_restored_after_an_exception() -> None:
    with pytest.raises(ZeroDivisionError), minidl.no_grad():
        raise ZeroDivisionError
    assert minidl.is_grad_enabled()


def test_no_grad_keeps_inputs_unreferenced() -> None:
    """Under no_grad a result holds no node, so nothing keeps its inputs alive."""
    x = _leaf()
    with minidl.no_grad():
        h = x * 2
        ref = weakref.ref(h)
        y = h + 1
    del h
    assert ref() is None and y.grad_fn is None


# ----------------------------------------------------------------------- freeing the graph
def test_second_backward_through_a_freed_graph_raises() -> None:
    x = _leaf()
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward_that_accumulates() -> None:
    a = rng(1).standard_normal(3)
    x, t = md(a, requires_grad=True), th(a, requires_grad=True)
    y, ty = (x * x * x).sum(), (t * t * t).sum()
    y.backward(retain_graph=True)
    y.backward()
    ty.backward(retain_graph=True)
    ty.backward()
    assert_close(x.grad, t.grad, np.float64)


def test_backward_frees_intermediates() -> None:
    x = _leaf()
    h = x * 2
    ref = weakref.ref(h)
    y = h.exp().sum()
    del h
    assert ref() is not None  # the graph holds it for backward
    y.backward()
    assert ref() is None and y.grad_fn.inputs is None


# --------------------------------------------------------------------- accumulation, leaves
def test_leaf_gradients_accumulate_across_backward_calls() -> None:
    a = rng(2).standard_normal((2, 3))
    x, t = md(a, requires_grad=True), th(a, requires_grad=True)
    for k in range(3):
        (x * (k + 1)).exp().sum().backward()
        (t * (k + 1)).exp().sum().backward()
    assert_close(x.grad, t.grad, np.float64)


@pytest.mark.parametrize("reduce", [lambda x: x.mean(), lambda x: x.sum(), lambda x: x.expand(4, 2, 3).sum(),
                                    lambda x: x.mean(0).sum()])
def test_broadcast_gradients_reach_leaves_as_their_own_writable_arrays(reduce) -> None:
    """Backward of a reduction returns a broadcast (read-only) view; the engine must copy it."""
    a = rng(9).standard_normal((2, 3))
    x, t = md(a, requires_grad=True), th(a, requires_grad=True)
    for _ in range(2):  # the second backward accumulates in place
        reduce(x).backward()
        reduce(t).backward()
    with minidl.no_grad():
        x.grad.mul_(3.0)
    t.grad.mul_(3.0)
    assert_close(x.grad, t.grad, np.float64)


def test_backward_on_a_leaf() -> None:
    x = md(np.array(2.5), requires_grad=True)
    x.backward()
    assert x.grad.item() == 1.0
    v = _leaf((3,))
    g = rng(3).standard_normal(3)
    v.backward(md(g))
    np.testing.assert_array_equal(to_np(v.grad), g)


def test_intermediates_keep_no_grad_unless_retained() -> None:
    a = rng(4).standard_normal((2, 3))
    x, t = md(a, requires_grad=True), th(a, requires_grad=True)
    h, kept, th_kept = x * 2, (x * 3).retain_grad(), t * 3
    th_kept.retain_grad()
    ((h * kept).exp().sum()).backward()
    ((t * 2 * th_kept).exp().sum()).backward()
    assert h.grad is None and x.grad is not None
    assert kept.is_leaf is False
    assert_close(kept.grad, th_kept.grad, np.float64)
    assert_close(x.grad, t.grad, np.float64)


def test_retained_grad_of_a_value_used_twice_and_of_the_root() -> None:
    a = rng(5).standard_normal(4)
    x, t = md(a, requires_grad=True), th(a, requires_grad=True)
    h, th_h = x.exp(), t.exp()
    h.retain_grad()
    th_h.retain_grad()
    y, ty = (h * h + h).sum(), (th_h * th_h + th_h).sum()
    y.retain_grad()
    ty.retain_grad()
    y.backward()
    ty.backward()
    assert_close(h.grad, th_h.grad, np.float64)
    assert_close(y.grad, ty.grad, np.float64)
    assert_close(x.grad, t.grad, np.float64)


def test_only_inputs_that_require_grad_get_one() -> None:
    x, c = _leaf(), md(rng(6).standard_normal(3))
    (x * c).sum().backward()
    assert c.grad is None and x.grad is not None


# ----------------------------------------------------------------------------------- errors
def test_backward_on_a_non_scalar_needs_a_gradient() -> None:
    y = _leaf((2, 3)) * 2
    with pytest.raises(RuntimeError, match=r"only for scalar outputs.*\(2, 3\)"):
        y.backward()


def test_backward_gradient_shape_and_dtype_are_checked() -> None:
    y = _leaf((2, 3)) * 2
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3, 2\) but the tensor has shape \(2, 3\)"):
        y.backward(md(np.ones((3, 2))))
    with pytest.raises(TypeError, match="gradient has dtype float32 but the tensor has dtype float64"):
        y.backward(md(np.ones((2, 3), np.float32)))


def test_backward_on_a_tensor_without_grad_raises() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        md(np.ones(3)).sum().backward()


# -------------------------------------------------------------------------- graph structure
def test_diamond_graph_sums_both_paths() -> None:
    """One value used by two branches that meet again: the contributions add up."""
    a = rng(7).standard_normal((3, 4))

    def f(x: Any, lib: Any) -> Any:
        h = x * 1.5
        left, right = lib.tanh(h), h.exp() * h
        return (left * right + h).sum()

    x, t = md(a, requires_grad=True), th(a, requires_grad=True)
    f(x, minidl).backward()
    f(t, torch).backward()
    assert_close(x.grad, t.grad, np.float64)


def test_same_tensor_as_both_operands() -> None:
    a = rng(8).standard_normal(3)
    for op in [lambda u: u * u, lambda u: u + u, lambda u: u - u, lambda u: u / u, lambda u: u @ u]:
        x, t = md(a, requires_grad=True), th(a, requires_grad=True)
        op(x).sum().backward()
        op(t).sum().backward()
        assert_close(x.grad, t.grad, np.float64)


def test_mlp_gradients_match_torch() -> None:
    r = rng(9)
    arrays = [r.standard_normal((5, 4)), r.standard_normal((4, 8)) * 0.5, r.standard_normal(8),
              r.standard_normal((8, 3)) * 0.5, r.standard_normal(3)]

    def loss(x: Any, w1: Any, b1: Any, w2: Any, b2: Any, lib: Any) -> Any:
        h = lib.relu(x @ w1 + b1)
        return lib.log_softmax(h @ w2 + b2, 1).mean() * -1.0

    m = [md(a, requires_grad=True) for a in arrays]
    t = [th(a, requires_grad=True) for a in arrays]
    assert_close(loss(*m, minidl), loss(*t, torch), np.float64)
    loss(*m, minidl).backward()
    loss(*t, torch).backward()
    for mi, ti in zip(m, t):
        assert_close(mi.grad, ti.grad, np.float64)


class _Detached(Function):
    """A primitive whose backward returns None for an input that requires grad (a zero gradient)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * 2

    def backward(self, gy: np.ndarray) -> None:
        return None


def test_a_backward_returning_none_means_a_zero_gradient() -> None:
    """As in PyTorch, the branch through the node contributes nothing; the other branch still does."""
    x = _leaf((2,), 20)
    (_Detached.apply(x * 3) + x * 0.5).sum().backward()
    np.testing.assert_array_equal(to_np(x.grad), [0.5, 0.5])
    y = _leaf((2,), 21)
    _Detached.apply(y.exp()).sum().backward()
    assert y.grad is None


# --------------------------------------------------------------------------------- aliasing
def test_leaf_gradients_do_not_alias_each_other() -> None:
    a, b = _leaf((2, 3), 10), _leaf((2, 3), 11)
    (a + b).sum().backward()
    a.grad.mul_(2)
    np.testing.assert_array_equal(to_np(b.grad), np.ones((2, 3)))
    np.testing.assert_array_equal(to_np(a.grad), np.full((2, 3), 2.0))


def test_leaf_gradient_does_not_alias_the_upstream_gradient() -> None:
    a, b = _leaf((2, 3), 12), _leaf((2, 3), 13)
    g = md(rng(14).standard_normal((2, 3)))
    expected = to_np(g).copy()
    y = (a + b).reshape(3, 2).reshape(2, 3)
    y.backward(g)
    a.grad.mul_(3)
    b.grad.add_(1.0)
    np.testing.assert_array_equal(to_np(g), expected)
    x = _leaf((2, 3), 15)
    x.backward(g)
    x.grad.zero_()
    np.testing.assert_array_equal(to_np(g), expected)


def test_retained_gradient_does_not_alias_the_leaf_gradient() -> None:
    x = _leaf((2, 3), 16)
    h = x.reshape(6).retain_grad()
    h.sum().backward()
    h.grad.mul_(5)
    np.testing.assert_array_equal(to_np(x.grad), np.ones((2, 3)))


@pytest.mark.parametrize("reduce", ["sum", "mean", "amax", "var", "expand"])
def test_gradients_from_broadcast_backwards_are_writable(reduce: str) -> None:
    """Reductions broadcast dy back; the leaf must own a writable array that later backward
    calls accumulate into and in-place updates can scale."""
    a = rng(17).standard_normal((2, 3))
    x, t = md(a, requires_grad=True), th(a, requires_grad=True)
    for u in (x, t):
        for _ in range(2):
            (u.expand(4, 2, 3).sum() if reduce == "expand" else getattr(u, reduce)()).backward()
    with minidl.no_grad():
        x.grad.mul_(0.5)
    t.grad.mul_(0.5)
    assert_close(x.grad, t.grad, np.float64)


# ------------------------------------------------------------------------ depth and memory
def test_deep_chain_of_100000_ops() -> None:
    x = md(np.array([1.5, -2.0]), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = -y
    y.sum().backward()
    np.testing.assert_array_equal(to_np(x.grad), [1.0, 1.0])
    z = x
    for _ in range(100_000):
        z = -z
    del z  # a deep graph dropped without backward is freed without RecursionError


def _live(kind: type) -> int:
    gc.collect()
    return sum(issubclass(type(o), kind) for o in gc.get_objects())


def test_memory_does_not_grow_over_1000_training_steps() -> None:
    """A tiny MLP, forward + backward + manual SGD: no Function or Tensor survives a step."""
    r = rng(18)
    x, target = md(r.standard_normal((8, 4))), md(r.standard_normal((8, 1)))
    params = [md(r.standard_normal((4, 16)) * 0.3, True), md(np.zeros(16), True),
              md(r.standard_normal((16, 1)) * 0.3, True), md(np.zeros(1), True)]

    def step() -> float:
        w1, b1, w2, b2 = params
        loss = ((minidl.tanh(x @ w1 + b1) @ w2 + b2 - target) ** 2).mean()
        loss.backward()
        with minidl.no_grad():
            for p in params:
                p.add_(p.grad, alpha=-0.05)
                p.grad = None
        return loss.item()

    first = step()
    functions, tensors = _live(Function), _live(minidl.Tensor)
    for _ in range(1000):
        last = step()
    assert _live(Function) == functions and _live(minidl.Tensor) == tensors
    assert last < first  # the steps really trained


def test_forward_only_graphs_are_freed() -> None:
    """Graphs built but never backpropagated are freed with their output."""
    x = _leaf((4, 4), 19)
    functions = _live(Function)
    for _ in range(200):
        (x @ x).relu().sum()
    assert _live(Function) == functions
