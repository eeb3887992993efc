"""Module, Parameter, containers and activation modules, compared with torch.nn."""

from __future__ import annotations

import copy
import warnings
from collections import OrderedDict
from typing import Any

import numpy as np
import pytest
import torch
from helpers import DEVICE, DTYPES, check_parity, md, rel_err, rng, to_np

import minidl
from minidl import nn, optim


def build(lib: Any, nn_: Any) -> Any:
    """The same nested model in minidl (``lib=minidl, nn_=minidl.nn``) or torch: a parameter, a
    persistent and a non-persistent buffer, a Sequential, a ModuleList and a shared submodule."""

    class Net(nn_.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn_.Parameter(lib.ones(3))
            self.encoder = nn_.Sequential(nn_.Linear(4, 3), nn_.ReLU(), nn_.Linear(3, 3, bias=False))
            self.register_buffer("count", lib.zeros(1))
            self.register_buffer("scratch", lib.zeros(2), persistent=False)
            self.heads = nn_.ModuleList([nn_.Linear(3, 2), nn_.Tanh()])
            self.shared = self.encoder[0]

        def forward(self, x: Any) -> Any:
            h = self.encoder(x) * self.scale
            return self.heads[1](self.heads[0](h))

    return Net()


def pair() -> tuple[nn.Module, torch.nn.Module]:
    """A minidl and a torch Net with equal parameters (torch's copied into minidl), minidl on DEVICE."""
    m, t = build(minidl, nn).to(DEVICE), build(torch, torch.nn)
    m.load_state_dict({k: minidl.tensor(v.numpy()) for k, v in t.state_dict().items()})
    return m, t


def names(pairs: Any) -> list[str]:
    return [name for name, _ in pairs]


# ------------------------------------------------------------------------------ registration
def test_names_and_order_match_torch() -> None:
    m, t = pair()
    assert names(m.named_parameters()) == names(t.named_parameters())
    all_names = names(m.named_parameters(remove_duplicate=False))
    assert all_names == names(t.named_parameters(remove_duplicate=False))
    assert names(m.named_parameters(prefix="net", recurse=False)) == names(t.named_parameters("net", False))
    assert names(m.named_buffers()) == names(t.named_buffers())
    assert names(m.named_modules()) == names(t.named_modules())
    assert names(m.named_children()) == names(t.named_children())
    assert list(m.state_dict()) == list(t.state_dict())  # shared module: under both names, as torch
    assert len(list(m.parameters())) == len(list(t.parameters())) == 6
    assert repr(m) == repr(t)


def test_shared_parameter_listed_once_and_identical() -> None:
    m, _ = pair()
    assert m.shared is m.encoder[0]
    params = list(m.parameters())
    assert sum(p is m.encoder[0].weight for p in params) == 1


def test_state_dict_loads_into_torch_and_back() -> None:
    m, t = pair()
    for p in m.parameters():
        with minidl.no_grad():
            p.copy_(md(rng(1).standard_normal(p.shape).astype(np.float32)))
    t.load_state_dict({k: torch.tensor(to_np(v)) for k, v in m.state_dict().items()})
    for key, value in t.state_dict().items():
        assert rel_err(m.state_dict()[key], value) == 0, key
    x = rng(2).standard_normal((5, 4)).astype(np.float32)
    assert rel_err(m(md(x)), t(torch.tensor(x))) < 1e-6


def test_state_dict_is_detached_and_shares_memory() -> None:
    m, _ = pair()
    state = m.state_dict()
    assert not state["scale"].requires_grad and type(state["scale"]) is minidl.Tensor
    assert state["scale"].array is m.scale.array
    assert m.state_dict(keep_vars=True)["scale"] is m.scale


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_and_parameter_grads_match_torch(dtype: Any) -> None:
    m, t = pair()
    m.to(dtype)
    t.to(torch.float64 if dtype == np.float64 else torch.float32)
    x = rng(3).standard_normal((6, 4))
    check_parity(m, t, [x], dtype)
    for (name, p), (_, q) in zip(m.named_parameters(), t.named_parameters()):
        assert p.grad is not None and p.grad.dtype == dtype, name
        assert rel_err(p.grad, q.grad) <= (1e-5 if dtype == np.float32 else 1e-10), name


def test_setattr_reassignment_keeps_position_and_none_clears() -> None:
    m, t = pair()
    m.scale = nn.Parameter(minidl.zeros(3, device=DEVICE))
    t.scale = torch.nn.Parameter(torch.zeros(3))
    assert names(m.named_parameters()) == names(t.named_parameters())
    m.scale = None
    assert m.scale is None and "scale" not in m.state_dict()
    m.count = minidl.ones(1, device=DEVICE)  # a buffer stays a buffer
    assert "count" in dict(m.named_buffers())
    del m.count
    assert "count" not in dict(m.named_buffers())


def test_registration_errors() -> None:
    m, _ = pair()
    with pytest.raises(TypeError, match="parameter 'scale'"):
        m.scale = minidl.ones(3)  # a plain tensor where a Parameter lives
    with pytest.raises(TypeError, match="child module 'encoder'"):
        m.encoder = 3
    with pytest.raises(TypeError, match="buffer 'count'"):
        m.count = [1.0]
    with pytest.raises(TypeError, match="buffer 'b'"):
        m.register_buffer("b", np.zeros(2))
    with pytest.raises(TypeError, match="parameter 'p'"):
        m.register_parameter("p", minidl.ones(2))
    with pytest.raises(KeyError, match=r'contain "\.", got: a\.b'):
        m.register_buffer("a.b", minidl.ones(1))
    with pytest.raises(KeyError, match="empty"):
        m.register_parameter("", None)
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("forward", minidl.ones(1))
    with pytest.raises(TypeError, match="not a Module"):
        m.add_module("x", minidl.ones(1))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = m.nothing


def test_assigning_before_init_is_a_clear_error() -> None:
    class Forgot(nn.Module):
        def __init__(self) -> None:
            self.w = nn.Parameter(minidl.ones(1))

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\)"):
        Forgot()


