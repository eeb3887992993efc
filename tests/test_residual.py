"""ResidualBlock / ResidualBlock1d: the formula, structure, torch twin parity and gradients."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from helpers import DEVICE, DTYPES, assert_close, md, rng, th, to_np

import minidl
from minidl import nn
from minidl.interop import torch as interop


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def _params(block: Any) -> dict[str, np.ndarray]:
    return {name: to_np(p).astype(np.float64) for name, p in block.named_parameters()}


def test_identity_block_computes_relu_of_sum() -> None:
    block = nn.ResidualBlock(6, 6).to(DEVICE)
    x = rng(40).standard_normal((5, 6))
    p = _params(block)
    hidden = _relu(x @ p["branch.0.weight"].T + p["branch.0.bias"])
    expected = _relu(x + hidden @ p["branch.2.weight"].T + p["branch.2.bias"])
    np.testing.assert_allclose(to_np(block(md(x.astype(np.float32)))), expected, rtol=1e-5, atol=1e-6)
    assert isinstance(block.shortcut, nn.Identity)
    assert list(p) == ["branch.0.weight", "branch.0.bias", "branch.2.weight", "branch.2.bias"]


def test_projection_block_has_a_bias_free_shortcut_and_hidden_width() -> None:
    block = nn.ResidualBlock(4, 6, hidden_features=3, activation=nn.Tanh).to(DEVICE)
    p = _params(block)
    assert {k: v.shape for k, v in p.items()} == {
        "branch.0.weight": (3, 4), "branch.0.bias": (3,), "branch.2.weight": (6, 3), "branch.2.bias": (6,),
        "shortcut.weight": (6, 4)}
    x = rng(41).standard_normal((2, 4))
    expected = np.tanh(x @ p["shortcut.weight"].T + np.tanh(x @ p["branch.0.weight"].T + p["branch.0.bias"])
                       @ p["branch.2.weight"].T + p["branch.2.bias"])
    np.testing.assert_allclose(to_np(block(md(x.astype(np.float32)))), expected, rtol=1e-5, atol=1e-6)


def _parity(block: Any, x: np.ndarray, dtype: type) -> None:
    """Forward, input gradient and every parameter gradient equal the torch twin's."""
    block = block.to(minidl.float64 if dtype == np.float64 else minidl.float32)
    ref = interop.to_torch(block)
    block.to(DEVICE)
    assert repr(ref) == repr(block)
    m_x, t_x = md(x.astype(dtype), requires_grad=True), th(x.astype(dtype), requires_grad=True)
    m_y, t_y = block(m_x), ref(t_x)
    assert_close(m_y, t_y, dtype, "forward")
    g = rng(42).standard_normal(t_y.shape).astype(dtype)
    m_y.backward(md(g))
    t_y.backward(torch.from_numpy(g))
    assert_close(m_x.grad, t_x.grad, dtype, "input gradient")
    for (name, p), (t_name, t_p) in zip(block.named_parameters(), ref.named_parameters()):
        assert name == t_name
        assert_close(p.grad, t_p.grad, dtype, f"gradient of {name}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("widths", [(8, 8, None), (5, 7, 4), (7, 3, None)])
def test_block_matches_torch_twin(widths: tuple[int, int, int | None], dtype: type) -> None:
    _parity(nn.ResidualBlock(*widths), rng(43).standard_normal((6, widths[0])), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels,kernel", [((4, 4, None), 3), ((3, 5, 2), 3), ((4, 4, None), 5)])
def test_conv_block_matches_torch_twin(channels: tuple[int, int, int | None], kernel: int, dtype: type) -> None:
    block = nn.ResidualBlock1d(*channels, kernel_size=kernel)
    _parity(block, rng(44).standard_normal((2, channels[0], 7)), dtype)


def test_conv_projection_is_a_bias_free_1x1_conv() -> None:
    block = nn.ResidualBlock1d(3, 5).to(DEVICE)
    assert isinstance(block.shortcut, nn.Conv1d) and block.shortcut.bias is None
    assert tuple(block.shortcut.weight.shape) == (5, 3, 1)
    assert isinstance(nn.ResidualBlock1d(4, 4).shortcut, nn.Identity)
    assert tuple(block(md(np.ones((2, 3, 10), np.float32))).shape) == (2, 5, 10)


def test_gradcheck_through_blocks() -> None:
    for block, shape in [(nn.ResidualBlock(3, 4, 2), (2, 3)), (nn.ResidualBlock1d(2, 3, 2), (1, 2, 4))]:
        block = block.to(minidl.float64).to(DEVICE)
        assert minidl.gradcheck(block, [md(rng(45).standard_normal(shape), requires_grad=True)])


def test_even_kernel_is_refused() -> None:
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        nn.ResidualBlock1d(3, 3, kernel_size=4)


def test_to_torch_refuses_unknown_modules() -> None:
    class Custom(nn.Linear):
        pass

    with pytest.raises(TypeError, match="no PyTorch equivalent for module Custom"):
        interop.to_torch(nn.Sequential(Custom(2, 3)))


def test_weights_copy_both_ways() -> None:
    block = nn.ResidualBlock(3, 5)
    ref = interop.to_torch(block)
    with torch.no_grad():
        for p in ref.parameters():
            p.mul_(2.0)
    interop.copy_from_torch(ref, block)
    for (name, p), t_p in zip(block.named_parameters(), ref.parameters()):
        np.testing.assert_array_equal(to_np(p), t_p.detach().numpy(), err_msg=name)
    other = nn.ResidualBlock(3, 5)
    interop.copy_to_torch(other, ref)
    for p, t_p in zip(other.parameters(), ref.parameters()):
        np.testing.assert_array_equal(to_np(p), t_p.detach().numpy())


@pytest.mark.parametrize("training", [False, True])
def test_to_torch_covers_common_layers(training: bool) -> None:
    model = nn.Sequential(
        nn.Conv1d(3, 4, 3, padding=1), nn.BatchNorm1d(4), nn.GELU(), nn.MaxPool1d(2), nn.AvgPool1d(2, 1),
        nn.Flatten(), nn.Linear(12, 5), nn.LayerNorm(5), nn.LeakyReLU(0.2), nn.Softplus(), nn.Tanh(),
        nn.Identity(), nn.ResidualBlock(5, 5), nn.Dropout(0.0), nn.LogSoftmax(dim=1)).train(training)
    ref = interop.to_torch(model)
    assert repr(ref) == repr(model)
    assert [m.training for m in ref.modules()] == [m.training for m in model.modules()]
    x = rng(46).standard_normal((6, 3, 8)).astype(np.float32)
    assert_close(model.to(DEVICE)(md(x)), ref(th(x)), np.float32)
    for key, value in ref.state_dict().items():  # batch norm's running statistics in training
        assert_close(model.state_dict()[key], value, np.float32, key)
