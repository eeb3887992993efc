"""Elementwise ops: gradcheck in float64 and parity with PyTorch (values and gradients) in
float32 and float64, broadcasting included, plus PyTorch's choices at the edge points (abs'(0),
clamp at its bounds, ties of maximum/minimum, pow at 0) and the comparisons."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import DTYPES, check_grad, check_parity, md, nonzero, positive, rng, th, to_np

import minidl

#: broadcastable shape pairs: equal, trailing vector, both stretched, 0-d against a matrix
SHAPE_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (2, 3))]


# name -> (minidl function, torch function, input maker (a_shape, b_shape) -> arrays)
BINARY = {
    "add": (minidl.add, torch.add, lambda sa, sb: [nonzero(sa, 1), nonzero(sb, 2)]),
    "add_alpha": (lambda a, b: minidl.add(a, b, alpha=2.5), lambda a, b: torch.add(a, b, alpha=2.5),
                  lambda sa, sb: [nonzero(sa, 1), nonzero(sb, 2)]),
    "sub": (minidl.sub, torch.sub, lambda sa, sb: [nonzero(sa, 3), nonzero(sb, 4)]),
    "sub_alpha": (lambda a, b: minidl.sub(a, b, alpha=-0.5), lambda a, b: torch.sub(a, b, alpha=-0.5),
                  lambda sa, sb: [nonzero(sa, 3), nonzero(sb, 4)]),
    "mul": (minidl.mul, torch.mul, lambda sa, sb: [nonzero(sa, 5), nonzero(sb, 6)]),
    "div": (minidl.div, torch.div, lambda sa, sb: [nonzero(sa, 7), nonzero(sb, 8, low=0.5)]),
    "pow": (minidl.pow, torch.pow, lambda sa, sb: [positive(sa, 9), nonzero(sb, 10)]),
    # (values drawn separately never tie: ties have their own test below)
    "maximum": (minidl.maximum, torch.maximum, lambda sa, sb: [nonzero(sa, 11), nonzero(sb, 12)]),
    "minimum": (minidl.minimum, torch.minimum, lambda sa, sb: [nonzero(sa, 13), nonzero(sb, 14)]),
}


@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_gradcheck(name: str, shapes: tuple) -> None:
    fn, _, make = BINARY[name]
    check_grad(fn, make(*shapes))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_parity(name: str, shapes: tuple, dtype: type) -> None:
    fn, th_fn, make = BINARY[name]
    check_parity(fn, th_fn, make(*shapes), dtype)


ARITHMETIC_OPERATORS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
                        "div": lambda a, b: a / b, "pow": lambda a, b: a**b}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ARITHMETIC_OPERATORS)
def test_operators_with_tensors_and_numbers(name: str, dtype: type) -> None:
    """``a + b``, ``a + 1.75`` and the reflected ``1.75 + a`` (also for -, *, /, **)."""
    op = ARITHMETIC_OPERATORS[name]
    _, _, make = BINARY[name]
    check_parity(op, op, make((2, 3), (3,)), dtype)
    check_parity(lambda a: op(a, 1.75), lambda a: op(a, 1.75), make((2, 3), (3,))[:1], dtype)
    check_parity(lambda a: op(1.75, a), lambda a: op(1.75, a), [positive((2, 3), 20)], dtype)


#: shapes for the unary ops: 0-d, vector, matrix, 3-d
UNARY_SHAPES = [(), (5,), (3, 4), (2, 3, 2)]

# name -> (minidl function, torch function, input maker shape -> arrays)
UNARY = {
    "neg": (minidl.neg, torch.neg, lambda s: [nonzero(s, 21)]),
    "neg_operator": (lambda x: -x, lambda x: -x, lambda s: [nonzero(s, 22)]),
    "exp": (minidl.exp, torch.exp, lambda s: [nonzero(s, 23)]),
    "log": (minidl.log, torch.log, lambda s: [positive(s, 24, 0.1, 5.0)]),
    "sqrt": (minidl.sqrt, torch.sqrt, lambda s: [positive(s, 25, 0.1, 5.0)]),
    "abs": (minidl.abs, torch.abs, lambda s: [nonzero(s, 26)]),
    "abs_operator": (abs, abs, lambda s: [nonzero(s, 27)]),
    # (+ 0.05 keeps the values away from the bounds)
    "clamp_min": (lambda x: minidl.clamp(x, min=-0.5), lambda x: torch.clamp(x, min=-0.5),
                  lambda s: [nonzero(s, 28) + 0.05]),
    "clamp_max": (lambda x: x.clamp(max=0.7), lambda x: x.clamp(max=0.7), lambda s: [nonzero(s, 29) + 0.05]),
    "clamp_both": (lambda x: x.clamp(-0.5, 0.7), lambda x: x.clamp(-0.5, 0.7), lambda s: [nonzero(s, 30) + 0.05]),
    "clip": (lambda x: x.clip(-1.0, 1.0), lambda x: x.clip(-1.0, 1.0), lambda s: [nonzero(s, 31) * 1.1]),
    "pow_2": (lambda x: x**2, lambda x: x**2, lambda s: [nonzero(s, 32)]),
    "pow_3_int": (lambda x: minidl.pow(x, 3), lambda x: torch.pow(x, 3), lambda s: [nonzero(s, 33)]),
    "pow_half": (lambda x: x**0.5, lambda x: x**0.5, lambda s: [positive(s, 34)]),
    "pow_negative": (lambda x: x**-1.5, lambda x: x**-1.5, lambda s: [positive(s, 35)]),
    "pow_zero": (lambda x: x**0, lambda x: x**0, lambda s: [nonzero(s, 36)]),
    "number_pow_tensor": (lambda x: 2.5**x, lambda x: 2.5**x, lambda s: [nonzero(s, 37)]),
    "pow_tensor_exponent_only": (lambda y: minidl.pow(minidl.tensor(1.5, dtype=y.dtype, device=y.device), y),
                                 lambda y: torch.pow(torch.tensor(1.5, dtype=y.dtype), y), lambda s: [nonzero(s, 38)]),
    "where": (lambda c, x, y: minidl.where(c, x, y), torch.where,
              lambda s: [rng(39).random(s) > 0.5, nonzero(s, 40), nonzero(s[-1:], 41)]),
    # the condition alone has an extra leading dimension
    "where_broadcast_condition": (minidl.where, torch.where,
                                  lambda s: [rng(42).random((2, *s)) > 0.5, nonzero(s, 43), nonzero(s[-1:], 44)]),
    "where_scalar": (lambda c, x: minidl.where(c, x, 0.25), lambda c, x: torch.where(c, x, 0.25),
                     lambda s: [rng(45).random(s) > 0.5, nonzero(s, 46)]),
}


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_unary_gradcheck(name: str, shape: tuple[int, ...]) -> None:
    fn, _, make = UNARY[name]
    check_grad(fn, make(shape))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_unary_parity(name: str, shape: tuple[int, ...], dtype: type) -> None:
    fn, th_fn, make = UNARY[name]
    check_parity(fn, th_fn, make(shape), dtype)


# ------------------------------------------------------------------------------ edge points
EDGES = {
    # abs'(0) = 0, relu-like kinks follow PyTorch
    "abs_at_zero": (minidl.abs, torch.abs, [np.array([-1.5, 0.0, 2.0, -0.0])]),
    # clamp: the gradient passes at the bounds themselves
    "clamp_at_bounds": (lambda x: x.clamp(-1.0, 1.0), lambda x: x.clamp(-1.0, 1.0),
                        [np.array([-2.0, -1.0, 0.0, 1.0, 2.0])]),
    "clamp_min_at_bound": (lambda x: x.clamp(min=0.0), lambda x: x.clamp(min=0.0), [np.array([-1.0, 0.0, 1.0])]),
    "clamp_max_at_bound": (lambda x: x.clamp(max=0.0), lambda x: x.clamp(max=0.0), [np.array([-1.0, 0.0, 1.0])]),
    # maximum/minimum: exact ties split the gradient in half
    "maximum_ties": (minidl.maximum, torch.maximum,
                     [np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 5.0]]), np.array([[1.0, 0.0, 3.0], [-1.0, 7.0, 5.0]])]),
    "minimum_ties": (minidl.minimum, torch.minimum,
                     [np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 5.0]]), np.array([[1.0, 0.0, 3.0], [-1.0, 7.0, 5.0]])]),
    "maximum_ties_broadcast": (minidl.maximum, torch.maximum,
                               [np.array([[1.0, 2.0], [2.0, 0.0]]), np.array([2.0, 0.0])]),
    # pow at 0: x**2 and x**0 have gradient 0 there, x**0.5 an infinite one
    "pow_2_at_zero": (lambda x: x**2, lambda x: x**2, [np.array([0.0, 1.0, -2.0])]),
    "pow_0_at_zero": (lambda x: x**0, lambda x: x**0, [np.array([0.0, 1.0, -2.0])]),
    "pow_half_at_zero": (lambda x: x**0.5, lambda x: x**0.5, [np.array([0.0, 1.0, 4.0])]),
    "pow_tensor_at_zero": (minidl.pow, torch.pow, [np.array([0.0, 0.0, 0.0, 2.0]), np.array([0.0, 2.0, 0.5, 0.0])]),
    "number_pow_at_zero_base": (lambda y: 0.0**y, lambda y: 0.0**y, [np.array([0.0, 1.0, 2.5])]),
    "pow_negative_base_integer_exponent": (lambda x: x**3.0, lambda x: x**3.0, [np.array([-2.0, -0.5, 1.5])]),
    "div_by_zero": (minidl.div, torch.div, [np.array([1.0, -1.0, 0.0]), np.array([0.0, 0.0, 2.0])]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", EDGES)
def test_edge_points_match_torch(name: str, dtype: type) -> None:
    fn, th_fn, arrays = EDGES[name]
    with np.errstate(all="ignore"):
        check_parity(fn, th_fn, arrays, dtype)


# ------------------------------------------------------------------------------ comparisons
COMPARISONS = ["eq", "ne", "lt", "le", "gt", "ge"]
OPERATORS = {"eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "le": "__le__", "gt": "__gt__", "ge": "__ge__"}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", COMPARISONS)
def test_comparisons_are_bool_without_grad(name: str, dtype: type) -> None:
    a = np.round(rng(50).standard_normal((3, 4))).astype(dtype)  # rounding makes equal elements likely
    b = np.round(rng(51).standard_normal((4,))).astype(dtype)
    ma, mb = md(a, requires_grad=True), md(b)
    ta, tb = th(a), th(b)
    for got, expected in [(getattr(minidl, name)(ma, mb), getattr(torch, name)(ta, tb)),
                          (getattr(ma, OPERATORS[name])(mb), getattr(ta, OPERATORS[name])(tb)),
                          (getattr(ma, OPERATORS[name])(0.0), getattr(ta, OPERATORS[name])(0.0))]:
        assert got.dtype == minidl.bool_
        assert not got.requires_grad and got.grad_fn is None
        np.testing.assert_array_equal(to_np(got), to_np(expected))


def test_comparisons_of_integer_tensors() -> None:
    a, b = np.array([1, 2, 3]), np.array([3, 2, 1])
    np.testing.assert_array_equal(to_np(md(a) < md(b)), to_np(th(a) < th(b)))
    np.testing.assert_array_equal(to_np(md(a) == 2), to_np(th(a) == 2))


# ------------------------------------------------------------------------------ integer inputs
def test_integer_true_division_gives_float32() -> None:
    a, b = np.array([1, 2, 7]), np.array([2, 4, 2])
    got, expected = md(a) / md(b), th(a) / th(b)
    assert got.dtype == minidl.float32 and expected.dtype == torch.float32
    np.testing.assert_array_equal(to_np(got), to_np(expected))


def test_integer_tensor_with_float_tensor_promotes_to_the_float_dtype() -> None:
    i, f = np.array([1, 2, 3]), np.array([0.5, 1.5, 2.5], np.float64)
    for got, expected in [(md(i) + md(f), th(i) + th(f)), (md(f) * md(i), th(f) * th(i)),
                          (md(i) * 0.5, th(i) * 0.5), (md(i) + 2, th(i) + 2)]:
        assert str(got.dtype) == str(expected.dtype).replace("torch.", "minidl.")
        np.testing.assert_array_equal(to_np(got), to_np(expected))