def test_missing_forward() -> None:
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


# ----------------------------------------------------------------------------- load_state_dict
def test_load_state_dict_strict_errors_list_every_problem() -> None:
    m, t = pair()
    good = m.state_dict()
    bad = OrderedDict((k, v) for k, v in good.items() if k != "heads.0.bias")
    bad["encoder.2.bias"] = minidl.zeros(3)
    bad["scale"] = minidl.zeros(4)
    bad["count"] = [0.0]
    before = {k: to_np(v).copy() for k, v in good.items()}
    with pytest.raises(RuntimeError) as error:
        m.load_state_dict(bad)
    with pytest.raises(RuntimeError) as torch_error:
        t.load_state_dict({k: torch.tensor(to_np(v)) if isinstance(v, minidl.Tensor) else v
                           for k, v in bad.items()})
    lines, torch_lines = str(error.value).split("\n\t"), str(torch_error.value).split("\n\t")
    assert lines[:3] == torch_lines[:3]  # header, missing keys, unexpected keys: PyTorch's exact text
    assert lines[0] == "Error(s) in loading state_dict for Net:"
    assert lines[1] == 'Missing key(s) in state_dict: "heads.0.bias". '
    assert lines[2] == 'Unexpected key(s) in state_dict: "encoder.2.bias". '
    assert "size mismatch for scale: copying a param with shape (4,) from checkpoint, the shape in current " \
           "model is (3,)." in lines
    assert any('"count"' in line and "list" in line for line in lines)
    for key, value in m.state_dict().items():  # nothing was copied
        assert np.array_equal(to_np(value), before[key]), key


