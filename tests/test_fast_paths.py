"""The fast paths equal the readable reference paths they replace.

Fused layers are checked against their ``<op>_reference`` in :mod:`minidl.ops`, the same maths
composed from primitive ops (each gradient-checked on its own; tests/test_references.py covers
every fused node).  The optimizers' in-place paths are checked against their textbook forms in
test_optim.py.
"""

import math

import numpy as np
import pytest
from helpers import md, rng, to_np

import minidl
import minidl.functional as F
from minidl.ops.activation import relu_reference
from minidl.ops.conv import Convolution, channels_last_pays, convolution_reference
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


#: (x shape, weight shape, stride, padding, dilation, groups): odd sizes, both layouts' edge cases
CONV_CASES = [
    ((2, 3, 9), (4, 3, 3), (1,), (1,), (1,), 1),
    ((2, 3, 9), (4, 3, 3), (2,), (0,), (1,), 1),
    ((2, 3, 9), (4, 3, 3), (1,), (2,), (2,), 1),
    ((3, 6, 7), (4, 3, 2), (1,), "same", (2,), 2),  # even kernel: the extra zero of 'same' goes after
    ((5, 7), (6, 5, 3), (3,), "valid", (1,), 1),  # unbatched
    ((2, 9, 4), (6, 3, 3), (1,), (3,), (1,), 3),  # padding wider than the kernel reaches
    ((2, 4, 5, 6), (6, 2, 3, 2), (2, 1), (1, 0), (1, 2), 2),
    ((1, 3, 4, 5), (2, 3, 1, 3), (1, 2), "valid", (1, 1), 1),
    ((4, 3, 3), (5, 4, 2, 2), (1, 1), (1, 1), (1, 1), 1),  # unbatched 2-D
    ((0, 8, 2), (3, 8, 3), (1,), (1,), (1,), 1),  # an empty batch
]


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no bias"])
@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation,groups", CONV_CASES, ids=str)
def test_both_conv_layouts_equal_the_sum_over_kernel_offsets(x_shape, w_shape, stride, padding, dilation, groups,
                                                             bias):
    """Convolution's channels-first and channels-last layouts against each other and against
    ``convolution_reference`` (one product per kernel offset, from primitives)."""
    r = rng(2)
    arrays = [r.standard_normal(x_shape), r.standard_normal(w_shape), *([r.standard_normal(w_shape[0])] * bias)]
    params = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}

    def layout(channels_last: bool):
        return lambda x, w, b=None: Convolution.apply(x, w, b, **params, channels_last=channels_last)

    def reference(x, w, b=None):  # y[:, o, p] = b[o] + sum_k W[o, :, k] . x_pad[:, :, p s + k d]
        unbatched = x.ndim == w.ndim - 1
        y = convolution_reference(x.unsqueeze(0) if unbatched else x, w, b, **params)
        return y[0] if unbatched else y

    _compare(layout(True), layout(False), arrays)
    _compare(layout(False), reference, arrays)


def test_both_conv_layouts_on_a_transposed_input():
    """The paper's clips reach the first convolution as a transposed view (N, frames, values) -> NCW."""
    r = rng(3)
    arrays = [r.standard_normal((3, 5, 24)), r.standard_normal((6, 12, 3)), r.standard_normal(6)]
    params = {"stride": (2,), "padding": (2,), "dilation": (2,), "groups": 2}

    def layout(channels_last: bool):
        return lambda x, w, b: Convolution.apply(x.transpose(1, 2), w, b, **params, channels_last=channels_last)

    _compare(layout(True), layout(False), arrays)
    _compare(layout(False), lambda x, w, b: convolution_reference(x.transpose(1, 2), w, b, **params), arrays)


def test_conv_layout_follows_channels_last_pays():
    """Channels last for many channels and few positions (the paper's layers), channels first otherwise
    (few channels per group, many positions, or so many channels that the products dominate)."""
    cases = [((2, 128, 10), (8, 128, 3), True), ((2, 16, 100), (8, 4, 3), False), ((1, 3, 8, 8), (4, 3, 3, 3), False),
             ((1, 1024, 2), (2, 1024, 1), False)]
    for x_shape, w_shape, expected in cases:
        x, w = minidl.randn(*x_shape), minidl.randn(*w_shape, requires_grad=True)
        groups = x_shape[1] // w_shape[1]
        y = (F.conv1d if len(x_shape) == 3 else F.conv2d)(x, w, padding=1, groups=groups)
        assert y.grad_fn.channels_last is expected
        assert channels_last_pays(w_shape[1], math.prod(y.shape[2:])) is expected
    assert channels_last_pays(20, 10) and not channels_last_pays(19, 10)  # C/G >= 2P
    assert channels_last_pays(1023, 1) and not channels_last_pays(1024, 1)  # C/G < 1024


def test_relu_mask_backward_equals_where():
    x = rng(3).standard_normal((5, 6))
    _compare(minidl.relu, relu_reference, [x])
