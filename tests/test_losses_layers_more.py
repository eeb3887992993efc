"""nll_loss / NLLLoss, l1_loss / L1Loss, smooth_l1_loss / SmoothL1Loss, huber_loss / HuberLoss, ELU, SiLU
and Embedding against PyTorch: values and gradients (random upstream gradient) in float32 and float64,
gradcheck in float64, PyTorch's edge cases, module reprs and the interop twins."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import DEVICE, DTYPES, check_grad, check_parity, md, nonzero, rng, to_np

import minidl
from minidl import functional as F
from minidl import nn
from minidl.interop import torch as interop

CLASS_WEIGHT = np.array([0.5, 1.0, 2.0, 1.5])


def _md_weight(x: minidl.Tensor) -> minidl.Tensor:
    return minidl.tensor(CLASS_WEIGHT, dtype=x.dtype, device=x.device)


def _th_weight(x: torch.Tensor) -> torch.Tensor:
    return torch.tensor(CLASS_WEIGHT, dtype=x.dtype)


def _pair(shape: tuple[int, ...], seed: int) -> list[np.ndarray]:
    """Input and target that never tie (|input - target| >= 0.05), and stay away from |d| = 1 and 0.5."""
    r = rng(seed)
    x = r.standard_normal(shape)
    d = r.uniform(0.05, 2.0, shape) * r.choice([-1.0, 1.0], shape)
    d = np.where(np.abs(np.abs(d) - 1.0) < 0.05, d * 1.2, d)
    d = np.where(np.abs(np.abs(d) - 0.5) < 0.05, d * 1.2, d)
    return [x, x - d]


# name -> (minidl function, torch function, inputs)
LOSSES = {
    "nll_mean": (F.nll_loss, TF.nll_loss, [rng(1).standard_normal((5, 4)), np.array([0, 3, 1, 2, 3])]),
    "nll_weight_ignore": (lambda x, t: F.nll_loss(x, t, _md_weight(x), ignore_index=1),
                          lambda x, t: TF.nll_loss(x, t, _th_weight(x), ignore_index=1),
                          [rng(2).standard_normal((6, 4)), np.array([0, 3, 1, 1, 3, 2])]),
    "nll_sum_default_ignore": (lambda x, t: F.nll_loss(x, t, reduction="sum"),
                               lambda x, t: TF.nll_loss(x, t, reduction="sum"),
                               [rng(3).standard_normal((5, 4)), np.array([0, -100, 1, 2, 2])]),
    "nll_none_3d": (lambda x, t: F.nll_loss(x, t, _md_weight(x), reduction="none"),
                    lambda x, t: TF.nll_loss(x, t, _th_weight(x), reduction="none"),
                    [rng(4).standard_normal((2, 4, 3)), rng(5).integers(0, 4, (2, 3))]),
    "nll_4d_mean": (F.nll_loss, TF.nll_loss, [rng(6).standard_normal((2, 3, 2, 2)), rng(7).integers(0, 3, (2, 2, 2))]),
    "nll_unbatched": (F.nll_loss, TF.nll_loss, [rng(8).standard_normal(4), np.array(2)]),
    "nll_unbatched_none": (lambda x, t: F.nll_loss(x, t, reduction="none"),
                           lambda x, t: TF.nll_loss(x, t, reduction="none"), [rng(9).standard_normal(4), np.array(1)]),
    "nll_repeated_targets": (F.nll_loss, TF.nll_loss, [rng(10).standard_normal((4, 3)), np.array([2, 2, 2, 0])]),
    "l1_mean": (F.l1_loss, TF.l1_loss, _pair((3, 4), 11)),
    "l1_sum": (lambda x, t: F.l1_loss(x, t, reduction="sum"), lambda x, t: TF.l1_loss(x, t, reduction="sum"),
               _pair((2, 3, 2), 12)),
    "l1_none": (lambda x, t: F.l1_loss(x, t, reduction="none"), lambda x, t: TF.l1_loss(x, t, reduction="none"),
                _pair((5,), 13)),
    "l1_weight_mean": (lambda x, t: F.l1_loss(x, t, weight=minidl.tensor(np.arange(1.0, 13).reshape(3, 4),
                                                                          dtype=x.dtype, device=x.device)),
                       lambda x, t: TF.l1_loss(x, t, weight=torch.arange(1.0, 13, dtype=x.dtype).reshape(3, 4)),
                       _pair((3, 4), 14)),
    "smooth_l1_mean": (F.smooth_l1_loss, TF.smooth_l1_loss, _pair((3, 4), 15)),
    "smooth_l1_beta_sum": (lambda x, t: F.smooth_l1_loss(x, t, reduction="sum", beta=0.5),
                           lambda x, t: TF.smooth_l1_loss(x, t, reduction="sum", beta=0.5), _pair((4, 3), 16)),
    "smooth_l1_beta0_none": (lambda x, t: F.smooth_l1_loss(x, t, reduction="none", beta=0.0),
                             lambda x, t: TF.smooth_l1_loss(x, t, reduction="none", beta=0.0), _pair((6,), 17)),
    "huber_mean": (F.huber_loss, TF.huber_loss, _pair((3, 4), 18)),
    "huber_delta_none": (lambda x, t: F.huber_loss(x, t, reduction="none", delta=0.5),
                         lambda x, t: TF.huber_loss(x, t, reduction="none", delta=0.5), _pair((2, 5), 19)),
    "huber_weight_mean": (lambda x, t: F.huber_loss(x, t, delta=2.0, weight=minidl.tensor(
                              np.arange(1.0, 7).reshape(2, 3), dtype=x.dtype, device=x.device)),
                          lambda x, t: TF.huber_loss(x, t, delta=2.0,
                                                     weight=torch.arange(1.0, 7, dtype=x.dtype).reshape(2, 3)),
                          _pair((2, 3), 20)),
}


@pytest.mark.parametrize("name", LOSSES)
def test_loss_gradcheck(name: str) -> None:
    fn, _, arrays = LOSSES[name]
    check_grad(fn, arrays)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", LOSSES)
def test_loss_parity(name: str, dtype: type) -> None:
    fn, th_fn, arrays = LOSSES[name]
    check_parity(fn, th_fn, arrays, dtype)


def test_nll_loss_edge_cases_match_torch() -> None:
    """Every target ignored: NaN; -inf elsewhere in a row: no NaN in the value or the gradient."""
    x = np.array([[-np.inf, 0.0], [np.log(0.5), np.log(0.5)]])
    check_parity(F.nll_loss, TF.nll_loss, [x, np.array([1, 0])], np.float64)
    all_ignored = F.nll_loss(md(np.zeros((2, 3))), md(np.array([-100, -100])))
    assert np.isnan(to_np(all_ignored)) and np.isnan(TF.nll_loss(torch.zeros(2, 3), torch.tensor([-100, -100])).item())


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.nll_loss(minidl.zeros(2, 3), minidl.tensor([0, 3])), IndexError, "out of bounds"),
    (lambda: F.nll_loss(minidl.zeros(2, 3), minidl.tensor([0.0, 1.0])), TypeError, "target dtype"),
    (lambda: F.nll_loss(minidl.zeros(2, 3), minidl.tensor([0, 1]), minidl.ones(2)), ValueError, "one entry per class"),
    (lambda: F.nll_loss(minidl.zeros(2, 3), minidl.tensor([0, 1]), reduction="avg"), ValueError, "reduction"),
    (lambda: F.l1_loss(minidl.zeros(2, 3), minidl.zeros(3)), ValueError, "target size"),
    (lambda: F.l1_loss(minidl.zeros(2), minidl.zeros(2), weight=minidl.ones(3)), ValueError, "same size"),
    (lambda: F.smooth_l1_loss(minidl.zeros(2), minidl.zeros(2), beta=-1.0), RuntimeError, "negative values for beta"),
    (lambda: F.huber_loss(minidl.zeros(2), minidl.zeros(2), delta=0.0), RuntimeError, "non-positive values"),
    (lambda: F.huber_loss(minidl.zeros(2), minidl.zeros(2), weight=minidl.ones(2, dtype=minidl.float64)), TypeError,
     "huber_loss: weight has dtype minidl.float64"),
])
def test_loss_errors(call, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()


MODULE_LOSSES = [
    (lambda: nn.NLLLoss(), lambda: torch.nn.NLLLoss(), "class"),
    (lambda: nn.NLLLoss(minidl.tensor(CLASS_WEIGHT), ignore_index=2, reduction="sum"),
     lambda: torch.nn.NLLLoss(torch.tensor(CLASS_WEIGHT), ignore_index=2, reduction="sum"), "class"),
    (lambda: nn.L1Loss(), lambda: torch.nn.L1Loss(), "pair"),
    (lambda: nn.L1Loss(reduction="none"), lambda: torch.nn.L1Loss(reduction="none"), "pair"),
    (lambda: nn.SmoothL1Loss(beta=0.3), lambda: torch.nn.SmoothL1Loss(beta=0.3), "pair"),
    (lambda: nn.HuberLoss(reduction="sum", delta=0.7), lambda: torch.nn.HuberLoss(reduction="sum", delta=0.7), "pair"),
]


@pytest.mark.parametrize("make, make_torch, kind", MODULE_LOSSES)
def test_loss_modules_match_torch(make, make_torch, kind: str) -> None:
    module, reference = make(), make_torch()
    assert repr(module) == repr(reference)
    arrays = [rng(30).standard_normal((5, 4)), np.array([0, 3, 1, 2, 3])] if kind == "class" else _pair((5, 4), 31)
    if module.state_dict():  # a weight buffer
        module.to(DEVICE)
    check_parity(module, reference, arrays, np.float64)


# ------------------------------------------------------------------------------ activations
ACTIVATIONS = {
    "elu": (F.elu, TF.elu, lambda s: [nonzero(s, 40) * 2]),
    "elu_alpha": (lambda x: F.elu(x, alpha=0.4), lambda x: TF.elu(x, alpha=0.4), lambda s: [nonzero(s, 41) * 2]),
    "elu_module": (nn.ELU(2.0), torch.nn.ELU(2.0), lambda s: [nonzero(s, 42) * 2]),
    "silu": (F.silu, TF.silu, lambda s: [rng(43).standard_normal(s) * 3]),
    "silu_module": (nn.SiLU(), torch.nn.SiLU(), lambda s: [rng(44).standard_normal(s) * 3]),
    "minidl_silu": (minidl.silu, TF.silu, lambda s: [rng(45).standard_normal(s) * 3]),
}
SHAPES = [(), (5,), (3, 4), (2, 3, 2)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_gradcheck(name: str, shape: tuple[int, ...]) -> None:
    fn, _, make = ACTIVATIONS[name]
    check_grad(fn, make(shape))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_parity(name: str, shape: tuple[int, ...], dtype: type) -> None:
    fn, th_fn, make = ACTIVATIONS[name]
    check_parity(fn, th_fn, make(shape), dtype)


def test_elu_is_finite_for_large_inputs_and_exact_at_zero() -> None:
    check_parity(F.elu, TF.elu, [np.array([-1e4, -30.0, 0.0, 30.0, 1e4])], np.float32)
    check_parity(F.silu, TF.silu, [np.array([-1e4, -30.0, 0.0, 30.0, 1e4])], np.float32)


@pytest.mark.parametrize("make, make_torch", [
    (lambda: nn.ELU(), lambda: torch.nn.ELU()), (lambda: nn.ELU(0.5, inplace=True), lambda: torch.nn.ELU(0.5, True)),
    (lambda: nn.SiLU(), lambda: torch.nn.SiLU()), (lambda: nn.SiLU(inplace=True), lambda: torch.nn.SiLU(True)),
])
def test_activation_reprs(make, make_torch) -> None:
    assert repr(make()) == repr(make_torch())


# -------------------------------------------------------------------------------- embedding
def test_embedding_matches_torch_with_repeated_indices_and_padding() -> None:
    for dtype in DTYPES:
        table = rng(50).standard_normal((6, 3)).astype(dtype)
        indices = np.array([[1, 4, 1, 0], [5, 1, 4, 2]])
        for padding_idx in (None, 1, -2):
            check_parity(lambda w, i: F.embedding(i, w, padding_idx),  # noqa: B023 - used at once
                         lambda w, i: TF.embedding(i, w, padding_idx), [table, indices], dtype)  # noqa: B023


def test_embedding_gradcheck() -> None:
    table = rng(51).standard_normal((5, 2))
    check_grad(lambda w, i: F.embedding(i, w), [table, np.array([0, 3, 3, 1, 0, 0])])
    check_grad(lambda w, i: F.embedding(i, w) * 2, [table, np.array([[0, 3], [3, 1]])])
    # (with padding_idx the padding row's gradient is 0 by PyTorch's definition, not the derivative:
    # checked against PyTorch above, not by gradcheck)


def test_embedding_module_init_padding_and_twin() -> None:
    minidl.manual_seed(0)
    layer = nn.Embedding(1000, 20, padding_idx=3, device=DEVICE)
    weight = to_np(layer.weight)
    assert weight.dtype == np.float32 and np.all(weight[3] == 0)
    assert abs(weight.mean()) < 0.02 and abs(weight.std() - 1) < 0.02
    twin = interop.to_torch(layer)
    assert repr(twin) == repr(layer) == "Embedding(1000, 20, padding_idx=3)"
    indices = np.array([[3, 7, 7], [999, 0, 3]])
    out = layer(md(indices))
    expected = twin(torch.tensor(indices))
    assert np.array_equal(to_np(out), expected.detach().numpy())
    upstream = rng(52).standard_normal(out.shape).astype(np.float32)
    out.backward(md(upstream))
    expected.backward(torch.tensor(upstream))
    assert np.allclose(to_np(layer.weight.grad), twin.weight.grad.numpy(), atol=1e-6)
    assert np.all(to_np(layer.weight.grad)[3] == 0)


def test_embedding_from_pretrained_and_errors() -> None:
    table = minidl.tensor([[1.0, 2.0], [3.0, 4.0]])
    layer = nn.Embedding.from_pretrained(table)
    assert not layer.weight.requires_grad and to_np(layer(minidl.tensor([1, 1]))).tolist() == [[3, 4], [3, 4]]
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad
    assert repr(nn.Embedding(3, 2, max_norm=1.0)) == repr(torch.nn.Embedding(3, 2, max_norm=1.0))
    with pytest.raises(TypeError, match="int64 or int32"):
        layer(minidl.tensor([0.0, 1.0]))
    with pytest.raises(IndexError, match="out of bounds"):
        layer(minidl.tensor([2]))
    with pytest.raises(ValueError, match="padding_idx must be within"):
        nn.Embedding(3, 2, padding_idx=3)
    with pytest.raises(NotImplementedError, match="max_norm"):
        nn.Embedding(3, 2, max_norm=1.0)(minidl.tensor([0]))


def test_elu_and_silu_have_torch_twins() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.ELU(0.5), nn.Linear(4, 2), nn.SiLU()).to(DEVICE)
    twin = interop.to_torch(model)
    assert repr(twin) == repr(model)
    x = rng(60).standard_normal((5, 3)).astype(np.float32)
    assert np.allclose(to_np(model(md(x))), twin(torch.tensor(x)).detach().numpy(), atol=1e-6)