def test_load_state_dict_non_strict_returns_keys_like_torch() -> None:
    m, t = pair()
    state = {k: v for k, v in m.state_dict().items() if not k.startswith("heads")}
    state["extra"] = minidl.ones(1)
    result = m.load_state_dict(state, strict=False)
    torch_result = t.load_state_dict({k: torch.tensor(to_np(v)) for k, v in state.items()}, strict=False)
    assert result.missing_keys == torch_result.missing_keys
    assert result.unexpected_keys == torch_result.unexpected_keys
    assert repr(m.load_state_dict(m.state_dict())) == "<All keys matched successfully>"
    with pytest.raises(TypeError, match="dict-like"):
        m.load_state_dict([("scale", minidl.ones(3))])


def test_load_state_dict_casts_into_existing_parameters() -> None:
    m, _ = pair()
    weight = m.encoder[0].weight
    state = {k: v.double() for k, v in m.state_dict().items()}
    state["encoder.0.weight"] = state["shared.weight"] = minidl.full((3, 4), 0.5, dtype=minidl.float64)
    m.load_state_dict(state)
    assert m.encoder[0].weight is weight and weight.dtype == np.float32
    assert np.all(to_np(weight) == 0.5)


# ---------------------------------------------------------------------------------- hooks
def test_forward_hooks_modify_input_and_output_and_remove() -> None:
    layer = nn.Identity()
    calls: list[str] = []
    pre = layer.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
    post = layer.register_forward_hook(lambda mod, args, out: calls.append("second") or out + 1)
    first = layer.register_forward_hook(lambda mod, args, out: calls.append("first"), prepend=True)
    x = md(np.array([1.0, 2.0], np.float32))
    assert to_np(layer(x)).tolist() == [3.0, 5.0]
    assert calls == ["first", "second"]
    pre.remove()
    post.remove()
    first.remove()
    assert to_np(layer(x)).tolist() == [1.0, 2.0] and len(calls) == 2
    with layer.register_forward_pre_hook(lambda mod, args: args[0] * 0):  # a non-tuple result is wrapped
        assert to_np(layer(x)).tolist() == [0.0, 0.0]
    assert to_np(layer(x)).tolist() == [1.0, 2.0]


# ---------------------------------------------------------------------- modes, grads, dtypes
def test_train_eval_propagate() -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.Dropout(0.5), nn.ReLU()))
    assert model.eval() is model
    assert not any(module.training for module in model.modules())
    x = md(np.ones((4, 3), np.float32))
    assert np.array_equal(to_np(model[1](x)), to_np(x))  # dropout is the identity in eval mode
    model.train()
    assert all(module.training for module in model.modules())
    with pytest.raises(ValueError, match="boolean"):
        model.train("no")


def test_zero_grad_and_requires_grad_() -> None:
    m, _ = pair()
    m(md(np.ones((2, 4), np.float32))).sum().backward()
    grad = m.scale.grad
    m.zero_grad(set_to_none=False)
    assert m.scale.grad is grad and not to_np(grad).any()
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    assert m.requires_grad_(False) is m and not any(p.requires_grad for p in m.parameters())


def test_to_keeps_parameter_identity_and_casts_only_floats() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)).to(DEVICE)
    weight = model[0].weight
    model(md(np.ones((4, 3), np.float32))).sum().backward()
    assert model.to(minidl.float64) is model
    assert model[0].weight is weight and weight.dtype == np.float64 and weight.grad.dtype == np.float64
    assert model[1].running_mean.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64
    assert model.float()[0].weight.dtype == np.float32
    assert model.double()[0].bias.dtype == np.float64
    model.to(md(np.zeros(1, np.float32)))
    assert weight.dtype == np.float32 and weight.device == DEVICE
    assert model.to(DEVICE, dtype="float64")[0].weight.dtype == np.float64
    with pytest.raises(TypeError, match="floating point"):
        model.to(minidl.int64)
    if DEVICE == "cpu":
        assert model.cpu() is model and weight.device == "cpu"


def test_optimizer_keeps_working_after_to() -> None:
    model = nn.Linear(3, 1).to(DEVICE)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    model.double()
    model(md(np.ones((2, 3)))).sum().backward()
    optimizer.step()
    assert model.weight.dtype == np.float64 and np.allclose(to_np(model.weight.grad), 2.0)


