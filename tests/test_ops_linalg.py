"""Matrix product: gradcheck in float64 and parity with PyTorch for 1-D, 2-D, batched and
broadcast-batched operands, through ``minidl.matmul``, ``a @ b`` and ``a.matmul(b)``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import DTYPES, check_grad, check_parity, md, rng, th, to_np

import minidl

SHAPES = {
    "vector_vector": ((4,), (4,)),
    "vector_matrix": ((3,), (3, 5)),
    "matrix_vector": ((2, 3), (3,)),
    "matrix_matrix": ((2, 3), (3, 4)),
    "row_column": ((1, 3), (3, 1)),
    "batched": ((2, 3, 4), (2, 4, 2)),
    "batched_matrix": ((2, 3, 4), (4, 2)),
    "matrix_batched": ((3, 4), (2, 4, 2)),
    "broadcast_batch": ((2, 1, 3, 4), (5, 4, 2)),
    "vector_batched": ((3,), (2, 3, 4)),
    "batched_vector": ((2, 3, 4), (4,)),
}


def _inputs(name: str) -> list[np.ndarray]:
    a_shape, b_shape = SHAPES[name]
    return [rng(1).standard_normal(a_shape), rng(2).standard_normal(b_shape)]


@pytest.mark.parametrize("name", SHAPES)
def test_gradcheck(name: str) -> None:
    check_grad(minidl.matmul, _inputs(name))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", SHAPES)
def test_parity(name: str, dtype: type) -> None:
    check_parity(minidl.matmul, torch.matmul, _inputs(name), dtype)
    check_parity(lambda a, b: a @ b, lambda a, b: a @ b, _inputs(name), dtype)
    check_parity(lambda a, b: a.matmul(b), lambda a, b: a.matmul(b), _inputs(name), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_operand_without_grad(dtype: type) -> None:
    """Only the operand that requires grad gets one (``needs_input_grad``)."""
    a, b = _inputs("batched")
    ma, mb = md(a.astype(dtype), requires_grad=True), md(b.astype(dtype))
    ta, tb = th(a.astype(dtype), requires_grad=True), th(b.astype(dtype))
    (ma @ mb).sum().backward()
    (ta @ tb).sum().backward()
    assert mb.grad is None
    np.testing.assert_allclose(to_np(ma.grad), to_np(ta.grad), rtol=1e-5)


def test_integer_matmul_matches_torch() -> None:
    a, b = np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4)
    got, expected = md(a) @ md(b), th(a) @ th(b)
    assert got.dtype == minidl.int64
    np.testing.assert_array_equal(to_np(got), to_np(expected))
