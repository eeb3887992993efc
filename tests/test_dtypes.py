"""No op upcasts float32 to float64: every op and its backward, run on float32 tensors with
Python-float and NumPy-float64 scalar operands, gives float32 outputs and float32 gradients.

(NumPy treats a Python float as "weak" and keeps float32, but a ``numpy.float64`` scalar or a
0-d float64 array as a float64 operand: a silent upcast unless minidl converts it.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from helpers import md, rng, th, to_np

import minidl

#: the same number as a Python float, a NumPy float64 scalar and a 0-d float64 array
SCALARS = [0.75, np.float64(0.75), np.array(0.75)]


def _pos(x: minidl.Tensor) -> minidl.Tensor:
    """A positive tensor made from ``x`` (a safe base for log, sqrt and pow)."""
    return x.abs() + 0.5


# name -> f(x (3, 4), y (4,), s): every function uses the scalar s where the op takes one
OPS = {
    # arithmetic with scalars on either side
    "add": lambda x, y, s: (x + s) + (s + y), "add_alpha": lambda x, y, s: minidl.add(x, y, alpha=s),
    "sub": lambda x, y, s: (x - s) - (s - y), "sub_alpha": lambda x, y, s: minidl.sub(x, y, alpha=s),
    "mul": lambda x, y, s: (x * s) * (s * y), "div": lambda x, y, s: (x / s) + s / _pos(y),
    "div_tensors": lambda x, y, s: x / _pos(y), "neg": lambda x, y, s: -x,
    "pow_scalar": lambda x, y, s: _pos(x) ** s, "pow_function": lambda x, y, s: minidl.pow(_pos(x), s),
    "rpow": lambda x, y, s: s**x, "pow_tensors": lambda x, y, s: _pos(x) ** y,
    "maximum": lambda x, y, s: minidl.maximum(x, s) + minidl.maximum(x, y),
    "minimum": lambda x, y, s: minidl.minimum(s, x) + minidl.minimum(y, x),
    "where": lambda x, y, s: minidl.where(x > 0, x, s) + minidl.where(x > s, s, y),
    "clamp": lambda x, y, s: x.clamp(-s, s), "clamp_min": lambda x, y, s: minidl.clamp(x, min=s),
    "clip_max": lambda x, y, s: x.clip(max=s),
    # unary maths and activations (scalar parameters included)
    "exp": lambda x, y, s: x.exp(), "log": lambda x, y, s: _pos(x).log(), "sqrt": lambda x, y, s: _pos(x).sqrt(),
    "abs": lambda x, y, s: abs(x), "relu": lambda x, y, s: x.relu(),
    "leaky_relu": lambda x, y, s: minidl.leaky_relu(x, s), "sigmoid": lambda x, y, s: x.sigmoid(),
    "tanh": lambda x, y, s: x.tanh(), "softplus": lambda x, y, s: minidl.softplus(x, beta=s, threshold=s * 2),
    "gelu": lambda x, y, s: minidl.gelu(x), "gelu_tanh": lambda x, y, s: minidl.gelu(x, approximate="tanh"),
    "softmax": lambda x, y, s: minidl.softmax(x * s, 1), "log_softmax": lambda x, y, s: minidl.log_softmax(x, 0),
    "logsumexp": lambda x, y, s: minidl.logsumexp(x, 1, keepdim=True),
    # reductions
    "sum": lambda x, y, s: x.sum(1) * s, "mean": lambda x, y, s: x.mean((0, 1)) + s, "var": lambda x, y, s: x.var(0),
    "var_population": lambda x, y, s: x.var(correction=0), "max": lambda x, y, s: x.max() + y.max(0).values,
    "min": lambda x, y, s: x.min(1, keepdim=True).values, "amax": lambda x, y, s: x.amax(1),
    "amin": lambda x, y, s: minidl.amin(x, (0, 1)),
    # shapes and copies
    "reshape": lambda x, y, s: x.reshape(2, 6), "transpose": lambda x, y, s: x.transpose(0, 1) * y[:3],
    "permute": lambda x, y, s: x.permute(1, 0), "T": lambda x, y, s: x.T,
    "squeeze_unsqueeze": lambda x, y, s: x.unsqueeze(1).squeeze(), "expand": lambda x, y, s: y.expand(3, 4) * x,
    "flatten": lambda x, y, s: x.flatten(), "index": lambda x, y, s: x[1:, ::2] + x[[0, 0], 1:3],
    "index_mask": lambda x, y, s: x[x > s], "cat": lambda x, y, s: minidl.cat([x, y[None]], 0),
    "stack": lambda x, y, s: minidl.stack([x[0], y], 1), "pad": lambda x, y, s: minidl.pad(x, (1, 2), value=s),
    "pad_reflect": lambda x, y, s: minidl.pad(x[None], (2, 1), mode="reflect"),
    "pad_replicate": lambda x, y, s: minidl.pad(x[None], (1, 1), mode="replicate"),
    "pad_circular": lambda x, y, s: minidl.pad(x[None], (1, 3), mode="circular"),
    "matmul": lambda x, y, s: x @ y, "matmul_matrix": lambda x, y, s: x.T @ x,
    "clone": lambda x, y, s: x.clone(), "cast_round_trip": lambda x, y, s: x.double().float() * y,
    "to_same": lambda x, y, s: x.to(minidl.float32) * s,
}


@pytest.mark.parametrize("scalar", SCALARS, ids=["python_float", "numpy_float64", "numpy_0d_float64"])
@pytest.mark.parametrize("name", OPS)
def test_float32_in_float32_out_and_float32_gradients(name: str, scalar: Any) -> None:
    x = md(rng(1).standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    y = md(rng(2).standard_normal(4).astype(np.float32), requires_grad=True)
    out = OPS[name](x, y, scalar)
    assert out.dtype == minidl.float32, f"{name}: output dtype {out.dtype}"
    out.backward(md(rng(3).standard_normal(out.shape).astype(np.float32)))
    grads = [t.grad for t in (x, y) if t.grad is not None]
    assert grads, f"{name}: no gradient reached the inputs"
    assert all(g.dtype == minidl.float32 for g in grads), f"{name}: gradient dtypes {[g.dtype for g in grads]}"


@pytest.mark.parametrize("scalar", SCALARS, ids=["python_float", "numpy_float64", "numpy_0d_float64"])
def test_in_place_updates_and_comparisons_keep_dtypes(scalar: Any) -> None:
    x = md(np.ones(3, np.float32))
    x.add_(scalar)
    x.mul_(scalar)
    x.add_(md(np.ones(3, np.float32)), alpha=scalar)
    x.copy_(md(np.full(3, 2.0)))
    x.fill_(scalar)
    x[0] = scalar
    assert x.dtype == minidl.float32
    assert (x > scalar).dtype == minidl.bool_ and (x == scalar).dtype == minidl.bool_


def test_float64_stays_float64() -> None:
    x = md(rng(4).standard_normal((3, 4)), requires_grad=True)
    y = md(rng(5).standard_normal(4), requires_grad=True)
    for name in ["add", "mul", "pow_scalar", "softplus", "logsumexp", "var", "matmul", "pad"]:
        out = OPS[name](x, y, np.float32(0.75))
        assert out.dtype == minidl.float64, name


INTEGER_OPS = {
    "mul_float": lambda i, lib: i * 0.5, "radd_float": lambda i, lib: 0.5 + i, "add_int": lambda i, lib: i + 2,
    "div": lambda i, lib: i / 2, "where": lambda i, lib: lib.where(i > 1, i, 0.5),
    "pow_float": lambda i, lib: i**0.5, "pow_int": lambda i, lib: i**2, "clamp_float": lambda i, lib: i.clamp(0.5),
    "clamp_int": lambda i, lib: i.clamp(max=2), "exp": lambda i, lib: lib.exp(i), "log": lambda i, lib: lib.log(i),
    "sqrt": lambda i, lib: lib.sqrt(i), "sigmoid": lambda i, lib: lib.sigmoid(i), "tanh": lambda i, lib: lib.tanh(i),
    "logsumexp": lambda i, lib: lib.logsumexp(i, 0), "relu": lambda i, lib: lib.relu(i),
    "exp_bool": lambda i, lib: lib.exp(i > 1), "sum_bool": lambda i, lib: (i > 1).sum(),
}


@pytest.mark.parametrize("name", INTEGER_OPS)
def test_integer_inputs_follow_torch_promotion(name: str) -> None:
    """Integer and bool inputs give torch's dtype: float32 for float-valued ops, never float64."""
    a = np.arange(1, 5)
    got, expected = INTEGER_OPS[name](md(a), minidl), INTEGER_OPS[name](torch.tensor(a), torch)
    assert str(got.dtype) == str(expected.dtype).replace("torch.", "minidl.")
    np.testing.assert_allclose(to_np(got), to_np(expected), rtol=1e-6)