def test_apply_visits_children_first_like_torch() -> None:
    m, t = pair()
    seen: list[str] = []
    torch_seen: list[str] = []
    assert m.apply(lambda mod: seen.append(type(mod).__name__)) is m
    t.apply(lambda mod: torch_seen.append(type(mod).__name__))
    assert seen == torch_seen


def test_deepcopy_is_independent() -> None:
    m, _ = pair()
    clone = copy.deepcopy(m)
    assert isinstance(clone.scale, nn.Parameter) and clone.scale is not m.scale
    with minidl.no_grad():
        clone.scale.fill_(7.0)
    assert not np.any(to_np(m.scale) == 7.0)
    assert names(clone.named_parameters()) == names(m.named_parameters())


# --------------------------------------------------------------------------------- Parameter
def test_parameter() -> None:
    t = md(np.array([1.0, 2.0], np.float32))
    p = nn.Parameter(t)
    assert p.requires_grad and p.is_leaf and p.array is t.array and isinstance(p, minidl.Tensor)
    assert repr(p).replace(", device='cuda:0'", "") == repr(torch.nn.Parameter(torch.tensor([1.0, 2.0])))
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,) and nn.Parameter().dtype == np.float32
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(minidl.tensor([1, 2]))
    with pytest.raises(TypeError, match="Parameter"):
        nn.Parameter(np.ones(2))
    computed = nn.Parameter(t * 2)  # a Parameter is always a leaf
    assert computed.is_leaf and computed.grad_fn is None


# -------------------------------------------------------------------------------- containers
def layers(nn_: Any) -> list[Any]:
    return [nn_.Linear(2, 3), nn_.ReLU(), nn_.Linear(3, 3), nn_.Tanh()]


def test_sequential_like_torch() -> None:
    m, t = nn.Sequential(*layers(nn)), torch.nn.Sequential(*layers(torch.nn))
    assert repr(m) == repr(t) and len(m) == 4
    assert repr(m[-1]) == "Tanh()" and repr(m[1:3]) == repr(t[1:3])
    assert names(m[1:3].named_children()) == names(t[1:3].named_children())  # slices keep the keys
    assert [type(x) for x in m] == [nn.Linear, nn.ReLU, nn.Linear, nn.Tanh]
    for seq in (m, t):
        seq.append(type(seq[1])())
        seq.insert(1, type(seq[3])())
        seq.extend([type(seq[1])()])
        del seq[0]
        seq[0] = type(seq[-1])()
    assert repr(m) == repr(t)
    assert names(m.named_parameters()) == names(t.named_parameters())
    with pytest.raises(IndexError, match="out of range"):
        m[10]
    with pytest.raises(TypeError, match="not a Module"):
        m.insert(0, 3)


def test_sequential_from_ordered_dict_and_forward() -> None:
    def make(nn_: Any) -> Any:
        return nn_.Sequential(OrderedDict([("fc", nn_.Linear(2, 3)), ("act", nn_.Sigmoid())]))

    m, t = make(nn).to(DEVICE), make(torch.nn)
    assert repr(m) == repr(t) and list(m.state_dict()) == list(t.state_dict()) == ["fc.weight", "fc.bias"]
    t.load_state_dict({k: torch.tensor(to_np(v)) for k, v in m.state_dict().items()})
    check_parity(m, t, [rng(4).standard_normal((5, 2))], np.float32)


def test_module_list_like_torch() -> None:
    m = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU()])
    t = torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.ReLU()])
    assert repr(m) == repr(t)  # runs of equal modules are compressed: (0-1): 2 x Linear(...)
    for lst, nn_ in ((m, nn), (t, torch.nn)):
        lst.append(nn_.Tanh())
        lst.extend([nn_.Linear(2, 1)])
        lst += [nn_.ReLU()]
        lst.insert(0, nn_.Sigmoid())
        del lst[2]
    assert repr(m) == repr(t) and len(m) == len(t) == 6
    assert names(m.named_parameters()) == names(t.named_parameters())
    assert repr(m[1:3]) == repr(t[1:3]) and repr(m[-1]) == repr(t[-1])
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())
    with pytest.raises(TypeError, match="iterable"):
        m.extend(nn.ReLU())


