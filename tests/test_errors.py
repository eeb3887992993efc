"""Bad input gives a clear error that names the op and the shapes, dtypes or values at fault."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from helpers import md, rng, to_np

import minidl
from minidl import Function, backend


def _t(*shape: int, dtype: type = np.float32, requires_grad: bool = False) -> minidl.Tensor:
    return md(rng(0).standard_normal(shape).astype(dtype), requires_grad=requires_grad)


# ---------------------------------------------------------------------------------- shapes
def test_matmul_shape_mismatch() -> None:
    with pytest.raises(RuntimeError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) cannot be multiplied"):
        _t(2, 3) @ _t(4, 5)
    with pytest.raises(RuntimeError, match=r"matmul: shapes \(3,\) and \(2,\)"):
        minidl.matmul(_t(3), _t(2))
    with pytest.raises(RuntimeError, match=r"matmul: both arguments need at least 1 dimension.*\(\) and \(3,\)"):
        minidl.matmul(_t(), _t(3))


def test_matmul_batch_dimensions_that_do_not_broadcast() -> None:
    with pytest.raises(ValueError, match=r"matmul: invalid input shapes \(2, 3, 4\), \(3, 4, 5\)"):
        _t(2, 3, 4) @ _t(3, 4, 5)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum", "pow"])
def test_binary_ops_with_shapes_that_do_not_broadcast(op: str) -> None:
    with pytest.raises(ValueError, match=rf"{op}: invalid input shapes \(2, 3\), \(4,\)"):
        getattr(minidl, op)(_t(2, 3).abs(), _t(4))


def test_where_with_shapes_that_do_not_broadcast() -> None:
    with pytest.raises(ValueError, match=r"where: invalid input shapes \(2,\), \(3,\), \(3,\)"):
        minidl.where(md(np.array([True, False])), _t(3), _t(3))


def test_cat_and_stack_of_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match=r"cat: sizes of tensors must match except in dimension 1.*\(2, 3\), \(3, 3\)"):
        minidl.cat([_t(2, 3), _t(3, 3)], dim=1)
    with pytest.raises(ValueError, match=r"cat: .*\(2, 3\), \(2, 3, 1\)"):
        minidl.cat([_t(2, 3), _t(2, 3, 1)])
    with pytest.raises(ValueError, match=r"stack: expects each tensor to be equal size.*\(2, 3\), \(2, 4\)"):
        minidl.stack([_t(2, 3), _t(2, 4)])
    with pytest.raises(ValueError, match="cat: expected a non-empty list"):
        minidl.cat([])


def test_cat_of_mismatched_dtypes() -> None:
    with pytest.raises(TypeError, match=r"cat: all tensors must have the same dtype.*float32 \(2,\).*float64 \(2,\)"):
        minidl.cat([_t(2), _t(2, dtype=np.float64)])


def test_reshape_to_an_invalid_size() -> None:
    with pytest.raises(RuntimeError, match=r"reshape: shape \[4, 2\] is invalid for input of size 6 .*\(2, 3\)"):
        _t(2, 3).reshape(4, 2)
    with pytest.raises(RuntimeError, match=r"view: shape \[-1, 4\] is invalid for input of size 6"):
        _t(2, 3).view(-1, 4)
    with pytest.raises(RuntimeError, match=r"reshape: shape \[-1, -1\] is invalid"):
        _t(2, 3).reshape(-1, -1)


def test_expand_to_an_incompatible_shape() -> None:
    with pytest.raises(RuntimeError, match=r"expand: the expanded size 4 must match the existing size 3.*\(2, 3\)"):
        _t(2, 3).expand(2, 4)
    with pytest.raises(RuntimeError, match="expand: 1 sizes given for a tensor with 2 dimensions"):
        _t(2, 3).expand(6)


def test_index_out_of_range() -> None:
    with pytest.raises(IndexError, match=r"index: invalid input shapes \(3,\)"):
        _t(3)[5]
    with pytest.raises(IndexError, match="tensors used as indices must be integer or bool, got float32"):
        _t(3)[_t(2)]


def test_pad_errors() -> None:
    with pytest.raises(ValueError, match="pad: padding length 3 must be even"):
        minidl.pad(_t(2, 3), (1, 2, 3))
    with pytest.raises(ValueError, match=r"pad: reflect padding \(3, 0\) is invalid for dimension 2 of size 3"):
        minidl.pad(_t(1, 2, 3), (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="pad: mode must be"):
        minidl.pad(_t(1, 2, 3), (1, 1), mode="wrap")
    with pytest.raises(ValueError, match=r"pad: padding .* gives a negative size for input shape \(2, 3\)"):
        minidl.pad(_t(2, 3), (-2, -2))


# -------------------------------------------------------------------------------- dims
@pytest.mark.parametrize("call", [
    lambda x: x.sum(3), lambda x: x.mean(-4), lambda x: x.var((0, 5)), lambda x: x.amax(3),
    lambda x: x.max(3), lambda x: x.argmax(-4), lambda x: minidl.softmax(x, 3),
    lambda x: minidl.log_softmax(x, -4), lambda x: minidl.logsumexp(x, 3), lambda x: x.transpose(0, 3),
    lambda x: x.squeeze(3), lambda x: x.unsqueeze(5), lambda x: x.flatten(0, 3),
    lambda x: minidl.cat([x, x], 3), lambda x: minidl.stack([x, x], 5),
], ids=["sum", "mean", "var", "amax", "max", "argmax", "softmax", "log_softmax", "logsumexp", "transpose",
        "squeeze", "unsqueeze", "flatten", "cat", "stack"])
def test_dimension_out_of_range(call: Callable[[minidl.Tensor], Any]) -> None:
    with pytest.raises(IndexError, match=r"\w+: dimension -?\d out of range for a tensor with \d dimensions"):
        call(_t(2, 3, 4))


def test_permute_and_flatten_bad_dims() -> None:
    with pytest.raises(ValueError, match=r"permute: dims \(0, 0, 1\) are not a permutation of the 3 dimensions"):
        _t(2, 3, 4).permute(0, 0, 1)
    with pytest.raises(ValueError, match="flatten: start_dim 2 comes after end_dim 1"):
        _t(2, 3, 4).flatten(2, 1)


def test_reduction_errors() -> None:
    with pytest.raises(RuntimeError, match=r"max: cannot reduce an empty tensor of shape \(0, 3\)"):
        minidl.max(md(np.zeros((0, 3))))
    with pytest.raises(TypeError, match="mean: input dtype should be floating point, got minidl.int64"):
        md(np.arange(3)).mean()


# --------------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum", "pow", "where"])
def test_float32_with_float64_in_strict_mode_names_the_op_dtypes_and_shapes(op: str) -> None:
    args = (md(np.ones((2, 3), bool)),) if op == "where" else ()
    with minidl.strict_promotion(), pytest.raises(
            TypeError, match=rf"{op}: dtypes differ, minidl.float32 \(2, 3\) vs minidl.float64 \(3,\), and strict"):
        getattr(minidl, op)(*args, _t(2, 3), _t(3, dtype=np.float64))


def test_matrix_products_of_two_dtypes_name_them() -> None:
    with pytest.raises(TypeError, match=r"matmul: expected both operands to have the same dtype, got minidl.float64 "
                                        r"\(3,\) and minidl.float32 \(3, 2\)"):
        _t(3, dtype=np.float64) @ _t(3, 2)


def test_gradcheck_refuses_float32() -> None:
    with pytest.raises(TypeError, match="gradcheck: input 0 has dtype minidl.float32; gradcheck needs float64"):
        minidl.gradcheck(lambda x: x * 2, [_t(3, requires_grad=True)])
    with pytest.raises(ValueError, match="gradcheck: no input tensor requires grad"):
        minidl.gradcheck(lambda x: x * 2, [_t(3, dtype=np.float64)])


def test_bad_operands_and_arguments() -> None:
    with pytest.raises(TypeError, match="add: unsupported operand of type str"):
        _t(3) + "a"
    with pytest.raises(TypeError, match="where: condition must be a bool tensor, got minidl.float32"):
        minidl.where(_t(3), _t(3), _t(3))
    with pytest.raises(ValueError, match="clamp: at least one of 'min' or 'max' must not be None"):
        _t(3).clamp()
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh', got 'erf'"):
        minidl.gelu(_t(3), approximate="erf")
    with pytest.raises(TypeError, match="max: use minidl.maximum"):
        minidl.max(_t(3), _t(3))


def test_requires_grad_on_integers_is_refused() -> None:
    with pytest.raises(RuntimeError, match="floating point dtype can require gradients, got minidl.int64"):
        minidl.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="got minidl.bool"):
        md(np.array([True])).requires_grad_()


def test_factory_errors() -> None:
    with pytest.raises(ValueError, match="size must be non-negative integers"):
        minidl.zeros(2, -1)
    with pytest.raises(TypeError, match="randn: random values need a floating dtype, got int64"):
        minidl.randn(2, dtype=minidl.int64)
    with pytest.raises(TypeError, match="unknown dtype 'float16x'"):
        minidl.zeros(2, dtype="float16x")
    with pytest.raises(TypeError, match="tensor: can't make a tensor from data of dtype <U3"):
        minidl.tensor("abc")


# ---------------------------------------------------------------------------------- devices
class _FakeCudaArray(np.ndarray):
    """A NumPy array that the patched ``backend.device_of`` reports as living on the GPU."""


def test_mixing_devices_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """No second device is needed: a marked NumPy array plays the GPU one, the rest is on the CPU."""
    real = backend.device_of
    monkeypatch.setattr(backend, "device_of", lambda a: "cuda" if isinstance(a, _FakeCudaArray) else real(a))
    on_gpu = minidl.Tensor(np.ones((2, 3), np.float32).view(_FakeCudaArray))
    assert on_gpu.device == "cuda"
    with pytest.raises(RuntimeError, match=r"AddBackward: expected all tensors on the same device, got "
                                           r"\(2, 3\) on cpu, \(2, 3\) on cuda"):
        minidl.ones(2, 3) + on_gpu
    with pytest.raises(RuntimeError, match=r"MatMulBackward: .*\(3, 2\) on cuda, \(2, 4\) on cpu"):
        minidl.matmul(minidl.Tensor(np.ones((3, 2), np.float32).view(_FakeCudaArray)), minidl.ones(2, 4))
    y = minidl.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="backward: gradient is on cuda, tensor on cpu"):
        y.backward(np.ones((2, 3), np.float32).view(_FakeCudaArray))


def test_unknown_or_unavailable_device(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        minidl.zeros(2, device="tpu")
    monkeypatch.setattr(backend, "cuda_available", lambda: False)
    with pytest.raises(RuntimeError, match="device 'cuda' requested but CuPy or a CUDA GPU is not available"):
        minidl.zeros(2, device="cuda")


# ------------------------------------------------------------------------------- in place
@pytest.mark.parametrize("update", [
    lambda t: t.zero_(), lambda t: t.fill_(1.0), lambda t: t.copy_(md(np.ones(3, np.float32))),
    lambda t: t.add_(1.0), lambda t: t.mul_(2.0), lambda t: t.__setitem__(0, 5.0),
], ids=["zero_", "fill_", "copy_", "add_", "mul_", "setitem"])
def test_in_place_update_of_a_leaf_requiring_grad(update: Callable[[minidl.Tensor], Any]) -> None:
    x = _t(3, requires_grad=True)
    before = to_np(x).copy()
    with pytest.raises(RuntimeError, match=r"\w+_?: a leaf Variable that requires grad is being used in an in-place "
                       "operation"):
        update(x)
    np.testing.assert_array_equal(to_np(x), before)
    with minidl.no_grad():
        update(x)  # allowed without a graph, as optimizers do


def test_in_place_update_of_a_non_leaf_requiring_grad() -> None:
    with pytest.raises(RuntimeError, match="mul_: the tensor is the output of MulBackward, part of a graph"):
        (_t(3, requires_grad=True) * 2).mul_(3.0)


def test_copy_of_a_source_with_the_wrong_shape() -> None:
    with pytest.raises(RuntimeError, match=r"copy_: can't copy a source of shape \(4,\) into a tensor of shape \(3,\)"):
        _t(3).copy_(_t(4))


# ---------------------------------------------------------------------- broken primitives
class _WrongCount(Function):
    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * 2

    def backward(self, gy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return gy, gy


class _WrongDtype(Function):
    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * 2

    def backward(self, gy: np.ndarray) -> np.ndarray:
        return gy.astype(np.float64)


class _WrongShape(Function):
    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.sum(axis=0)

    def backward(self, gy: np.ndarray) -> np.ndarray:
        return np.ones((5, 5), gy.dtype)


class _Upcast(Function):
    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.astype(np.float64)


def test_the_engine_checks_what_a_backward_returns() -> None:
    with pytest.raises(RuntimeError, match="_WrongCountBackward: backward returned 2 gradients for 1 inputs"):
        _WrongCount.apply(_t(3, requires_grad=True)).sum().backward()
    with pytest.raises(RuntimeError, match="_WrongDtypeBackward: backward produced a float64 gradient for a float32"):
        _WrongDtype.apply(_t(3, requires_grad=True)).sum().backward()
    with pytest.raises(RuntimeError, match=r"_WrongShapeBackward: gradient of shape \(5, 5\) for an input of shape"):
        _WrongShape.apply(_t(2, 3, requires_grad=True)).sum().backward()
    with pytest.raises(TypeError, match="_UpcastBackward: float32 inputs produced a float64 result"):
        _Upcast.apply(_t(3))


def test_tensor_conversions_errors() -> None:
    with pytest.raises(RuntimeError, match="a Tensor with 3 elements cannot be converted to a Python scalar"):
        _t(3).item()
    with pytest.raises(RuntimeError, match=r"numpy: can't call numpy\(\) on a tensor that requires grad"):
        _t(3, requires_grad=True).numpy()
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with 3 values is ambiguous"):
        bool(_t(3))
    with pytest.raises(RuntimeError, match="retain_grad: can't retain_grad on a tensor that has requires_grad=False"):
        _t(3).retain_grad()