# ------------------------------------------------------------------------ promotion of two tensors
#: (dtype a, dtype b): float widths, int with float, int widths, bool with int and float, unsigned with signed
PAIRS = [("float32", "float64"), ("int64", "float32"), ("int32", "int64"), ("bool", "int64"),
         ("bool", "float32"), ("uint8", "int8"), ("int64", "float64")]
BINARY = {"add": lambda a, b, lib: a + b, "mul": lambda a, b, lib: a * b, "sub": lambda a, b, lib: b - a,
          "maximum": lambda a, b, lib: lib.maximum(a, b), "where": lambda a, b, lib: lib.where(a > 0, a, b)}


def _operand(dtype: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    values = rng(seed).integers(0, 3, size=shape)  # 0, 1, 2: exact in every dtype, and both bools
    return values.astype(dtype)


@pytest.mark.parametrize(("op", "pair"), [(op, pair) for op in BINARY for pair in PAIRS
                                          if not (op == "sub" and "bool" in pair)],  # torch refuses bool subtraction
                         ids=lambda v: v if isinstance(v, str) else "-".join(v))
@pytest.mark.parametrize("shapes", [((3, 4), (4,)), ((3, 4), ()), ((), (2, 3))], ids=["both", "b 0-d", "a 0-d"])
def test_two_tensors_promote_as_torch(op: str, pair: tuple[str, str], shapes: tuple) -> None:
    """The result dtype (a 0-d tensor widens only from a higher kind) and the values equal torch's."""
    a, b = _operand(pair[0], shapes[0], 1), _operand(pair[1], shapes[1], 2)
    got, expected = BINARY[op](md(a), md(b), minidl), BINARY[op](torch.tensor(a), torch.tensor(b), torch)
    assert repr(got.dtype) == repr(expected.dtype).replace("torch.", "minidl.")
    np.testing.assert_array_equal(to_np(got), to_np(expected))


def test_gradients_flow_through_promotion_in_each_dtype() -> None:
    """float32 x float64: a float64 result, each gradient in its own tensor's dtype, values as torch."""
    a, b = rng(3).standard_normal((3, 4)).astype(np.float32), rng(4).standard_normal(4)
    ma, mb, ta, tb = md(a, True), md(b, True), th(a, True), th(b, True)
    g = rng(5).standard_normal((3, 4))
    (ma * mb).backward(md(g))
    (ta * tb).backward(th(g))
    for m, t in ((ma, ta), (mb, tb)):
        assert m.grad.dtype == m.dtype and str(t.grad.dtype).endswith(m.dtype.name)
        np.testing.assert_allclose(to_np(m.grad), to_np(t.grad), rtol=1e-6)


def test_strict_promotion_refuses_every_implicit_conversion() -> None:
    x32, x64, i = md(np.ones(3, np.float32)), md(np.ones(3)), md(np.arange(3))
    with minidl.strict_promotion():
        assert minidl.is_strict_promotion()
        for a, b in ((x32, x64), (i, x32)):
            with pytest.raises(TypeError, match="strict promotion"):
                a + b
        with pytest.raises(TypeError, match="mse_loss.*strict promotion"):
            minidl.nn.functional.mse_loss(x32, i)
        assert (x32 * 0.5).dtype == minidl.float32  # a Python number is never a conversion
    assert not minidl.is_strict_promotion() and (x32 + x64).dtype == minidl.float64


def test_matrix_products_need_one_dtype_as_torch() -> None:
    a, b = rng(6).standard_normal((2, 3)), rng(7).standard_normal((3, 2))
    for product in (lambda x, y: x @ y, minidl.mm):
        with pytest.raises(TypeError, match="same dtype"):
            product(md(a.astype(np.float32)), md(b))
    with pytest.raises(RuntimeError):
        torch.tensor(a, dtype=torch.float32) @ torch.tensor(b)


@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss", "smooth_l1_loss", "binary_cross_entropy_with_logits"])
@pytest.mark.parametrize("target_dtype", ["int64", "float64"])
def test_losses_promote_their_targets_as_torch(loss: str, target_dtype: str) -> None:
    """An int64 or float64 target with a float32 input: torch's result dtype, value and input gradient."""
    if loss == "binary_cross_entropy_with_logits" and target_dtype == "int64":
        with pytest.raises(TypeError, match="target has dtype"):
            minidl.nn.functional.binary_cross_entropy_with_logits(md(np.zeros(3, np.float32)), md(np.ones(3, np.int64)))
        return
    x = rng(8).standard_normal((4, 5)).astype(np.float32)
    y = rng(9).integers(0, 2, (4, 5)).astype(target_dtype)
    mx, tx = md(x, True), th(x, True)
    got = getattr(minidl.nn.functional, loss)(mx, md(y))
    expected = getattr(torch.nn.functional, loss)(tx, th(y))
    assert repr(got.dtype) == repr(expected.dtype).replace("torch.", "minidl.")
    got.backward()
    expected.backward()
    np.testing.assert_allclose(to_np(got), to_np(expected), rtol=1e-6)
    np.testing.assert_allclose(to_np(mx.grad), to_np(tx.grad), rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------------- dtype objects
NAMES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool",
         "float", "double", "half", "long", "int", "short"]


@pytest.mark.parametrize("name", NAMES)
def test_dtypes_print_compare_and_pass_to_numpy_as_torch(name: str) -> None:
    dtype = getattr(minidl, name)
    assert repr(dtype) == str(dtype) == repr(getattr(torch, name)).replace("torch.", "minidl.")
    assert dtype == np.dtype(dtype.name) and np.dtype(dtype.name) == dtype and hash(dtype) == hash(np.dtype(dtype.name))
    assert np.zeros(2, dtype=dtype).dtype == dtype and minidl.zeros(2, dtype=dtype).dtype is dtype
    assert dtype.is_floating_point == getattr(torch, name).is_floating_point
    assert dtype.itemsize == getattr(torch, name).itemsize
    assert f"{minidl.zeros(1, dtype=dtype).dtype}" == f"{torch.zeros(1, dtype=getattr(torch, name)).dtype}".replace(
        "torch", "minidl")
