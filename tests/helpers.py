"""Shared test tools: make inputs, run minidl and PyTorch side by side, compare, gradcheck.

The minidl side runs on ``DEVICE`` (``pytest --device cuda`` for CuPy); PyTorch always runs on
the CPU and results are compared as NumPy arrays.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

import minidl
from minidl import backend

DEVICE = os.environ.get("MINIDL_TEST_DEVICE", "cpu")
#: largest allowed relative error max|a - b| / max|b| between minidl and PyTorch
TOL = {np.float64: 1e-10, np.float32: 1e-5}
DTYPES = [np.float32, np.float64]


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def md(array: np.ndarray, requires_grad: bool = False) -> minidl.Tensor:
    """A minidl leaf on DEVICE holding a copy of ``array`` (dtype kept)."""
    return minidl.tensor(np.array(array), device=DEVICE, requires_grad=requires_grad)


def th(array: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    """A PyTorch CPU leaf holding a copy of ``array`` (dtype kept)."""
    return torch.tensor(np.array(array), requires_grad=requires_grad)


def to_np(t: Any) -> np.ndarray:
    """NumPy values of a minidl tensor, a torch tensor or an array."""
    if isinstance(t, minidl.Tensor):
        return backend.to_numpy(t.detach().array)
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return backend.to_numpy(t) if hasattr(t, "__cuda_array_interface__") or hasattr(t, "get") else np.asarray(t)


def rel_err(a: Any, b: Any) -> float:
    """max|a - b| / max|b| (absolute error when b is all zeros); inf on shape mismatch."""
    a, b = to_np(a), to_np(b)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    if not np.array_equal(np.isnan(a64), np.isnan(b64)):
        return float("inf")
    a64, b64 = np.nan_to_num(a64), np.nan_to_num(b64)
    return float(np.max(np.abs(a64 - b64)) / max(float(np.max(np.abs(b64))), 1e-300 if b64.any() else 1.0))


def assert_close(a: Any, b: Any, dtype: Any, what: str = "values", tol: float | None = None) -> float:
    """Shapes and dtypes equal and relative error within the tolerance of ``dtype``."""
    a_np, b_np = to_np(a), to_np(b)
    assert a_np.shape == b_np.shape, f"{what}: shape {a_np.shape} != torch {b_np.shape}"
    assert a_np.dtype == b_np.dtype, f"{what}: dtype {a_np.dtype} != torch {b_np.dtype}"
    err = rel_err(a_np, b_np)
    limit = TOL[np.dtype(dtype).type] if tol is None else tol
    assert err <= limit, f"{what}: relative error {err:.3g} > {limit:.3g}"
    return err


def check_parity(md_fn: Callable[..., Any], th_fn: Callable[..., Any], arrays: Sequence[np.ndarray],
                 dtype: Any, grad: bool = True, tol: float | None = None, seed: int = 1) -> float:
    """Run both frameworks on the same float inputs and compare outputs and input gradients.

    Float arrays in ``arrays`` are cast to ``dtype`` and require grad (when ``grad``); other
    arrays (indices, masks) are passed as they are.  The upstream gradient is random (never all
    ones).  Returns the largest relative error seen.
    """
    floats = [np.issubdtype(np.asarray(a).dtype, np.floating) for a in arrays]
    arrays = [np.asarray(a, dtype) if f else np.asarray(a) for a, f in zip(arrays, floats)]
    m_in = [md(a, grad and f) for a, f in zip(arrays, floats)]
    t_in = [th(a, grad and f) for a, f in zip(arrays, floats)]
    m_out, t_out = md_fn(*m_in), th_fn(*t_in)
    worst = assert_close(m_out, t_out, dtype, "forward", tol)
    if grad:
        upstream = rng(seed).standard_normal(t_out.shape).astype(t_out.detach().numpy().dtype)
        m_out.backward(md(upstream))
        t_out.backward(torch.from_numpy(upstream))
        for i, (m, t) in enumerate(zip(m_in, t_in)):
            if t.requires_grad:
                assert m.grad is not None, f"input {i}: minidl produced no gradient"
                worst = max(worst, assert_close(m.grad, t.grad, dtype, f"grad of input {i}", tol))
    return worst


def check_grad(fn: Callable[..., Any], arrays: Sequence[np.ndarray], **kwargs: Any) -> None:
    """minidl.gradcheck in float64 with every float input requiring grad."""
    inputs = [md(np.asarray(a, np.float64), True) if np.issubdtype(np.asarray(a).dtype, np.floating)
              else md(np.asarray(a)) for a in arrays]
    assert minidl.gradcheck(fn, inputs, **kwargs)


def nonzero(shape: tuple[int, ...], seed: int = 0, low: float = 0.2, high: float = 2.0) -> np.ndarray:
    """float64 values with ``low <= |x| < high`` and random signs: no kink of relu/abs at 0 nearby."""
    r = rng(seed)
    return r.uniform(low, high, shape) * r.choice([-1.0, 1.0], shape)


def positive(shape: tuple[int, ...], seed: int = 0, low: float = 0.5, high: float = 2.0) -> np.ndarray:
    """float64 values in ``[low, high)``: a safe domain for log, sqrt, division and pow bases."""
    return rng(seed).uniform(low, high, shape)


def mlp_problem(dtype: Any, seed: int = 0, sizes: tuple[int, int, int] = (7, 16, 5), batch: int = 12,
                batches: int = 4) -> tuple[list[np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
    """Initial weights ``[W1, b1, W2, b2]`` (Linear layout (out, in)) and mini-batches ``(x, y)``
    for a small tanh MLP, as NumPy arrays of ``dtype`` (for optimizer tests)."""
    g = rng(seed)
    n_in, n_hidden, n_out = sizes
    weights = [g.uniform(-1, 1, shape) / np.sqrt(shape[-1] if len(shape) > 1 else n_in)
               for shape in [(n_hidden, n_in), (n_hidden,), (n_out, n_hidden), (n_out,)]]
    data = [(g.standard_normal((batch, n_in)), g.standard_normal((batch, n_out))) for _ in range(batches)]
    return ([w.astype(dtype) for w in weights],
            [(x.astype(dtype), y.astype(dtype)) for x, y in data])


def mlp_loss(params: Sequence[Any], x: Any, y: Any) -> Any:
    """Mean squared error of ``tanh(x W1^T + b1) W2^T + b2``; minidl and torch tensors alike."""
    w1, b1, w2, b2 = params
    out = (x @ w1.T + b1).tanh() @ w2.T + b2
    return ((out - y) ** 2).mean()


def train_steps(optimizer: Any, params: Sequence[Any], batches: Sequence[tuple[Any, Any]], steps: int,
                loss_fn: Callable[..., Any] = mlp_loss) -> None:
    """``steps`` optimizer steps cycling through ``batches``; minidl and torch objects alike.  LBFGS
    (which re-evaluates the loss) steps through a closure over all batches instead."""
    if type(optimizer).__name__ == "LBFGS":
        for _ in range(steps):
            optimizer.step(full_batch_closure(optimizer, params, batches, loss_fn))
        return
    for i in range(steps):
        x, y = batches[i % len(batches)]
        optimizer.zero_grad()
        loss_fn(params, x, y).backward()
        optimizer.step()


def full_batch_closure(optimizer: Any, params: Sequence[Any], batches: Sequence[tuple[Any, Any]],
                       loss_fn: Callable[..., Any] = mlp_loss) -> Callable[[], Any]:
    """A closure computing the mean loss over all batches and its gradients (minidl or torch)."""
    def closure() -> Any:
        optimizer.zero_grad()
        loss = sum(loss_fn(params, x, y) for x, y in batches) / len(batches)
        loss.backward()
        return loss
    return closure
