"""Gradient hooks and ``autograd.grad`` against PyTorch on the same graphs.

``Tensor.register_hook`` (leaves and intermediates, observing and replacing, order, removal),
``Module.register_full_backward_hook`` / ``register_full_backward_pre_hook`` (what the hooks see,
in which order they fire, replacements) and ``minidl.autograd.grad`` (values, several outputs and
inputs, unused inputs, no ``.grad`` touched).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import minidl
from tests.helpers import DEVICE, assert_close, md, th, to_np

F64 = np.float64


def arrays(*shapes: tuple[int, ...], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


def leaves(lib: Any, values: list[np.ndarray]) -> list[Any]:
    make = md if lib is minidl else th
    return [make(v, requires_grad=True) for v in values]


# ------------------------------------------------------------------------------ tensor hooks
def hooked_graph(lib: Any, values: list[np.ndarray], log: list[Any]) -> tuple[Any, list[Any], Any]:
    """z = sum(tanh(w * x) * 3) with hooks on a leaf (w) and on an intermediate (h): the first hook of
    each observes, the second replaces (doubles, then adds 1)."""
    w, x = leaves(lib, values)
    h = (w * x).tanh()
    h.retain_grad()
    w.register_hook(lambda g: log.append(("w seen", to_np(g).copy())))
    w.register_hook(lambda g: g * 2)
    h.register_hook(lambda g: log.append(("h seen", to_np(g).copy())))
    h.register_hook(lambda g: g + 1)
    z = (h * 3).sum()
    return z, [w, x], h


def test_tensor_hooks_see_and_replace_gradients_as_in_pytorch() -> None:
    values = arrays((4, 3), (4, 3))
    m_log: list[Any] = []
    t_log: list[Any] = []
    m_z, m_leaves, m_h = hooked_graph(minidl, values, m_log)
    t_z, t_leaves, t_h = hooked_graph(torch, values, t_log)
    m_z.backward()
    t_z.backward()
    assert [name for name, _ in m_log] == [name for name, _ in t_log] == ["h seen", "w seen"]
    for (name, m), (_, t) in zip(m_log, t_log):
        np.testing.assert_allclose(m, t, rtol=1e-12, err_msg=name)
    for m, t in zip(m_leaves, t_leaves):
        assert_close(m.grad, t.grad, F64, "leaf gradient after the replacing hooks")
    assert_close(m_h.grad, t_h.grad, F64, "retained gradient (after the hooks, as PyTorch)")


def test_a_removed_hook_no_longer_runs() -> None:
    w = minidl.ones(3, dtype=minidl.float64, requires_grad=True)
    handle = w.register_hook(lambda g: g * 10)
    handle.remove()
    (w * 2).sum().backward()
    np.testing.assert_array_equal(to_np(w.grad), [2, 2, 2])


def test_hook_errors_are_clear() -> None:
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        minidl.ones(2).register_hook(lambda g: g)
    w = minidl.ones(3, requires_grad=True)
    w.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match="expected a tensor of shape \\(3,\\)"):
        (w * 2).sum().backward()


# ------------------------------------------------------------------------------ module hooks
def twin_models() -> tuple[minidl.nn.Module, torch.nn.Module]:
    m = minidl.nn.Sequential(minidl.nn.Linear(5, 4), minidl.nn.Tanh(), minidl.nn.Linear(4, 2)).double().to(DEVICE)
    t = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    with torch.no_grad():
        for (_, mp), (_, tp) in zip(m.named_parameters(), t.named_parameters()):
            tp.copy_(torch.from_numpy(to_np(mp).copy()))
    return m, t


def run_with_module_hooks(model: Any, lib: Any, x: np.ndarray, replace: bool) -> tuple[list[Any], list[Any]]:
    """Register pre and full backward hooks on every layer, backward once; return the log and grads."""
    log: list[Any] = []

    def pre_hook(name: str) -> Any:
        def hook(module: Any, grad_output: tuple) -> Any:
            log.append((name, "pre", [to_np(g).copy() for g in grad_output]))
            return (grad_output[0] * 0.5,) if replace and name == "2" else None
        return hook

    def full_hook(name: str) -> Any:
        def hook(module: Any, grad_input: tuple, grad_output: tuple) -> Any:
            log.append((name, "full", [None if g is None else to_np(g).copy() for g in grad_input],
                        [to_np(g).copy() for g in grad_output]))
            return (grad_input[0] * 3,) if replace and name == "1" else None
        return hook

    for name, module in model.named_children():
        module.register_full_backward_pre_hook(pre_hook(name))
        module.register_full_backward_hook(full_hook(name))
    inp = (md if lib is minidl else th)(x, requires_grad=True)
    (model(inp) ** 2).sum().backward()
    return log, [inp.grad] + [p.grad for p in model.parameters()]


@pytest.mark.parametrize("replace", [False, True], ids=["observe", "replace"])
def test_module_backward_hooks_fire_and_replace_as_in_pytorch(replace: bool) -> None:
    m_model, t_model = twin_models()
    x = arrays((3, 5))[0]
    m_log, m_grads = run_with_module_hooks(m_model, minidl, x, replace)
    t_log, t_grads = run_with_module_hooks(t_model, torch, x, replace)
    assert [entry[:2] for entry in m_log] == [entry[:2] for entry in t_log]
    for m_entry, t_entry in zip(m_log, t_log):
        for m_part, t_part in zip(m_entry[2:], t_entry[2:]):
            for m, t in zip(m_part, t_part):
                np.testing.assert_allclose(m, t, rtol=1e-12, err_msg=str(m_entry[:2]))
    for m, t in zip(m_grads, t_grads):
        assert_close(m, t, F64, "gradients after the module hooks")


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_a_first_layer_whose_input_needs_no_grad_gets_none_as_in_pytorch() -> None:
    seen = {}
    for lib in (minidl, torch):
        layer = lib.nn.Linear(3, 2)
        layer.register_full_backward_hook(lambda mod, gi, go, lib=lib: seen.update({lib.__name__: gi}))
        layer(lib.ones(4, 3)).sum().backward()
    assert seen["minidl"] == seen["torch"] == (None,)


def test_removing_module_backward_hooks() -> None:
    layer = minidl.nn.Linear(3, 2)
    calls = []
    handle = layer.register_full_backward_hook(lambda *args: calls.append(1))
    handle.remove()
    layer(minidl.ones(4, 3, requires_grad=True)).sum().backward()
    assert calls == []


# ------------------------------------------------------------------------------ autograd.grad
def grad_graph(lib: Any, values: list[np.ndarray]) -> tuple[list[Any], list[Any]]:
    w, b, x = leaves(lib, values)
    h = (x @ w + b).tanh()
    return [(h ** 2).sum(), h.exp().mean(0)], [w, b, h]


def test_grad_equals_pytorch_and_touches_no_grad() -> None:
    values = arrays((5, 3), (3,), (4, 5))
    (m_y, m_v), m_inputs = grad_graph(minidl, values)
    (t_y, t_v), t_inputs = grad_graph(torch, values)
    g_v = arrays((3,), seed=1)[0]
    m_grads = minidl.autograd.grad([m_y, m_v], m_inputs, grad_outputs=[None, md(g_v)], retain_graph=True)
    t_grads = torch.autograd.grad([t_y, t_v], t_inputs, grad_outputs=[None, th(g_v)], retain_graph=True)
    for i, (m, t) in enumerate(zip(m_grads, t_grads)):
        assert_close(m, t, F64, f"gradient of input {i}")
    assert all(x.grad is None for x in m_inputs)
    m_y.backward()  # the graph was retained: backward still works, and fills .grad as usual
    t_y.backward()
    assert_close(m_inputs[0].grad, t_inputs[0].grad, F64, "backward after grad")


def test_grad_of_an_unused_input() -> None:
    for lib in (minidl, torch):
        w, u = leaves(lib, arrays((3,), (2,)))
        with pytest.raises(RuntimeError, match="not have been used in the graph"):
            lib.autograd.grad((w * 2).sum(), [w, u], retain_graph=True)
        assert lib.autograd.grad((w * 2).sum(), [w, u], allow_unused=True)[1] is None
    w, u = leaves(minidl, arrays((3,), (2,)))
    np.testing.assert_array_equal(to_np(minidl.autograd.grad((w * 2).sum(), [w, u], materialize_grads=True)[1]),
                                  [0, 0])


def test_grad_refuses_double_backward_clearly() -> None:
    w = minidl.ones(3, requires_grad=True)
    with pytest.raises(NotImplementedError, match="create_graph"):
        minidl.autograd.grad((w * w).sum(), w, create_graph=True)


# ------------------------------------------------------------------------------ review cases
def test_a_leaf_hook_sees_the_total_gradient_once_as_in_pytorch() -> None:
    """x * x reaches x twice: the hook runs once, on the sum (a non-linear hook shows the difference)."""
    seen: dict[str, list[Any]] = {"minidl": [], "torch": []}
    for lib in (minidl, torch):
        x = leaves(lib, [np.array([1.0, -2.0])])[0]
        x.register_hook(lambda g, lib=lib: seen[lib.__name__].append(to_np(g).tolist()) or g.sign())
        (x * x * 3).sum().backward()
        seen[lib.__name__].append(to_np(x.grad).tolist())
    assert seen["minidl"] == seen["torch"] == [[6.0, -12.0], [1.0, -1.0]]


def test_a_custom_backward_returning_one_array_for_two_inputs_gives_right_grads() -> None:
    class Twice(minidl.autograd.Function):
        @staticmethod
        def forward(ctx: Any, a: Any, b: Any) -> Any:
            return (a + b) * 2

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            h = g * 2
            return h, h

    a, b = leaves(minidl, [np.ones(2), np.ones(2)])
    Twice.apply(a, b).sum().backward()
    Twice.apply(a, b).sum().backward()
    np.testing.assert_array_equal(to_np(a.grad), [4, 4])
    np.testing.assert_array_equal(to_np(b.grad), [4, 4])


def test_module_hooks_fire_on_every_backward_of_a_retained_graph() -> None:
    counts = {}
    for lib in (minidl, torch):
        layer, calls = lib.nn.Linear(3, 2), []
        layer.register_full_backward_hook(lambda *args, calls=calls: calls.append(1))
        y = layer(lib.ones(4, 3, requires_grad=True)).sum()
        y.backward(retain_graph=True)
        y.backward()
        counts[lib.__name__] = len(calls)
    assert counts["minidl"] == counts["torch"] == 2


def test_grad_runs_only_the_part_of_the_graph_it_needs() -> None:
    """grad w.r.t. an intermediate h leaves the graph below h intact, so a later backward works."""
    results = {}
    for lib in (minidl, torch):
        x = leaves(lib, [np.array([1.0, 2.0])])[0]
        h = x * 2
        z = (h * 4).sum()
        (gh,) = lib.autograd.grad((h * h).sum(), [h])
        z.backward()
        results[lib.__name__] = (to_np(gh).tolist(), to_np(x.grad).tolist())
    assert results["minidl"] == results["torch"]


def test_a_custom_function_sees_in_place_edits_of_what_it_saved() -> None:
    for lib in (minidl, torch):
        class Mul(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any, w: Any) -> Any:
                ctx.save_for_backward(x)
                return x * w

            @staticmethod
            def backward(ctx: Any, g: Any) -> Any:
                (x,) = ctx.saved_tensors
                return None, g * x

        x, w = lib.ones(3, dtype=lib.float64), lib.ones(3, dtype=lib.float64, requires_grad=True)
        y = Mul.apply(x, w)
        x.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
