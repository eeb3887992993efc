"""The paths that differed on CuPy (found by running the suite on tests/fake_cupy): each runs on
DEVICE, so ``--device cuda`` checks the CuPy path and the default run the NumPy one."""

import numpy as np
import pytest
from helpers import DEVICE, md, to_np

import minidl
from minidl import functional as F
from minidl import nn

OTHER = "cuda" if DEVICE == "cpu" and minidl.cuda.is_available() else "cpu"


def test_tensor_exponent_backward():
    x, y = md(np.array([0.0, 1.5, 2.0]), True), md(np.array([0.0, 2.0, -1.0]), True)
    (x ** y).sum().backward()
    (2.0 ** y).sum().backward()
    assert np.isfinite(to_np(x.grad)).all() and np.isfinite(to_np(y.grad)).all()


def test_rng_state_restores_dropout_masks_exactly():
    x = minidl.ones(4, 5, device=DEVICE)
    state = minidl.get_rng_state()
    first = [to_np(F.dropout(x, 0.5, training=True)), to_np(minidl.randn(3, device=DEVICE))]
    minidl.manual_seed(123)
    minidl.set_rng_state(state)
    again = [to_np(F.dropout(x, 0.5, training=True)), to_np(minidl.randn(3, device=DEVICE))]
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a, b)


def test_rng_draws_are_the_same_on_both_devices():
    minidl.manual_seed(5)
    here = to_np(minidl.rand(6, device=DEVICE))
    minidl.manual_seed(5)
    assert np.array_equal(here, to_np(minidl.rand(6, device=OTHER)))


def test_in_place_updates_take_host_arrays():
    t = minidl.zeros(2, 3, device=DEVICE)
    t.add_(np.array(0.5))
    t.add_(np.full(3, 1.0, np.float32), alpha=np.array(2.0))
    t[0] = np.arange(3, dtype=np.float32)
    t[1, np.array([0, 2])] = np.array([7.0, 8.0])
    t.mul_(np.array([1.0, 1.0, 2.0]))
    assert to_np(t).tolist() == [[0.0, 1.0, 4.0], [7.0, 2.5, 16.0]]
    t.copy_(np.ones((2, 3)))
    assert to_np(t).tolist() == [[1.0] * 3] * 2 and t.dtype == np.float32 and t.device == DEVICE


@pytest.mark.parametrize("key", [5, -4, [0, 3], np.array([1, -4])], ids=["int", "negative", "list", "array"])
def test_out_of_range_indices_raise_on_every_device(key):
    t = md(np.arange(3.0))
    with pytest.raises(IndexError, match="out of bounds for dimension 0 with size 3"):
        t[key]
    with pytest.raises(IndexError, match="out of bounds for dimension 0 with size 3"):
        t[key] = 1.0
    with pytest.raises(IndexError, match="out of bounds for dimension 1 with size 2"):
        md(np.zeros((2, 2)))[:, minidl.tensor([0, 2], device=DEVICE)]


def test_indices_from_the_other_device_are_moved():
    t = md(np.arange(4.0))
    assert to_np(t[minidl.tensor([3, 0], device=OTHER)]).tolist() == [3.0, 0.0]
    assert to_np(t[np.array([True, False, True, False])]).tolist() == [0.0, 2.0]


def test_full_takes_a_device_scalar():
    scalar = md(np.array(2.5, np.float64))
    filled = minidl.full((2,), scalar.array, device=DEVICE)
    assert filled.dtype == np.float32 and to_np(filled).tolist() == [2.5, 2.5]
    assert minidl.full((1,), scalar, device=OTHER).device == OTHER
    assert minidl.full((1,), np.int32(3)).dtype == np.int32


@pytest.mark.parametrize("optimizer", ["SGD", "Adam", "RMSprop"])
def test_a_model_can_change_device_and_dtype_under_its_optimizer(optimizer):
    def train(move_after: int, target: str, dtype) -> np.ndarray:
        minidl.manual_seed(0)
        model = nn.Linear(3, 2).to(OTHER)
        kwargs = {"momentum": 0.9} if optimizer != "Adam" else {}
        opt = getattr(minidl.optim, optimizer)(model.parameters(), lr=0.1, **kwargs)
        x = np.linspace(-1, 1, 12).reshape(4, 3)
        for step in range(4):
            if step == move_after:
                model.to(target, dtype)
            loss = (model(minidl.tensor(x, dtype=model.weight.dtype, device=model.weight.device)) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return to_np(model.weight).astype(np.float64)

    moved = train(2, DEVICE, minidl.float32)
    assert np.allclose(moved, train(0, DEVICE, minidl.float32), rtol=1e-6, atol=1e-7)
    assert np.allclose(train(2, DEVICE, minidl.float64), moved, rtol=1e-5, atol=1e-6)
