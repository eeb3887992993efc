"""minidl.nn.init: gains and fans equal torch's, sample statistics match the distributions."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from helpers import DEVICE, DTYPES, to_np

import minidl
from minidl import backend
from minidl.autograd import random
from minidl.nn import Parameter, init

SHAPE = (256, 512)  # 131072 samples: sample mean/std within ~1% of the truth
N = math.prod(SHAPE)


def empty(shape: tuple[int, ...] = SHAPE, dtype: Any = np.float32) -> minidl.Tensor:
    return minidl.zeros(shape, dtype=dtype, device=DEVICE)


def assert_moments(values: np.ndarray, mean: float, std: float) -> None:
    """Sample mean within 5 standard errors, sample std within 2% (both far beyond chance)."""
    assert abs(values.mean() - mean) < 5 * std / math.sqrt(values.size) + 1e-7, (values.mean(), mean)
    assert abs(values.std() / std - 1) < 0.02, (values.std(), std)


# ------------------------------------------------------------------------------------ gains
@pytest.mark.parametrize("nonlinearity, param", [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None), ("conv_transpose1d", None),
    ("conv_transpose2d", None), ("conv_transpose3d", None), ("sigmoid", None), ("tanh", None),
    ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0), ("leaky_relu", 3),
    ("leaky_relu", math.sqrt(5)), ("selu", None),
])
def test_calculate_gain_equals_torch(nonlinearity: str, param: Any) -> None:
    assert init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(nonlinearity, param)


@pytest.mark.parametrize("nonlinearity, param",
                         [("swish", None), ("leaky_relu", True), ("leaky_relu", "0.1")])
def test_calculate_gain_errors_like_torch(nonlinearity: str, param: Any) -> None:
    with pytest.raises(ValueError) as torch_error:
        torch.nn.init.calculate_gain(nonlinearity, param)
    with pytest.raises(ValueError, match=str(torch_error.value)):
        init.calculate_gain(nonlinearity, param)


# ------------------------------------------------------------------------------------- fans
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (8, 4, 3), (8, 4, 3, 5), (2, 3, 1, 1, 2), (4, 0)])
def test_fans_equal_torch(shape: tuple[int, ...]) -> None:
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init._calculate_fan_in_and_fan_out(empty(shape)) == expected


def test_fans_need_two_dimensions() -> None:
    with pytest.raises(ValueError, match=r"fewer than 2 dimensions \(got shape \(7,\)\)"):
        init._calculate_fan_in_and_fan_out(empty((7,)))


# ------------------------------------------------------------------------ basic distributions
@pytest.mark.parametrize("dtype", DTYPES)
def test_uniform(dtype: Any) -> None:
    t = empty(dtype=dtype)
    assert init.uniform_(t, -2.0, 3.0) is t and t.dtype == dtype
    values = to_np(t)
    assert values.min() >= -2.0 and values.max() < 3.0
    assert values.min() < -1.99 and values.max() > 2.99
    assert_moments(values, 0.5, 5 / math.sqrt(12))


@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_weight_scale(dtype: Any) -> None:
    t = empty(dtype=dtype)
    assert init.normal_(t, mean=1.5, std=0.01) is t and t.dtype == dtype
    assert_moments(to_np(t), 1.5, 0.01)


@pytest.mark.parametrize("dtype", DTYPES)
def test_draws_are_made_in_the_tensors_dtype(dtype: Any) -> None:
    """The values are the generator's draws in ``dtype`` (not float64 draws rounded down)."""
    minidl.manual_seed(3)
    draws = backend.to_numpy(random.generator(DEVICE).standard_normal(SHAPE, dtype=dtype))
    minidl.manual_seed(3)
    assert np.array_equal(to_np(init.normal_(empty(dtype=dtype), 0.0, 1.0)), draws)
    minidl.manual_seed(3)
    draws = backend.to_numpy(random.generator(DEVICE).random(SHAPE, dtype=dtype))
    minidl.manual_seed(3)
    assert np.array_equal(to_np(init.uniform_(empty(dtype=dtype))), draws)


def test_constant_zeros_ones() -> None:
    t = empty((3, 4), np.float64)
    assert init.constant_(t, 0.25) is t and np.all(to_np(t) == 0.25) and t.dtype == np.float64
    assert np.all(to_np(init.ones_(t)) == 1) and not to_np(init.zeros_(t)).any()


