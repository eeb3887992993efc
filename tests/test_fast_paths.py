"""The fast paths equal the readable reference paths they replace.

Fused layers are checked against their ``<op>_reference`` in :mod:`minidl.ops`, the same maths
composed from primitive ops (each gradient-checked on its own; tests/test_references.py covers
every fused node).  The optimizers' in-place paths are checked against their textbook forms in
test_optim.py.
"""

import numpy as np
import pytest
from helpers import md, rng, to_np

import minidl
import minidl.functional as F
from minidl.ops.activation import relu_reference
from minidl.ops.conv import convolution_reference
from minidl.ops.linear import linear_reference
from minidl.ops.loss import binary_cross_entropy_with_logits_reference


def _compare(fast, reference, arrays, tol=1e-12):
    """Same outputs and input gradients (float64, random upstream gradient)."""
    results = []
    for fn in (fast, reference):
        inputs = [md(a, requires_grad=True) for a in arrays]
        out = fn(*inputs)
        out.backward(md(rng(7).standard_normal(out.shape)))
        results.append((to_np(out), [to_np(t.grad) for t in inputs]))
    (out_a, grads_a), (out_b, grads_b) = results
    np.testing.assert_allclose(out_a, out_b, rtol=tol, atol=tol)
    for ga, gb in zip(grads_a, grads_b):
        np.testing.assert_allclose(ga, gb, rtol=tol, atol=tol)


def test_fused_linear_equals_matmul_plus_bias():
    r = rng(0)
    arrays = [r.standard_normal((2, 5, 7)), r.standard_normal((3, 7)), r.standard_normal(3)]
    _compare(F.linear, linear_reference, arrays)


def test_fused_bce_with_logits_equals_composed_formula():
    r = rng(1)
    x, t = r.standard_normal((6, 4)) * 5, (r.random((6, 4)) < 0.3).astype(np.float64)

    def composed(x, t):  # (1 - t) x + max(-x, 0) + log(1 + e^-|x|) = max(x, 0) - x t + log(1 + e^-|x|)
        return binary_cross_entropy_with_logits_reference(x, t, None, None, "mean")

    _compare(F.binary_cross_entropy_with_logits, composed, [x, t])


@pytest.mark.parametrize("stride,padding,dilation", [(1, 1, 1), (2, 0, 1), (1, 2, 2)])
def test_im2col_conv1d_equals_sum_over_kernel_offsets(stride, padding, dilation):
    r = rng(2)
    x, w, b = r.standard_normal((2, 3, 9)), r.standard_normal((4, 3, 3)), r.standard_normal(4)

    def reference(x, w, b):  # y[:, o, p] = b[o] + sum_k W[o, :, k] . x_pad[:, :, p s + k d]
        return convolution_reference(x, w, b, (stride,), (padding,), (dilation,), groups=1)

    _compare(lambda x, w, b: F.conv1d(x, w, b, stride=stride, padding=padding, dilation=dilation),
             reference, [x, w, b])


def test_relu_mask_backward_equals_where():
    x = rng(3).standard_normal((5, 6))
    _compare(minidl.relu, relu_reference, [x])
