"""Property-based parity with PyTorch (hypothesis): random broadcastable shape pairs for the
binary ops and random dims/keepdim for the reductions, values and gradients in float32 and
float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import DTYPES, check_parity, nonzero, positive
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)


@st.composite
def broadcastable_shapes(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Two shapes that broadcast: a common shape, then per operand some leading dims dropped
    and some dims set to 1."""
    shape = draw(st.lists(st.integers(1, 4), min_size=0, max_size=4))

    def operand() -> tuple[int, ...]:
        dropped = draw(st.integers(0, len(shape)))
        return tuple(1 if draw(st.booleans()) else n for n in shape[dropped:])

    return operand(), operand()


BINARY = {
    "add": (minidl.add, torch.add, nonzero),
    "sub": (minidl.sub, torch.sub, nonzero),
    "mul": (minidl.mul, torch.mul, nonzero),
    "div": (minidl.div, torch.div, nonzero),
    "maximum": (minidl.maximum, torch.maximum, nonzero),
    "minimum": (minidl.minimum, torch.minimum, nonzero),
    "pow": (minidl.pow, torch.pow, positive),  # positive base
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", BINARY)
def test_binary_ops_broadcast_like_torch(name: str, dtype: type) -> None:
    fn, th_fn, base = BINARY[name]

    @SETTINGS
    @given(shapes=broadcastable_shapes(), seed=st.integers(0, 2**16))
    def check(shapes: tuple, seed: int) -> None:
        a_shape, b_shape = shapes
        check_parity(fn, th_fn, [base(a_shape, seed), nonzero(b_shape, seed + 1)], dtype, seed=seed)

    check()


@st.composite
def reduction_cases(draw: st.DrawFn) -> tuple[tuple[int, ...], int | tuple[int, ...] | None, bool]:
    """A shape, a dim (None, an int or a tuple of distinct dims, negatives included) and keepdim."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    n = len(shape)
    dims = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=n, unique_by=lambda d: d % n))
    dim = draw(st.sampled_from([None, dims[0], tuple(dims)]))
    return shape, dim, draw(st.booleans())


REDUCTIONS = {
    "sum": (minidl.sum, torch.sum),
    "mean": (minidl.mean, torch.mean),
    "var": (minidl.var, torch.var),
    "amax": (minidl.amax, torch.amax),
    "logsumexp": (minidl.logsumexp, torch.logsumexp),
}


@pytest.mark.filterwarnings(r"ignore:var\(\)\W+degrees of freedom:UserWarning")  # torch, on one-element slices
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", REDUCTIONS)
def test_reductions_like_torch(name: str, dtype: type) -> None:
    fn, th_fn = REDUCTIONS[name]

    @SETTINGS
    @given(case=reduction_cases(), seed=st.integers(0, 2**16))
    def check(case: tuple, seed: int) -> None:
        shape, dim, keepdim = case
        if dim is None and name in ("amax", "logsumexp"):
            dim = tuple(range(len(shape)))  # (these take no dim=None in torch: all dims spelled out)
        x = nonzero(shape, seed) * 2
        with np.errstate(invalid="ignore", divide="ignore"):  # var of a single element is nan
            check_parity(lambda t: fn(t, dim=dim, keepdim=keepdim), lambda t: th_fn(t, dim=dim, keepdim=keepdim),
                         [x], dtype, seed=seed)

    check()
