"""Every fused node equals its ``<op>_reference`` built from primitives: values and gradients, float64.

Each case applies the node and its reference to the same inputs with the same parameters, sends
one random upstream gradient back through both, and compares the outputs and every input's
gradient.  Shapes are odd on purpose (no square matrices, no equal sizes that could hide a
transpose).  A coverage test checks that every ``*_reference`` in :mod:`minidl.ops` and every
fused node named in the package docstring has a case here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from helpers import md, rng, to_np

import minidl.ops
from minidl.autograd.function import Function
from minidl.ops import activation, conv, linear, loss, normalization, pool

MODULES = [importlib.import_module(f"minidl.ops.{m.name}") for m in pkgutil.iter_modules(minidl.ops.__path__)]


@dataclass
class Case:
    """``node.apply(*inputs, **params())`` against ``reference(*inputs, **params())``."""

    node: type[Function]
    reference: Callable[..., Any]
    make: Callable[[np.random.Generator], list[Any]]  # arrays: float64 inputs that require grad; None passes
    params: Callable[[], dict[str, Any]] = dict


def _a(x: np.ndarray) -> Any:
    """A constant parameter array on the test device."""
    return md(x).array


def _normals(*shapes: tuple[int, ...], scale: float = 1.0) -> Callable[[np.random.Generator], list[Any]]:
    return lambda r: [scale * r.standard_normal(s) for s in shapes]


def _stats() -> dict[str, Any]:
    r = rng(11)
    return {"running_mean": _a(r.standard_normal(3)), "running_var": _a(r.uniform(0.5, 2, 3))}


TARGETS = np.array([0, 3, 1, -100, 3])
CLASS_WEIGHT = np.array([0.5, 1.0, 2.0, 1.5])
CASES = {
    "linear": Case(linear.Linear, linear.linear_reference, _normals((2, 5, 7), (3, 7), (3,))),
    "linear, no bias": Case(linear.Linear, linear.linear_reference,
                            lambda r: [*_normals((4, 7), (3, 7))(r), None]),
    "conv1d, stride 2, padding 1, dilation 2": Case(
        conv.Convolution, conv.convolution_reference, _normals((2, 3, 9), (4, 3, 3), (4,)),
        lambda: {"stride": (2,), "padding": (1,), "dilation": (2,), "groups": 1}),
    "conv1d, 'same', even kernel, no bias": Case(
        conv.Convolution, conv.convolution_reference, lambda r: [*_normals((2, 3, 8), (5, 3, 4))(r), None],
        lambda: {"stride": (1,), "padding": "same", "dilation": (1,), "groups": 1}),
    "conv2d, groups 2, padding (1, 0), stride (2, 1)": Case(
        conv.Convolution, conv.convolution_reference, _normals((2, 4, 5, 6), (6, 2, 3, 2), (6,)),
        lambda: {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 1), "groups": 2}),
    "max_pool1d, ceil_mode": Case(
        pool.MaxPool, pool.max_pool_reference, _normals((2, 3, 9)),
        lambda: {"kernel": (3,), "stride": (2,), "padding": (1,), "dilation": (1,), "ceil_mode": True}),
    "max_pool2d, dilation": Case(
        pool.MaxPool, pool.max_pool_reference, _normals((1, 2, 7, 6)),
        lambda: {"kernel": (2, 3), "stride": (2, 1), "padding": (1, 1), "dilation": (2, 1), "ceil_mode": False}),
    "avg_pool1d, ceil_mode, exclude pad": Case(
        pool.AvgPool, pool.avg_pool_reference, _normals((2, 3, 9)),
        lambda: {"kernel": (3,), "stride": (2,), "padding": (1,), "ceil_mode": True, "count_include_pad": False}),
    "avg_pool2d, divisor_override": Case(
        pool.AvgPool, pool.avg_pool_reference, _normals((1, 2, 5, 7)),
        lambda: {"kernel": (2, 3), "stride": (2, 2), "padding": (1, 1), "ceil_mode": False,
                 "count_include_pad": True, "divisor_override": 5}),
    "adaptive_avg_pool1d": Case(pool.AdaptiveAvgPool, pool.adaptive_avg_pool_reference, _normals((2, 3, 7)),
                                lambda: {"output_size": (3,)}),
    "adaptive_avg_pool2d, one size kept": Case(pool.AdaptiveAvgPool, pool.adaptive_avg_pool_reference,
                                               _normals((1, 2, 5, 7)), lambda: {"output_size": (2, None)}),
    "relu": Case(activation.ReLU, activation.relu_reference, _normals((3, 5))),
    "sigmoid": Case(activation.Sigmoid, activation.sigmoid_reference, _normals((3, 5), scale=3)),
    "softplus, beta 2, threshold 1.5": Case(activation.Softplus, activation.softplus_reference,
                                            _normals((3, 5), scale=2), lambda: {"beta": 2.0, "threshold": 1.5}),
    "softmax": Case(activation.Softmax, activation.softmax_reference, _normals((3, 4, 5)), lambda: {"dim": 1}),
    "log_softmax": Case(activation.LogSoftmax, activation.log_softmax_reference, _normals((3, 5)),
                        lambda: {"dim": 1}),
    "logsumexp": Case(activation.LogSumExp, activation.log_sum_exp_reference, _normals((2, 3, 5)),
                      lambda: {"dim": (0, 2), "keepdim": False}),
    "layer_norm": Case(normalization.Normalize, normalization.normalize_reference, _normals((3, 4, 5), (4, 5), (4, 5)),
                       lambda: {"axes": (1, 2), "param_axes": (1, 2), "eps": 1e-5}),
    "batch_norm, training": Case(
        normalization.BatchNorm, normalization.batch_norm_reference, _normals((4, 3, 5), (3,), (3,)),
        lambda: {"axes": (0, 2), "param_axes": (1,), "eps": 1e-5, "momentum": 0.1, **_stats()}),
    "batch_norm, evaluation": Case(
        normalization.BatchNormInference, normalization.batch_norm_inference_reference, _normals((4, 3, 5), (3,), (3,)),
        lambda: {"param_axes": (1,), "eps": 1e-5, **_stats()}),
    "bce_with_logits, mean": Case(loss.BinaryCrossEntropyWithLogits, loss.binary_cross_entropy_with_logits_reference,
                                  lambda r: [3 * r.standard_normal((6, 5)), r.random((6, 5))],
                                  lambda: {"weight": None, "pos_weight": None, "reduction": "mean"}),
    "bce_with_logits, weight, pos_weight, none": Case(
        loss.BinaryCrossEntropyWithLogits, loss.binary_cross_entropy_with_logits_reference,
        lambda r: [3 * r.standard_normal((6, 5)), r.random((6, 5))],
        lambda: {"weight": _a(np.linspace(0.5, 2, 5)), "pos_weight": _a(np.linspace(3, 1, 5)), "reduction": "none"}),
    "bce, weight, sum": Case(loss.BinaryCrossEntropy, loss.binary_cross_entropy_reference,
                             lambda r: [r.uniform(0.1, 0.9, (6, 5)), r.random((6, 5))],
                             lambda: {"weight": _a(np.linspace(0.5, 2, 6)[:, None]), "reduction": "sum"}),
    "mse, mean": Case(loss.MSELoss, loss.mse_loss_reference, _normals((4, 5), (4, 5)),
                      lambda: {"reduction": "mean"}),
    "mse, none": Case(loss.MSELoss, loss.mse_loss_reference, _normals((4, 5), (4, 5)),
                      lambda: {"reduction": "none"}),
    "cross_entropy, indices, weight, ignore_index, smoothing": Case(
        loss.CrossEntropy, loss.cross_entropy_reference, _normals((5, 4)),
        lambda: {"target": _a(TARGETS), "weight": _a(CLASS_WEIGHT), "ignore_index": -100, "label_smoothing": 0.2,
                 "reduction": "mean"}),
    "cross_entropy, (N, C, d) indices, none": Case(
        loss.CrossEntropy, loss.cross_entropy_reference, _normals((2, 3, 5)),
        lambda: {"target": _a(np.array([[0, 2, 1, 1, 0], [2, 2, 0, 1, 1]])), "weight": None, "ignore_index": -100,
                 "label_smoothing": 0.0, "reduction": "none"}),
    "cross_entropy, probabilities, weight, smoothing": Case(
        loss.CrossEntropyWithProbabilities, loss.cross_entropy_with_probabilities_reference,
        lambda r: [r.standard_normal((3, 4)), r.dirichlet(np.ones(4), 3)],
        lambda: {"weight": _a(CLASS_WEIGHT), "label_smoothing": 0.1, "reduction": "mean"}),
}


def _run(fn: Callable[..., Any], arrays: list[Any], params: dict[str, Any]) -> tuple[np.ndarray, list[np.ndarray]]:
    """fn's output and the gradients of its inputs for one random upstream gradient."""
    inputs = [None if a is None else md(a, requires_grad=True) for a in arrays]
    out = fn(*inputs, **params)
    out.backward(md(rng(7).standard_normal(out.shape)))
    return to_np(out), [to_np(t.grad) for t in inputs if t is not None]