# ------------------------------------------------------------------------- xavier and kaiming
def torch_fan(shape: tuple[int, ...], mode: str) -> int:
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    return fan_in if mode == "fan_in" else fan_out


def torch_std(name: str, shape: tuple[int, ...], **kwargs: Any) -> float:
    """The standard deviation PyTorch's formulas give (uniform bounds are sqrt(3) times it)."""
    if name.startswith("xavier"):
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
        return kwargs.get("gain", 1.0) * math.sqrt(2.0 / (fan_in + fan_out))
    gain = torch.nn.init.calculate_gain(kwargs.get("nonlinearity", "leaky_relu"), kwargs.get("a", 0))
    return gain / math.sqrt(torch_fan(shape, kwargs.get("mode", "fan_in")))


CASES = [
    ("xavier_uniform_", SHAPE, {}),
    ("xavier_uniform_", (64, 32, 5), {"gain": 5 / 3}),
    ("xavier_normal_", SHAPE, {}),
    ("xavier_normal_", (32, 16, 3, 3), {"gain": 2.0}),
    ("kaiming_uniform_", SHAPE, {}),
    ("kaiming_uniform_", SHAPE, {"a": math.sqrt(5)}),  # PyTorch's Linear default: U(+-1/sqrt(fan_in))
    ("kaiming_uniform_", (128, 64, 3), {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", SHAPE, {"nonlinearity": "relu"}),
    ("kaiming_normal_", (64, 32, 3, 3), {"a": 0.2, "mode": "fan_out"}),
    ("kaiming_normal_", SHAPE, {"nonlinearity": "tanh"}),
]


@pytest.mark.parametrize("name, shape, kwargs", CASES, ids=[f"{n}-{s}-{k}" for n, s, k in CASES])
@pytest.mark.parametrize("dtype", DTYPES)
def test_xavier_kaiming_match_torch_formulas(name: str, shape: tuple[int, ...], kwargs: dict,
                                             dtype: Any) -> None:
    t = empty(shape, dtype)
    assert getattr(init, name)(t, **kwargs) is t and t.dtype == dtype
    values, std = to_np(t), torch_std(name, shape, **kwargs)
    assert_moments(values, 0.0, std)
    reference = getattr(torch.nn.init, name)(torch.empty(shape, dtype=torch.float64), **kwargs).numpy()
    assert abs(values.std() / reference.std() - 1) < 0.03  # and agrees with torch's own samples
    if name.endswith("uniform_"):
        bound = math.sqrt(3.0) * std
        assert np.abs(values).max() <= bound * (1 + 1e-6) and np.abs(values).max() > 0.99 * bound


def test_linear_default_init_bound() -> None:
    weight = empty((300, 400))
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    assert abs(np.abs(to_np(weight)).max() - 1 / math.sqrt(400)) < 1e-4


# ---------------------------------------------------------------------- behaviour and errors
def test_init_of_a_parameter_records_no_graph() -> None:
    p = Parameter(empty((20, 10)))
    init.xavier_normal_(p)
    init.zeros_(p)
    assert p.is_leaf and p.requires_grad and minidl.is_grad_enabled()


def test_deterministic_under_manual_seed() -> None:
    def draw(seed: int) -> np.ndarray:
        minidl.manual_seed(seed)
        return to_np(init.kaiming_normal_(empty((30, 20)))).copy()

    assert np.array_equal(draw(7), draw(7))
    assert not np.array_equal(draw(7), draw(8))


def test_empty_tensor_is_a_no_op_with_torch_warning() -> None:
    for fn in (init.kaiming_uniform_, init.kaiming_normal_):
        with pytest.warns(UserWarning, match="zero-element"):
            assert fn(empty((0, 3))).shape == (0, 3)
        with pytest.warns(UserWarning, match="zero-element"):
            getattr(torch.nn.init, fn.__name__)(torch.empty(0, 3))


def test_errors() -> None:
    with pytest.raises(TypeError, match="uniform_: can only fill a floating-point tensor, got dtype minidl.int64"):
        init.uniform_(minidl.zeros(3, dtype=minidl.int64, device=DEVICE))
    with pytest.raises(RuntimeError, match="from=1.0 > to=0.0"):
        init.uniform_(empty((2, 2)), 1.0, 0.0)
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        init.normal_(empty((2, 2)), 0.0, -1.0)
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(empty((2, 2)), mode="fan_avg")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(empty((5,)))
