"""In-place operators and views (issue 11), against PyTorch.

* ``add_``, ``sub_``, ``mul_``, ``div_``, ``clamp_``, ``neg_``, ``zero_``, ``fill_``, ``copy_``,
  ``t[i] = v`` and ``+=``, ``-=``, ``*=``, ``/=``: the same values, the same object, the same version
  as PyTorch; PyTorch's dtype, broadcasting and grad-mode rules; the tutorial's
  ``p -= lr * p.grad`` loop trains.
* Views: a write through a view is seen by its base and the other way round exactly where PyTorch
  shares memory; ``view`` refuses what PyTorch refuses; ``is_contiguous`` and ``contiguous``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import minidl
from minidl import nn
from tests.helpers import DEVICE, md, th, to_np


def _base(tensor: Callable, requires_grad: bool = False) -> Any:
    return tensor(np.arange(12.0).reshape(3, 4) / 4 - 1, requires_grad)


# ------------------------------------------------------------------------------- in-place ops
def _iadd(x: Any, other: Any) -> Any:
    x += other
    return x


def _isub(x: Any, other: Any) -> Any:
    x -= other
    return x


def _imul(x: Any, other: Any) -> Any:
    x *= other
    return x


def _itruediv(x: Any, other: Any) -> Any:
    x /= other
    return x


def _setitem(x: Any, other: Any) -> Any:
    x[:, 1:] = other[..., 1:] if hasattr(other, "shape") else other
    return x


UPDATES = {
    "add_": lambda x, o: x.add_(o), "add_ alpha": lambda x, o: x.add_(o, alpha=-0.5),
    "sub_": lambda x, o: x.sub_(o), "sub_ alpha": lambda x, o: x.sub_(o, alpha=2), "mul_": lambda x, o: x.mul_(o),
    "div_": lambda x, o: x.div_(o), "+=": _iadd, "-=": _isub, "*=": _imul, "/=": _itruediv,
    "copy_": lambda x, o: x.copy_(o), "x[:, 1:] = v": _setitem,
}
OPERANDS = {"a number": lambda tensor: 1.5, "a tensor": lambda tensor: tensor(np.full((3, 4), 0.25), False),
            "a broadcast tensor": lambda tensor: tensor(np.array([1.0, -2.0, 0.5, 4.0]), False)}


@pytest.mark.parametrize("operand", OPERANDS)
@pytest.mark.parametrize("update", UPDATES)
def test_in_place_update_as_pytorch(update: str, operand: str) -> None:
    results = []
    for tensor in (md, th):
        x = _base(tensor)
        out = UPDATES[update](x, OPERANDS[operand](tensor))
        assert out is x
        results.append((to_np(x), x._version))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-15)
    assert results[0][1] == results[1][1] == 1


@pytest.mark.parametrize("update", ["clamp_", "neg_", "zero_", "fill_"])
def test_in_place_update_without_operand_as_pytorch(update: str) -> None:
    calls = {"clamp_": lambda x: x.clamp_(-0.5, 0.25), "neg_": lambda x: x.neg_(), "zero_": lambda x: x.zero_(),
             "fill_": lambda x: x.fill_(3.5)}
    ours, theirs = _base(md), _base(th)
    assert calls[update](ours) is ours and calls[update](theirs) is theirs
    np.testing.assert_array_equal(to_np(ours), to_np(theirs))
    assert ours._version == theirs._version == 1


def _both_raise(call: Callable[[Callable], Any], match: str) -> None:
    """``call(tensor)`` raises RuntimeError in PyTorch and in minidl (with ``match`` in minidl's message)."""
    with pytest.raises(RuntimeError):
        call(th)
    with pytest.raises(RuntimeError, match=match):
        call(md)


def test_an_integer_tensor_refuses_a_float_result() -> None:
    def integers(tensor: Callable) -> Any:
        return tensor(np.arange(3), False)

    cast = "can't be cast to the desired output type minidl.int64"
    _both_raise(lambda tensor: integers(tensor).add_(1.5), rf"add_: result type float64 {cast}")
    _both_raise(lambda tensor: _itruediv(integers(tensor), 2), rf"div_: result type float64 {cast}")
    _both_raise(lambda tensor: integers(tensor).mul_(tensor(np.ones(3), False)), cast)
    for tensor in (md, th):  # an integer result fits
        x = integers(tensor)
        x += 2
        np.testing.assert_array_equal(to_np(x), [2, 3, 4])


def test_a_float32_tensor_keeps_its_dtype() -> None:
    results = []
    for tensor in (md, th):
        x = tensor(np.ones(3, np.float32), False)
        x += tensor(np.full(3, 1 / 3), False)  # float64 operand
        results.append(to_np(x))
    assert results[0].dtype == results[1].dtype == np.float32
    np.testing.assert_array_equal(results[0], results[1])


def test_the_operand_broadcasts_to_the_tensor_not_the_other_way() -> None:
    _both_raise(lambda tensor: tensor(np.ones(3), False).add_(tensor(np.ones((2, 3)), False)),
                r"add_: output with shape \[3\] doesn't match the broadcast shape")


def test_an_expanded_tensor_refuses_writes() -> None:
    _both_raise(lambda tensor: tensor(np.ones((3, 1)), False).expand(3, 4).add_(1),
                "more than one element of the written-to tensor refers to a single memory location")


@pytest.mark.parametrize("update", [*UPDATES, "clamp_", "neg_", "zero_", "fill_"])
def test_a_leaf_that_requires_grad_is_refused_in_grad_mode(update: str) -> None:
    def call(tensor: Callable) -> Any:
        x = _base(tensor, requires_grad=True)
        extra = {"clamp_": lambda: x.clamp_(0, 1), "neg_": x.neg_, "zero_": x.zero_, "fill_": lambda: x.fill_(1)}
        return extra[update]() if update in extra else UPDATES[update](x, 2.0)

    _both_raise(call, "a leaf Variable that requires grad is being used in an in-place operation")
    for tensor, lib in ((md, minidl), (th, torch)):  # allowed without a graph, as optimizers do
        with lib.no_grad():
            call(tensor)


def test_graph_recording_in_place_ops_are_refused_clearly() -> None:
    """PyTorch records these in the graph; minidl does not, and says so instead of a wrong gradient."""
    for lib, tensor in ((torch, th), (minidl, md)):
        w = _base(tensor, requires_grad=True)
        if lib is torch:
            (w * 2).add_(1)
            tensor(np.zeros((3, 4)), False).add_(w)
            continue
        with pytest.raises(RuntimeError, match=r"add_: the tensor is the output of MulBackward, part of a graph: "
                                               "PyTorch would record the in-place operation in the graph, minidl "
                                               "does not support that"):
            (w * 2).add_(1)
        with pytest.raises(RuntimeError, match="add_: the operand requires grad: PyTorch would record"):
            tensor(np.zeros((3, 4)), False).add_(w)


def test_the_tutorial_loop_trains_as_in_pytorch() -> None:
    """``with no_grad(): for p in model.parameters(): p -= lr * p.grad`` updates the parameters in place."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 4)), rng.standard_normal((16, 1))
    ours = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).double().to(DEVICE)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    with torch.no_grad():
        for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
            q.copy_(torch.from_numpy(to_np(p)))
    losses = {}
    for lib, model, tensor in ((minidl, ours, md), (torch, theirs, th)):
        params = list(model.parameters())
        losses[lib.__name__] = []
        for _ in range(20):
            loss = ((model(tensor(x)) - tensor(y)) ** 2).mean()
            loss.backward()
            with lib.no_grad():
                for p in model.parameters():
                    p -= 0.1 * p.grad
                    p.grad = None
            losses[lib.__name__].append(loss.item())
        assert all(p is q for p, q in zip(params, model.parameters(), strict=True))
    assert losses["minidl"][-1] < 0.5 * losses["minidl"][0]
    np.testing.assert_allclose(losses["minidl"], losses["torch"], rtol=1e-10)
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        np.testing.assert_allclose(to_np(p), to_np(q), rtol=1e-10)


# ---------------------------------------------------------------------------------------- views
SHAPES: dict[str, Callable[[Any], Any]] = {
    "view(12)": lambda x: x.view(12),
    "view(2, -1)": lambda x: x.view(2, -1),
    "view_as": lambda x: x.view_as(x.reshape(6, 2)),
    "reshape of a contiguous tensor": lambda x: x.reshape(4, 3),
    "flatten": lambda x: x.flatten(),
    "transpose": lambda x: x.transpose(0, 1),
    "T": lambda x: x.T,
    "permute": lambda x: x.permute(1, 0),
    "x[1]": lambda x: x[1],
    "x[:, 1:]": lambda x: x[:, 1:],
    "x[::2, ::3]": lambda x: x[::2, ::3],
    "unsqueeze, squeeze": lambda x: x.unsqueeze(1).squeeze(1),
    "detach": lambda x: x.detach(),
    "transpose().view(4, 3, 1)": lambda x: x.t().view(4, 3, 1),
    "transpose().contiguous()": lambda x: x.t().contiguous(),
    "contiguous() of a contiguous tensor": lambda x: x.contiguous(),
    "reshape of a transpose (a copy)": lambda x: x.t().reshape(12),
    "x[[0, 2]] (a copy)": lambda x: x[[0, 2]],
    "clone (a copy)": lambda x: x.clone(),
}


def _aliasing(tensor: Callable, lib: Any, make: Callable[[Any], Any]) -> list[Any]:
    """After writing through the derived tensor, then through the base: both tensors' values,
    versions and layouts."""
    x = _base(tensor)
    y = make(x)
    seen: list[Any] = [y.is_contiguous(), y is x]
    with lib.no_grad():
        y[(0,) * y.ndim] = 100.0
        seen += [to_np(x).copy(), x._version, y._version]
        x.mul_(-1)
        seen += [to_np(y).copy(), x._version, y._version]
    return seen


@pytest.mark.parametrize("make", SHAPES.values(), ids=SHAPES.keys())
def test_writes_through_views_as_in_pytorch(make: Callable[[Any], Any]) -> None:
    ours, theirs = _aliasing(md, minidl, make), _aliasing(th, torch, make)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make, shape", [
    (lambda x: x.t(), (12,)), (lambda x: x.t(), (2, 6)), (lambda x: x.t(), (2, 2, 3)), (lambda x: x.t(), (4, 3, 1)),
    (lambda x: x[:, ::2], (6,)), (lambda x: x[:, :2], (3, 2, 1)), (lambda x: x[:, :2], (6,)),
    (lambda x: x[1:], (8,)), (lambda x: x.unsqueeze(0).expand(2, 3, 4), (2, 12)),
    (lambda x: x.unsqueeze(0).expand(2, 3, 4), (6, 4)),
], ids=["t -> 12", "t -> 2x6", "t -> 2x2x3", "t -> 4x3x1", "every 2nd column -> 6", "2 columns -> 3x2x1",
        "2 columns -> 6", "rows 1: -> 8", "expanded -> 2x12", "expanded -> 6x4"])
def test_view_refuses_what_pytorch_refuses(make: Callable[[Any], Any], shape: tuple[int, ...]) -> None:
    try:
        expected = to_np(make(_base(th)).view(shape))
    except RuntimeError as error:
        assert "view size is not compatible with input tensor's size and stride" in str(error)
        with pytest.raises(RuntimeError, match=r"view: view size is not compatible with input tensor's size and "
                                               r"stride .* Use \.reshape\(\.\.\.\) instead\."):
            make(_base(md)).view(shape)
        return
    np.testing.assert_array_equal(to_np(make(_base(md)).view(shape)), expected)


def test_gradients_flow_through_view_and_contiguous() -> None:
    grads = []
    for tensor in (md, th):
        x = _base(tensor, requires_grad=True)
        w = tensor(np.arange(12.0), False)
        ((x.t().contiguous().view(12) * w).sum() + (x.view(2, 6) ** 2).sum()).backward()
        grads.append(to_np(x.grad))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-15)
