"""The paper's three models: structure, and 20 Adam steps in minidl and PyTorch from the same
weights and data ending at the same parameters."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from helpers import DEVICE, TOL, md, rel_err, rng, th, to_np

import minidl
from minidl import nn
from minidl.interop import torch as interop
from minidl.models import MODELS, conv_model, fc_model, init_weights, residual_model
from minidl.optim import Adam

STEPS, BATCH = 20, 32
#: float32 bound on the final parameters after 20 Adam steps (float64 uses the shared 1e-10; float32
#: losses the shared 1e-5).  Adam divides each gradient by its running RMS, so a rounding-level
#: difference in a small gradient g moves its parameter by up to lr * noise / max(|g|, eps); over 20
#: steps this reaches 1e-4 relative here (measured worst: fc 1.0e-4, residual 5.1e-5, conv 1.8e-5),
#: and PyTorch's own float32 run differs from its float64 run by as much (3.7e-5, 6.3e-5, 1.0e-5).
FLOAT32_TOL = 5e-4
#: minidl float32 may be this many times further from the float64 run than PyTorch float32 is
#: (measured <= 2: NumPy's OpenBLAS sgemm rounds about 2x more than PyTorch's MKL here)
FLOAT32_ACCURACY_RATIO = 4


def _shapes(model: Any) -> list[tuple[str, tuple[int, ...]]]:
    return [(name, tuple(p.shape)) for name, p in model.named_parameters()]


def test_fc_model_is_1280_1024_1024_527() -> None:
    model = fc_model().to(DEVICE)
    assert _shapes(model) == [("0.weight", (1024, 1280)), ("0.bias", (1024,)), ("2.weight", (1024, 1024)),
                              ("2.bias", (1024,)), ("4.weight", (527, 1024)), ("4.bias", (527,))]
    assert tuple(model(md(np.zeros((3, 1280), np.float32))).shape) == (3, 527)
    with_dropout = fc_model(hidden=16, layers=3, dropout=0.5)
    assert [type(m).__name__ for m in with_dropout] == ["Linear", "ReLU", "Dropout"] * 3 + ["Linear"]


def test_residual_model_structure() -> None:
    model = residual_model(width=64, blocks=2).to(DEVICE)
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "ResidualBlock", "ResidualBlock", "Linear"]
    assert _shapes(model)[0] == ("0.weight", (64, 1280)) and _shapes(model)[-2] == ("4.weight", (527, 64))
    assert ("2.branch.2.weight", (64, 64)) in _shapes(model)
    assert tuple(model(md(np.zeros((2, 1280), np.float32))).shape) == (2, 527)


def test_conv_model_structure() -> None:
    model = conv_model().to(DEVICE)
    assert _shapes(model) == [("0.weight", (256, 128, 3)), ("0.bias", (256,)), ("2.weight", (256, 256, 3)),
                              ("2.bias", (256,)), ("6.weight", (527, 256)), ("6.bias", (527,))]
    assert tuple(model(md(np.zeros((2, 128, 10), np.float32))).shape) == (2, 527)
    assert set(MODELS) == {"fc", "residual", "conv"}


def test_weight_scale_initialisation() -> None:
    model = init_weights(fc_model(hidden=300, layers=1), 0.05)
    weight, bias = to_np(model[0].weight), to_np(model[0].bias)
    assert abs(weight.std() - 0.05) < 0.002 and abs(weight.mean()) < 0.002
    assert not bias.any()
    assert abs(to_np(fc_model(hidden=300, layers=1, weight_scale=0.05)[0].weight).std() - 0.05) < 0.002


def _data(name: str, dtype: type) -> list[tuple[np.ndarray, np.ndarray]]:
    """STEPS random batches: embeddings-like inputs in the model's layout, sparse multi-hot labels.

    Drawn in float32 and then cast, so the float64 batches hold exactly the float32 values.
    """
    r = rng(50)
    shape = (BATCH, 128, 10) if name == "conv" else (BATCH, 1280)
    return [(r.standard_normal(shape, np.float32).astype(dtype), (r.random((BATCH, 527)) < 0.05).astype(dtype))
            for _ in range(STEPS)]


def _train(model: Any, data: list[tuple[np.ndarray, np.ndarray]]) -> list[float]:
    """Adam (lr 1e-3) on BCE with logits over ``data``, in minidl or PyTorch (whichever ``model`` is)."""
    if isinstance(model, torch.nn.Module):
        optimizer, criterion, wrap = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=False), \
            torch.nn.BCEWithLogitsLoss(), th
    else:
        optimizer, criterion, wrap = Adam(model.parameters(), lr=1e-3), nn.BCEWithLogitsLoss(), md
    losses = []
    for x, y in data:
        optimizer.zero_grad()
        loss = criterion(model(wrap(x)), wrap(y))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _worst(model: Any, ref: torch.nn.Module) -> float:
    """The largest relative error over the parameters (names must agree)."""
    pairs = list(zip(model.named_parameters(), ref.named_parameters()))
    assert [key for (key, _), _ in pairs] == [key for _, (key, _) in pairs]
    return max(rel_err(p, t_p) for (_, p), (_, t_p) in pairs)


@pytest.mark.parametrize("name", ["fc", "residual", "conv"])
def test_twenty_adam_steps_match_torch(name: str) -> None:
    """minidl and PyTorch, float64 and float32, each train the same model 20 steps from the same weights."""
    runs = {}
    for dtype in (np.float64, np.float32):
        minidl.manual_seed(0)  # the same initial weights for both dtypes
        model = MODELS[name]().to(minidl.float64 if dtype == np.float64 else minidl.float32)
        ref = interop.to_torch(model)
        data = _data(name, dtype)
        runs[dtype] = (model, ref, _train(model.to(DEVICE), data), _train(ref, data))
    (model64, ref64, losses64, ref_losses64), (model32, ref32, losses32, ref_losses32) = runs.values()
    assert losses64[-1] < losses64[0]  # it learns something
    assert rel_err(np.array(losses64), np.array(ref_losses64)) <= TOL[np.float64]
    assert _worst(model64, ref64) <= TOL[np.float64]
    assert rel_err(np.array(losses32), np.array(ref_losses32)) <= TOL[np.float32]
    assert _worst(model32, ref32) <= FLOAT32_TOL
    # float32 minidl is about as close to exact (float64) training as float32 PyTorch is
    assert _worst(model32, ref64) <= max(FLOAT32_ACCURACY_RATIO * _worst(ref32, ref64), TOL[np.float32])
