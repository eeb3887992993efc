"""examples/tiny_autograd.py (the engine in 80 lines) agrees with minidl on a two-layer MLP, step by step."""

import importlib.util
from pathlib import Path

import numpy as np

import minidl

spec = importlib.util.spec_from_file_location("tiny_autograd", Path(__file__).parents[1] / "examples/tiny_autograd.py")
tiny = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tiny)


def minidl_train(steps: int = 50, lr: float = 0.1, seed: int = 0) -> tuple[list[float], list[np.ndarray]]:
    """The same run as ``tiny.train``, written with minidl (the same draws, the same order)."""
    rng = np.random.default_rng(seed)
    x, y = minidl.tensor(rng.standard_normal((32, 8))), minidl.tensor(rng.standard_normal((32, 3)))
    params = [minidl.tensor(rng.standard_normal(s) * 0.3, requires_grad=True) for s in [(8, 16), (16,), (16, 3), (3,)]]
    losses = []
    for _ in range(steps):
        w1, b1, w2, b2 = params
        loss = ((((x @ w1 + b1).relu() @ w2 + b2) - y) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with minidl.no_grad():
            for p in params:
                p.data -= lr * p.grad.data
        losses.append(loss.item())
    return losses, [p.detach().numpy() for p in params]


def test_tiny_engine_trains_like_minidl():
    tiny_losses, tiny_weights = tiny.train()
    losses, weights = minidl_train()
    np.testing.assert_allclose(tiny_losses, losses, rtol=1e-12)
    assert tiny_losses[-1] < 0.5 * tiny_losses[0]
    for a, b in zip(tiny_weights, weights):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


def test_tiny_engine_gradients_equal_minidl_on_a_shared_node():
    rng = np.random.default_rng(1)
    a, w = rng.standard_normal((4, 5)), rng.standard_normal((5, 5))
    t_a, t_w = tiny.Tensor(a, requires_grad=True), tiny.Tensor(w, requires_grad=True)
    h = t_a @ t_w
    (h @ t_w + h).relu().mean().backward()  # h is used twice, w twice: gradients accumulate
    m_a, m_w = minidl.tensor(a, requires_grad=True), minidl.tensor(w, requires_grad=True)
    g = m_a @ m_w
    (g @ m_w + g).relu().mean().backward()
    np.testing.assert_allclose(t_a.grad, m_a.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(t_w.grad, m_w.grad.numpy(), rtol=1e-12)