def test_module_dict_like_torch() -> None:
    m = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.ReLU()})
    t = torch.nn.ModuleDict({"a": torch.nn.Linear(2, 2), "b": torch.nn.ReLU()})
    m["c"], t["c"] = nn.Tanh(), torch.nn.Tanh()
    del m["b"], t["b"]
    m.update([("d", nn.Sigmoid())])
    t.update([("d", torch.nn.Sigmoid())])
    assert repr(m) == repr(t) and list(m) == list(t) == ["a", "c", "d"] and "a" in m and len(m) == 3
    assert names(m.named_parameters()) == names(t.named_parameters())
    assert list(m.keys()) == list(m) and [k for k, _ in m.items()] == list(m) and len(list(m.values())) == 3
    assert isinstance(m.pop("a"), nn.Linear) and len(m) == 2
    m.clear()
    assert len(m) == 0


# ---------------------------------------------------------------------------- activations
ACTIVATIONS = [
    (lambda nn_: nn_.ReLU(), "ReLU()"),
    (lambda nn_: nn_.ReLU(inplace=True), "ReLU(inplace=True)"),
    (lambda nn_: nn_.LeakyReLU(), "LeakyReLU(negative_slope=0.01)"),
    (lambda nn_: nn_.LeakyReLU(0.2, inplace=True), "LeakyReLU(negative_slope=0.2, inplace=True)"),
    (lambda nn_: nn_.Sigmoid(), "Sigmoid()"),
    (lambda nn_: nn_.Tanh(), "Tanh()"),
    (lambda nn_: nn_.GELU(), "GELU(approximate='none')"),
    (lambda nn_: nn_.GELU(approximate="tanh"), "GELU(approximate='tanh')"),
    (lambda nn_: nn_.Softplus(), "Softplus(beta=1.0, threshold=20.0)"),
    (lambda nn_: nn_.Softplus(beta=2, threshold=3), "Softplus(beta=2, threshold=3)"),
    (lambda nn_: nn_.Softmax(dim=1), "Softmax(dim=1)"),
    (lambda nn_: nn_.LogSoftmax(dim=-1), "LogSoftmax(dim=-1)"),
    (lambda nn_: nn_.Flatten(), "Flatten(start_dim=1, end_dim=-1)"),
    (lambda nn_: nn_.Flatten(0, 1), "Flatten(start_dim=0, end_dim=1)"),
    (lambda nn_: nn_.Identity(54, unused="x"), "Identity()"),
]


@pytest.mark.parametrize("make, text", ACTIVATIONS, ids=[text for _, text in ACTIVATIONS])
@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_modules_match_torch(make: Any, text: str, dtype: Any) -> None:
    m, t = make(nn), make(torch.nn)
    assert repr(m) == repr(t) == text
    x = rng(5).standard_normal((3, 4, 5)) * 3  # some |beta x| beyond Softplus' threshold
    check_parity(m, lambda x: t(x.clone()), [x], dtype)  # clone: torch's inplace=True refuses a leaf


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 3, 4, 2)])
@pytest.mark.parametrize("cls", ["Softmax", "LogSoftmax"])
def test_softmax_implicit_dim_like_torch(shape: tuple[int, ...], cls: str) -> None:
    x = rng(6).standard_normal(shape)
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        out = getattr(nn, cls)()(md(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = getattr(torch.nn, cls)()(torch.tensor(x))
    assert rel_err(out, expected) < 1e-12


def test_torch_nn_functional_path_is_minidl_functional():
    import minidl.nn.functional as F  # noqa: N812 - PyTorch's spelling

    assert F is minidl.functional and minidl.nn.functional is minidl.functional
