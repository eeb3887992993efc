"""What PyTorch refuses, minidl refuses (issue 11), with the op's name and the culprit.

* float-only ops on integer tensors (no silent float64 result);
* BatchNorm given an input with the wrong number of channels blames the input;
* binary_cross_entropy checks that its target, like its input, lies in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as torch_F

import minidl.functional as minidl_F
from minidl import nn
from tests.helpers import md, th, to_np

FLOAT_ONLY = {
    "softmax": lambda F, x: F.softmax(x, 0), "log_softmax": lambda F, x: F.log_softmax(x, 0),
    "var": lambda F, x: x.var(), "mean": lambda F, x: x.mean(), "gelu": lambda F, x: F.gelu(x),
    "softplus": lambda F, x: F.softplus(x), "leaky_relu": lambda F, x: F.leaky_relu(x),
}
PROMOTED = {"sum": lambda F, x: x.sum(), "sigmoid": lambda F, x: x.sigmoid(),
            "logsumexp": lambda F, x: x.logsumexp(0), "relu": lambda F, x: F.relu(x)}


@pytest.mark.parametrize("op", FLOAT_ONLY)
def test_float_only_ops_refuse_integer_tensors(op: str) -> None:
    with pytest.raises((RuntimeError, NotImplementedError)):
        FLOAT_ONLY[op](torch_F, th(np.arange(-2, 3)))
    with pytest.raises(TypeError, match=rf"{op}: input dtype should be floating point, got minidl.int64"):
        FLOAT_ONLY[op](minidl_F, md(np.arange(-2, 3)))


@pytest.mark.parametrize("op", PROMOTED)
def test_ops_that_accept_integer_tensors_as_pytorch(op: str) -> None:
    ours, theirs = PROMOTED[op](minidl_F, md(np.arange(-2, 3))), PROMOTED[op](torch_F, th(np.arange(-2, 3)))
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "minidl.")
    np.testing.assert_allclose(to_np(ours), to_np(theirs), rtol=1e-6)


@pytest.mark.parametrize("layer, shape", [(nn.BatchNorm1d, (2, 3)), (nn.BatchNorm1d, (2, 3, 5)),
                                          (nn.BatchNorm2d, (2, 3, 5, 5))])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_blames_an_input_with_the_wrong_channels(layer: Any, shape: tuple[int, ...],
                                                            training: bool) -> None:
    with pytest.raises(RuntimeError):
        getattr(torch.nn, layer.__name__)(4).train(training)(torch.zeros(shape))
    with pytest.raises(RuntimeError, match=rf"{layer.__name__}\(4\): expected input with 4 channels \(dimension 1\), "
                                           rf"got input of shape {re_shape(shape)}"):
        layer(4).train(training)(md(np.zeros(shape, np.float32)))


def re_shape(shape: tuple[int, ...]) -> str:
    return str(shape).replace("(", r"\(").replace(")", r"\)")


def test_functional_batch_norm_blames_the_parameter_that_disagrees() -> None:
    with pytest.raises(RuntimeError, match=r"batch_norm: expected bias of shape \(3,\), got \(4,\)"):
        minidl_F.batch_norm(md(np.zeros((2, 3), np.float32)), None, None, md(np.ones(3, np.float32)),
                            md(np.zeros(4, np.float32)), training=True)


@pytest.mark.parametrize("bad", ["input", "target"])
@pytest.mark.parametrize("value", [1.5, -0.5, float("nan")])
def test_binary_cross_entropy_checks_input_and_target_range(bad: str, value: float) -> None:
    def call(F: Any, tensor: Callable) -> Any:
        x, t = np.full(3, 0.5, np.float32), np.full(3, 0.5, np.float32)
        (x if bad == "input" else t)[1] = value
        return F.binary_cross_entropy(tensor(x), tensor(t))

    with pytest.raises(RuntimeError, match=f"all elements of {bad} should be between 0 and 1"):
        call(torch_F, th)
    with pytest.raises(RuntimeError, match=f"binary_cross_entropy: all elements of {bad} should be between 0 and 1"):
        call(minidl_F, md)


def test_binary_cross_entropy_accepts_0_and_1() -> None:
    values = np.array([0.0, 1.0, 0.25], np.float32)
    ours = minidl_F.binary_cross_entropy(md(values), md(values[::-1].copy()))
    theirs = torch_F.binary_cross_entropy(th(values), th(values[::-1].copy()))
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-6)
