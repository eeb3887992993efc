"""minidl's engine in 80 lines: the same names and the same backward, without the production parts.

Read this first.  A ``Tensor`` holds ``data`` (a NumPy array), ``grad`` and ``grad_fn``: here a
closure that, given the gradient of the output, adds each input's gradient to it (minidl's
``Function.backward`` returns them instead; the engine adds them).  ``backward`` visits the
graph in reverse topological order, as ``minidl/autograd/engine.py`` does, iteratively (no
recursion limit on deep graphs).  What the real engine adds: dtypes and devices, broadcasting
in every op, freeing the graph, ``no_grad``, hooks, error messages, and fused fast paths.

    python examples/tiny_autograd.py     # trains a two-layer MLP and checks it against minidl
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class Tensor:
    def __init__(self, data: np.ndarray, parents: tuple[Tensor, ...] = (), requires_grad: bool = False) -> None:
        self.data = np.asarray(data, dtype=np.float64)
        self.grad: np.ndarray | None = None
        self.parents = parents
        self.requires_grad = requires_grad or any(p.requires_grad for p in parents)
        self.grad_fn: Callable[[np.ndarray], None] | None = None

    def __matmul__(self, other: Tensor) -> Tensor:       # z = x @ w;  dx = g @ w.T,  dw = x.T @ g
        out = Tensor(self.data @ other.data, (self, other))
        out.grad_fn = lambda g: (self._add_grad(g @ other.data.T), other._add_grad(self.data.T @ g))
        return out

    def __add__(self, other: Tensor) -> Tensor:          # z = x + b (b broadcast over rows);  dx = g,  db = sum_rows g
        out = Tensor(self.data + other.data, (self, other))
        out.grad_fn = lambda g: (self._add_grad(g), other._add_grad(g.sum(0) if other.data.ndim < g.ndim else g))
        return out

    def __sub__(self, other: Tensor) -> Tensor:          # z = x - y;  dx = g,  dy = -g
        out = Tensor(self.data - other.data, (self, other))
        out.grad_fn = lambda g: (self._add_grad(g), other._add_grad(-g))
        return out

    def relu(self) -> Tensor:                            # z = max(x, 0);  dx = g * (x > 0)
        out = Tensor(np.maximum(self.data, 0), (self,))
        out.grad_fn = lambda g: self._add_grad(g * (self.data > 0))
        return out

    def pow(self, k: float) -> Tensor:                   # z = x^k;  dx = g * k x^(k-1)
        out = Tensor(self.data**k, (self,))
        out.grad_fn = lambda g: self._add_grad(g * k * self.data ** (k - 1))
        return out

    def mean(self) -> Tensor:                            # z = sum(x) / n;  dx = g / n everywhere
        out = Tensor(self.data.mean(), (self,))
        out.grad_fn = lambda g: self._add_grad(np.full_like(self.data, g / self.data.size))
        return out

    def _add_grad(self, g: np.ndarray) -> None:
        if self.requires_grad:
            self.grad = g if self.grad is None else self.grad + g

    def backward(self) -> None:
        """d(self)/d(every tensor behind it): reverse topological order, each node once."""
        order, seen, stack = [], set(), [(self, False)]
        while stack:                                     # iterative depth-first search
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in node.parents)
        self.grad = np.ones_like(self.data)
        for node in reversed(order):                     # outputs before inputs
            if node.grad_fn is not None and node.grad is not None:
                node.grad_fn(node.grad)


def mlp_loss(x: Tensor, y: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> Tensor:
    """Mean squared error of a two-layer ReLU network (weights (in, out) here: x @ w)."""
    return ((x @ w1 + b1).relu() @ w2 + b2 - y).pow(2).mean()


def train(steps: int = 50, lr: float = 0.1, seed: int = 0) -> tuple[list[float], list[np.ndarray]]:
    """Plain gradient descent on a random regression problem; returns the losses and final weights."""
    rng = np.random.default_rng(seed)
    x, y = Tensor(rng.standard_normal((32, 8))), Tensor(rng.standard_normal((32, 3)))
    params = [Tensor(rng.standard_normal(s) * 0.3, requires_grad=True) for s in [(8, 16), (16,), (16, 3), (3,)]]
    losses = []
    for _ in range(steps):
        for p in params:
            p.grad = None
        loss = mlp_loss(x, y, *params)
        loss.backward()
        for p in params:
            p.data -= lr * p.grad
        losses.append(float(loss.data))
    return losses, [p.data for p in params]


if __name__ == "__main__":
    losses, _ = train()
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f} in {len(losses)} steps")