@pytest.mark.parametrize("name", CASES)
def test_fused_node_equals_its_reference(name: str) -> None:
    case = CASES[name]
    arrays = case.make(rng(3))
    out, grads = _run(case.node.apply, arrays, case.params())
    ref_out, ref_grads = _run(case.reference, arrays, case.params())
    np.testing.assert_allclose(out, ref_out, rtol=1e-10, atol=1e-12)
    for g, ref in zip(grads, ref_grads):
        np.testing.assert_allclose(g, ref, rtol=1e-10, atol=1e-12)


def test_the_running_statistics_update_equals_the_reference() -> None:
    case, arrays = CASES["batch_norm, training"], _normals((4, 3, 5), (3,), (3,))(rng(3))
    fused, reference = case.params(), case.params()
    _run(case.node.apply, arrays, fused)
    _run(case.reference, arrays, reference)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(to_np(fused[name]), to_np(reference[name]), rtol=1e-12)


def test_every_reference_and_every_fused_node_has_a_case() -> None:
    references = {f for module in MODULES for name, f in vars(module).items()
                  if name.endswith("_reference") and not name.startswith("_") and inspect.isfunction(f)
                  and f.__module__ == module.__name__}
    assert references == {case.reference for case in CASES.values()}
    fused_section = minidl.ops.__doc__.split("Fused conveniences")[1]
    assert set(re.findall(r"``(\w+)``", fused_section)) == {case.node.__name__ for case in CASES.values()}
    for case in CASES.values():  # each reference sits beside its node, which names it
        assert case.reference.__module__ == case.node.__module__
        assert f":func:`{case.reference.__name__}`" in case.node.__doc__, case.node.__name__
