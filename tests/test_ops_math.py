"""The usual math functions (sin ... square), the step functions (floor ... sign, gradient 0), the
matrix forms mm/bmm/addmm/t and split/chunk: gradcheck in float64 and parity with PyTorch (values
and gradients under a random upstream gradient) in float32 and float64, as functions and methods."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import DTYPES, check_grad, check_parity, md, nonzero, positive, rng, to_np

import minidl

SHAPES = [(), (5,), (3, 4), (2, 3, 2)]


def _within(low: float, high: float, seed: int):
    return lambda s: [rng(seed).uniform(low, high, s)]


def _away_from_integers(seed: int, scale: float = 3.0):
    """Values in (-scale, scale) at least 0.05 from every integer and every half (no jump nearby)."""
    def make(s):
        x = rng(seed).uniform(-scale, scale, s)
        frac = np.abs(x * 2 - np.round(x * 2))
        return [np.where(frac < 0.1, x + 0.2, x)]
    return make


# name -> (minidl function, torch function, input maker shape -> arrays)
MATH = {
    "sin": (minidl.sin, torch.sin, lambda s: [rng(1).standard_normal(s) * 2]),
    "cos": (minidl.cos, torch.cos, lambda s: [rng(2).standard_normal(s) * 2]),
    "tan": (minidl.tan, torch.tan, _within(-1.2, 1.2, 3)),
    "asin": (minidl.asin, torch.asin, _within(-0.9, 0.9, 4)),
    "acos": (minidl.acos, torch.acos, _within(-0.9, 0.9, 5)),
    "atan": (minidl.atan, torch.atan, lambda s: [rng(6).standard_normal(s) * 3]),
    "sinh": (minidl.sinh, torch.sinh, lambda s: [rng(7).standard_normal(s)]),
    "cosh": (minidl.cosh, torch.cosh, lambda s: [rng(8).standard_normal(s)]),
    "log1p": (minidl.log1p, torch.log1p, _within(-0.8, 3.0, 9)),
    "expm1": (minidl.expm1, torch.expm1, lambda s: [rng(10).standard_normal(s)]),
    "log2": (minidl.log2, torch.log2, lambda s: [positive(s, 11, 0.2, 5.0)]),
    "log10": (minidl.log10, torch.log10, lambda s: [positive(s, 12, 0.2, 5.0)]),
    "reciprocal": (minidl.reciprocal, torch.reciprocal, lambda s: [nonzero(s, 13, low=0.5)]),
    "rsqrt": (minidl.rsqrt, torch.rsqrt, lambda s: [positive(s, 14, 0.2, 5.0)]),
    "square": (minidl.square, torch.square, lambda s: [nonzero(s, 15)]),
    "floor": (minidl.floor, torch.floor, _away_from_integers(16)),
    "ceil": (minidl.ceil, torch.ceil, _away_from_integers(17)),
    "round": (minidl.round, torch.round, _away_from_integers(18)),
    "round_decimals": (lambda x: minidl.round(x, decimals=1), lambda x: torch.round(x, decimals=1),
                       lambda s: [np.round(rng(19).uniform(-3, 3, s), 2) + 0.003]),
    "trunc": (minidl.trunc, torch.trunc, _away_from_integers(20)),
    "sign": (minidl.sign, torch.sign, lambda s: [nonzero(s, 21)]),
}
STEPS = {"floor", "ceil", "round", "round_decimals", "trunc", "sign"}
METHODS = sorted(name for name in MATH if name != "round_decimals")


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", MATH)
def test_math_gradcheck(name: str, shape: tuple[int, ...]) -> None:
    fn, _, make = MATH[name]
    check_grad(fn, make(shape))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", MATH)
def test_math_parity(name: str, shape: tuple[int, ...], dtype: type) -> None:
    fn, th_fn, make = MATH[name]
    check_parity(fn, th_fn, make(shape), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", METHODS)
def test_math_methods(name: str, dtype: type) -> None:
    _, _, make = MATH[name]
    check_parity(lambda x: getattr(x, name)(), lambda x: getattr(x, name)(), make((3, 4)), dtype)


@pytest.mark.parametrize("name", sorted(STEPS - {"round_decimals"}))
def test_steps_have_zero_gradient_at_their_jumps_too(name: str) -> None:
    fn, th_fn, _ = MATH[name]
    check_parity(fn, th_fn, [np.array([-2.0, -1.5, -0.5, 0.0, 0.5, 1.0, 2.5])], np.float64)


@pytest.mark.parametrize("name", sorted(STEPS - {"round_decimals"}))
def test_steps_keep_integer_dtypes(name: str) -> None:
    fn, th_fn, _ = MATH[name]
    values = np.array([-3, 0, 2, 7])
    out, expected = fn(md(values)), th_fn(torch.tensor(values))
    assert out.dtype == minidl.int64 and np.array_equal(to_np(out), expected.numpy())


@pytest.mark.parametrize("name", ["sin", "cos", "log2", "expm1", "rsqrt", "reciprocal"])
def test_float_functions_of_integers_give_float32(name: str) -> None:
    fn, th_fn, _ = MATH[name]
    values = np.array([1, 2, 3])
    out, expected = fn(md(values)), th_fn(torch.tensor(values))
    assert out.dtype == minidl.float32 and np.allclose(to_np(out), expected.numpy(), rtol=1e-6)


def test_grad_fn_names() -> None:
    x = md(np.array([0.5, 1.5]), requires_grad=True)
    assert [f(x).grad_fn.name for f in (minidl.sin, minidl.rsqrt, minidl.floor, minidl.square)] == \
        ["SinBackward", "RsqrtBackward", "FloorBackward", "PowBackward"]


# ------------------------------------------------------------------------- matrix products
PRODUCTS = {
    "mm": (minidl.mm, torch.mm, lambda: [rng(30).standard_normal((3, 4)), rng(31).standard_normal((4, 5))]),
    "mm_method": (lambda a, b: a.mm(b), lambda a, b: a.mm(b),
                  lambda: [rng(32).standard_normal((2, 3)), rng(33).standard_normal((3, 4))]),
    "bmm": (minidl.bmm, torch.bmm, lambda: [rng(34).standard_normal((2, 3, 4)), rng(35).standard_normal((2, 4, 5))]),
    "addmm": (minidl.addmm, torch.addmm, lambda: [rng(36).standard_normal((3, 5)), rng(37).standard_normal((3, 4)),
                                                  rng(38).standard_normal((4, 5))]),
    "addmm_broadcast_beta_alpha": (
        lambda c, a, b: minidl.addmm(c, a, b, beta=0.5, alpha=-2.0),
        lambda c, a, b: torch.addmm(c, a, b, beta=0.5, alpha=-2.0),
        lambda: [rng(39).standard_normal(5), rng(40).standard_normal((3, 4)), rng(41).standard_normal((4, 5))]),
    "addmm_method": (lambda c, a, b: c.addmm(a, b), lambda c, a, b: c.addmm(a, b),
                     lambda: [rng(42).standard_normal((3, 1)), rng(43).standard_normal((3, 4)),
                              rng(44).standard_normal((4, 5))]),
    "t": (minidl.t, torch.t, lambda: [rng(45).standard_normal((3, 4))]),
    "t_method_vector": (lambda x: x.t() * 2, lambda x: x.t() * 2, lambda: [rng(46).standard_normal(4)]),
    "split_size": (lambda x: minidl.cat([p * (i + 1) for i, p in enumerate(x.split(2, dim=1))], 1),
                   lambda x: torch.cat([p * (i + 1) for i, p in enumerate(x.split(2, dim=1))], 1),
                   lambda: [rng(47).standard_normal((3, 5))]),
    "split_sections": (lambda x: minidl.cat([p * (i + 1) for i, p in enumerate(minidl.split(x, [1, 3, 0, 1]))]),
                       lambda x: torch.cat([p * (i + 1) for i, p in enumerate(torch.split(x, [1, 3, 0, 1]))]),
                       lambda: [rng(48).standard_normal((5, 2))]),
    "norm": (minidl.norm, torch.norm, lambda: [rng(50).standard_normal((3, 4))]),
    "norm_method_dim": (lambda x: x.norm(dim=1), lambda x: x.norm(dim=1), lambda: [rng(51).standard_normal((3, 4))]),
    "norm_p3_dims_keepdim": (lambda x: minidl.norm(x, 3, (0, 2), keepdim=True),
                             lambda x: torch.norm(x, 3, (0, 2), keepdim=True),
                             lambda: [nonzero((2, 3, 4), 52)]),
    "norm_p1": (lambda x: x.norm(p=1), lambda x: x.norm(p=1), lambda: [nonzero((5,), 53)]),
    "chunk": (lambda x: minidl.cat([p * (i + 1) for i, p in enumerate(minidl.chunk(x, 4, -1))], -1),
              lambda x: torch.cat([p * (i + 1) for i, p in enumerate(torch.chunk(x, 4, -1))], -1),
              lambda: [rng(49).standard_normal((2, 6))]),
}


@pytest.mark.parametrize("name", PRODUCTS)
def test_products_gradcheck(name: str) -> None:
    fn, _, make = PRODUCTS[name]
    check_grad(fn, make())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", PRODUCTS)
def test_products_parity(name: str, dtype: type) -> None:
    fn, th_fn, make = PRODUCTS[name]
    check_parity(fn, th_fn, make(), dtype)


def test_addmm_with_beta_zero_ignores_the_input_as_torch() -> None:
    c = np.array([[np.nan, 1.0]])
    a, b = np.ones((1, 2)), np.ones((2, 2))
    out = minidl.addmm(md(c), md(a), md(b), beta=0)
    assert np.array_equal(to_np(out), torch.addmm(torch.tensor(c), torch.tensor(a), torch.tensor(b), beta=0).numpy())


@pytest.mark.parametrize("n, size", [(5, 2), (6, 3), (1, 4), (0, 2)])
def test_split_and_chunk_pieces_match_torch(n: int, size: int) -> None:
    x = np.arange(n)
    assert [p.tolist() for p in minidl.split(md(x), size)] == [p.tolist() for p in torch.split(torch.tensor(x), size)]
    assert [p.tolist() for p in minidl.chunk(md(x), size)] == [p.tolist() for p in torch.chunk(torch.tensor(x), size)]


@pytest.mark.parametrize("call, message", [
    (lambda: minidl.mm(minidl.ones(2, 3), minidl.ones(3)), "mat2 must be a matrix"),
    (lambda: minidl.mm(minidl.ones(2, 3), minidl.ones(4, 3)), r"cannot be multiplied \(2x3 and 4x3\)"),
    (lambda: minidl.bmm(minidl.ones(2, 2, 3), minidl.ones(3, 3, 1)), "batch sizes differ"),
    (lambda: minidl.bmm(minidl.ones(2, 3), minidl.ones(2, 3, 1)), "batch1 must be a 3D tensor"),
    (lambda: minidl.addmm(minidl.ones(3, 1, 1), minidl.ones(2, 3), minidl.ones(3, 4)), "does not broadcast"),
    (lambda: minidl.ones(2, 2, 2).t(), "t\\(\\) expects a tensor with <= 2 dimensions"),
    (lambda: minidl.split(minidl.ones(5), [1, 3]), "sum exactly to 5"),
    (lambda: minidl.chunk(minidl.ones(5), 0), "greater than 0"),
])
def test_errors_name_the_problem(call, message: str) -> None:
    with pytest.raises(RuntimeError, match=message):
        call()


def test_norm_of_zeros_has_gradient_zero_as_torch() -> None:
    check_parity(minidl.norm, torch.norm, [np.zeros((2, 3))], np.float64)
    check_parity(lambda x: minidl.norm(x, 3, 1), lambda x: torch.norm(x, 3, 1),
                 [np.array([[1.0, -2.0], [0.0, 0.0]])], np.float64)
    with pytest.raises(ValueError, match="p must be"):
        minidl.norm(minidl.ones(2), p=float("inf"))


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "matmul", "mm"])
def test_out_writes_into_the_given_tensor(name: str) -> None:
    a, b = rng(60).standard_normal((3, 3)), rng(61).uniform(0.5, 2, (3, 3))
    out = minidl.zeros(3, 3, dtype=minidl.float64)
    returned = getattr(minidl, name)(md(a), md(b), out=out)
    assert returned is out
    assert np.allclose(to_np(out), getattr(torch, name)(torch.tensor(a), torch.tensor(b)).numpy(), rtol=1e-12)


def test_out_refuses_a_result_that_requires_grad_or_another_shape() -> None:
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        minidl.mul(minidl.ones(2, requires_grad=True), 2.0, out=minidl.zeros(2))
    with pytest.raises(RuntimeError, match="out= tensor has shape"):
        minidl.matmul(minidl.ones(2, 3), minidl.ones(3, 2), out=minidl.zeros(3, 3))
