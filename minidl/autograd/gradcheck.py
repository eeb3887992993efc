"""``gradcheck``: compare the analytic Jacobian with central differences, as PyTorch does.

For a function f of tensors x_1..x_k (float64), and each input that requires grad:

* numerical Jacobian, column by column:  J_num[:, j] = (f(x + eps e_j) - f(x - eps e_j)) / (2 eps)
* analytic Jacobian, row by row: backward with a one-hot upstream gradient e_i gives J[i, :]

They must agree elementwise: ``|J - J_num| <= atol + rtol * |J_num|``.  On top of PyTorch's
check, a random upstream gradient v (never all ones) is pushed through backward once and
compared with v^T J_num, so the backward is also exercised on a dense, generic gradient.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy

from minidl import backend
from minidl.autograd.tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when an analytic gradient disagrees with the numerical one."""


def gradcheck(func: Callable[..., Any], inputs: Tensor | Sequence[Any], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True,
              seed: int = 0) -> bool:
    """True if ``func``'s backward matches central differences on ``inputs``.

    ``inputs`` is a tensor or a sequence (non-tensors are passed through); every tensor that
    requires grad must be float64.  ``func`` returns a tensor or a tuple of tensors.  On a
    mismatch, raises :class:`GradcheckError` naming the input and the worst element (or returns
    False when ``raise_exception=False``).
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input tensor requires grad")
    for i in wrt:
        if inputs[i].dtype != backend.float64:
            raise TypeError(f"gradcheck: input {i} has dtype {inputs[i].dtype}; gradcheck needs float64 "
                            "(central differences in float32 are too coarse)")
    try:
        for i in wrt:
            _check_input(func, inputs, i, eps, atol, rtol)
        _check_random_vjp(func, inputs, wrt, eps, atol, rtol, numpy.random.default_rng(seed))
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def outputs(func: Callable[..., Any], inputs: tuple[Any, ...]) -> list[Tensor]:
    out = func(*inputs)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _flat_output(func: Callable[..., Any], inputs: tuple[Any, ...]) -> numpy.ndarray:
    """All outputs of ``func`` concatenated into one float64 NumPy vector."""
    outs = outputs(func, inputs)
    return numpy.concatenate([backend.to_numpy(o.array).astype(numpy.float64).ravel() for o in outs])


def numerical_jacobian(func: Callable[..., Any], inputs: tuple[Any, ...], i: int,
                       eps: float) -> numpy.ndarray:
    """J_num with shape (outputs, elements of input i), by central differences."""
    x = inputs[i].array
    flat = x.reshape(-1)  # a view: perturbing it perturbs the input in place
    columns = []
    for j in range(flat.size):
        original = flat[j].item()
        flat[j] = original + eps
        plus = _flat_output(func, inputs)
        flat[j] = original - eps
        minus = _flat_output(func, inputs)
        flat[j] = original
        columns.append((plus - minus) / (2 * eps))
    return numpy.stack(columns, axis=1)


def vjp(func: Callable[..., Any], inputs: tuple[Any, ...], upstream: numpy.ndarray,
         wrt: list[int]) -> list[numpy.ndarray]:
    """v^T J for each input in ``wrt``, by one backward pass with upstream gradient v."""
    for i in wrt:
        inputs[i].grad = None
    outs = outputs(func, inputs)
    offset = 0
    for o in outs:
        g = upstream[offset:offset + o.numel()].reshape(o.shape).astype(o.dtype)
        offset += o.numel()
        if o.requires_grad:
            o.backward(backend.to_device(g, o.device), retain_graph=True)
    results = []
    for i in wrt:
        grad = inputs[i].grad
        results.append(numpy.zeros(inputs[i].numel()) if grad is None
                       else backend.to_numpy(grad.array).astype(numpy.float64).ravel())
        inputs[i].grad = None
    return results


def analytic_jacobian(func: Callable[..., Any], inputs: tuple[Any, ...], i: int) -> numpy.ndarray:
    """J with shape (outputs, elements of input i), one backward pass per output element."""
    n_out = _flat_output(func, inputs).size
    rows = [vjp(func, inputs, numpy.eye(1, n_out, k).ravel(), [i])[0] for k in range(n_out)]
    return numpy.stack(rows, axis=0) if rows else numpy.zeros((0, inputs[i].numel()))


def _check_input(func: Callable[..., Any], inputs: tuple[Any, ...], i: int, eps: float,
                 atol: float, rtol: float) -> None:
    numerical = numerical_jacobian(func, inputs, i, eps)
    analytic = analytic_jacobian(func, inputs, i)
    _compare(analytic, numerical, atol, rtol, f"Jacobian mismatch for input {i}", inputs[i].shape)


def _check_random_vjp(func: Callable[..., Any], inputs: tuple[Any, ...], wrt: list[int], eps: float,
                      atol: float, rtol: float, rng: numpy.random.Generator) -> None:
    n_out = _flat_output(func, inputs).size
    upstream = rng.uniform(0.5, 1.5, n_out) * rng.choice([-1.0, 1.0], n_out)
    analytic = vjp(func, inputs, upstream, wrt)
    for i, got in zip(wrt, analytic):
        expected = upstream @ numerical_jacobian(func, inputs, i, eps)
        _compare(got[None], expected[None], atol, rtol,
                 f"vector-Jacobian product mismatch (random upstream gradient) for input {i}",
                 inputs[i].shape)


def _compare(analytic: numpy.ndarray, numerical: numpy.ndarray, atol: float, rtol: float,
             what: str, shape: tuple[int, ...]) -> None:
    """Raise with the worst element if ``|a - n| <= atol + rtol |n|`` fails anywhere."""
    excess = numpy.abs(analytic - numerical) - (atol + rtol * numpy.abs(numerical))
    if excess.size == 0 or excess.max() <= 0:
        return
    out, elem = numpy.unravel_index(int(numpy.argmax(excess)), excess.shape)
    index = numpy.unravel_index(int(elem), shape) if shape else ()
    raise GradcheckError(
        f"gradcheck: {what} (shape {tuple(shape)}): worst at output element {out}, input index "
        f"{tuple(int(k) for k in index)}: analytic {analytic[out, elem]:.10g} vs numerical "
        f"{numerical[out, elem]:.10g} (atol={atol}, rtol={rtol})")
