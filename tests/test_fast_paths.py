"""The fast paths equal the readable reference paths they replace.

Fused layers are checked against the same maths composed from primitive ops (each gradient-
checked on its own), and the threaded optimizer update against the serial one, bit for bit.
"""

import numpy as np
import pytest
from helpers import md, rng, to_np

import minidl
import minidl.functional as F
from minidl import optim


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
    _compare(F.linear, lambda x, w, b: x @ w.T + b, arrays)


def test_fused_bce_with_logits_equals_composed_formula():
    r = rng(1)
    x, t = r.standard_normal((6, 4)) * 5, (r.random((6, 4)) < 0.3).astype(np.float64)

    def composed(x, t):  # max(x, 0) - x t + log(1 + e^-|x|)
        return (minidl.maximum(x, 0.0) - x * t + (1 + (-x.abs()).exp()).log()).mean()

    _compare(F.binary_cross_entropy_with_logits, composed, [x, t])


@pytest.mark.parametrize("stride,padding,dilation", [(1, 1, 1), (2, 0, 1), (1, 2, 2)])
def test_im2col_conv1d_equals_sum_over_kernel_offsets(stride, padding, dilation):
    r = rng(2)
    x, w, b = r.standard_normal((2, 3, 9)), r.standard_normal((4, 3, 3)), r.standard_normal(4)

    def reference(x, w, b):  # y[:, o, p] = b[o] + sum_k W[o, :, k] . x_pad[:, :, p s + k d]
        xp = F.pad(x, (padding, padding)) if padding else x
        length = (xp.shape[2] - dilation * 2 - 1) // stride + 1
        out = b.reshape(1, 4, 1)
        for k in range(3):
            window = xp[:, :, k * dilation: k * dilation + (length - 1) * stride + 1: stride]
            out = out + minidl.matmul(w[:, :, k], window)
        return out

    _compare(lambda x, w, b: F.conv1d(x, w, b, stride=stride, padding=padding, dilation=dilation),
             reference, [x, w, b])


def test_relu_mask_backward_equals_where():
    x = rng(3).standard_normal((5, 6))
    _compare(minidl.relu, lambda x: minidl.where(x > 0, x, 0.0), [x])


@pytest.mark.parametrize("make", [lambda p: optim.Adam(p, lr=1e-2, weight_decay=1e-3),
                                  lambda p: optim.SGD(p, lr=1e-2, momentum=0.9, nesterov=True),
                                  lambda p: optim.RMSprop(p, lr=1e-3, centered=True)])
def test_threaded_optimizer_step_is_bit_identical_to_serial(make):
    shapes = [(300, 400), (400,), (200, 300), (7,)]  # above the size where threads start
    finals, before = [], minidl.get_num_threads()
    for threads in (1, 2):
        minidl.set_num_threads(threads)
        r = rng(4)
        params = [minidl.tensor(r.standard_normal(s).astype(np.float32), requires_grad=True) for s in shapes]
        opt = make(params)
        for _ in range(5):
            for p in params:
                p.grad = minidl.tensor(r.standard_normal(p.shape).astype(np.float32))
            opt.step()
        finals.append([to_np(p) for p in params])
    minidl.set_num_threads(before)
    for a, b in zip(*finals):
        assert np.array_equal(a, b)
