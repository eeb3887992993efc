"""The Tensor API: factories and dtype inference, properties, conversions, ``repr`` text, casts
and device moves (with gradients flowing through them), against PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from helpers import DEVICE, DTYPES, TOL, check_grad, check_parity, md, rng, th, to_np

import minidl


def _same_dtype(m: minidl.Tensor, t: torch.Tensor) -> None:
    assert str(m.dtype) == str(t.dtype).replace("torch.", "minidl."), f"{m.dtype} != {t.dtype}"


def _same(m: minidl.Tensor, t: torch.Tensor) -> None:
    """Equal shape, dtype and values."""
    _same_dtype(m, t)
    assert m.shape == tuple(t.shape)
    assert m.device == DEVICE
    np.testing.assert_array_equal(to_np(m), to_np(t))


# ------------------------------------------------------------------------------ factories
@pytest.mark.parametrize("data", [
    [1.5, 2.0], 2.5, [[1, 2], [3, 4]], 7, [True, False], True, [1, 2.5], [[0.5], [1]],
    np.array([1.5, 2.0]), np.array([1.5], np.float32), np.array([1, 2], np.int32), np.array([3, 4]),
    np.array([1, 200], np.uint8), np.float64(1.25), np.float32(2.5), np.array(True), [],
], ids=repr)
def test_tensor_infers_dtype_like_torch(data: Any) -> None:
    """Python floats -> float32, ints -> int64, bools -> bool; NumPy arrays keep their dtype."""
    _same(minidl.tensor(data, device=DEVICE), torch.tensor(data))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "bool"])
def test_tensor_with_explicit_dtype(dtype: str) -> None:
    expected = torch.tensor([0, 1.0, 2], dtype=getattr(torch, dtype))
    _same(minidl.tensor([0, 1.0, 2], dtype=dtype, device=DEVICE), expected)
    _same(minidl.tensor([0, 1.0, 2], dtype=getattr(minidl, dtype if dtype != "bool" else "bool_"), device=DEVICE),
          expected)


def test_tensor_copies_and_from_numpy_shares() -> None:
    """(NumPy memory sharing is a CPU matter: this test runs on the CPU on every device.)"""
    a = np.array([1.0, 2.0])
    copied, shared = minidl.tensor(a), minidl.from_numpy(a)
    a[0] = 9.0
    assert copied.numpy()[0] == 1.0 and shared.numpy()[0] == 9.0
    assert minidl.tensor(copied).numpy() is not copied.numpy()


SHAPED = {
    "zeros": ((2, 3), {}), "zeros_tuple": (((2, 3),), {}), "ones": ((4,), {"dtype": "float64"}),
    "ones_empty": ((0, 2), {}), "zeros_scalar": (((),), {}),
}


@pytest.mark.parametrize("name", SHAPED)
def test_zeros_and_ones_like_torch(name: str) -> None:
    args, kwargs = SHAPED[name]
    factory = name.split("_")[0]
    th_kwargs = {k: getattr(torch, v) for k, v in kwargs.items()}
    _same(getattr(minidl, factory)(*args, **kwargs, device=DEVICE), getattr(torch, factory)(*args, **th_kwargs))


@pytest.mark.parametrize("fill", [3, 2.5, True, -1.0])
def test_full_infers_dtype_like_torch(fill: Any) -> None:
    _same(minidl.full((2, 3), fill, device=DEVICE), torch.full((2, 3), fill))
    _same(minidl.full((2,), fill, dtype=minidl.float64, device=DEVICE), torch.full((2,), fill, dtype=torch.float64))


@pytest.mark.parametrize("args", [(5,), (2, 7), (1, 10, 3), (0, 1, 0.25), (1.0, 4), (-2.5, 2.5, 0.5), (5, 0, -1)],
                         ids=str)
def test_arange_like_torch(args: tuple) -> None:
    _same(minidl.arange(*args, device=DEVICE), torch.arange(*args))
    _same(minidl.arange(*args, dtype=minidl.float64, device=DEVICE), torch.arange(*args, dtype=torch.float64))


@pytest.mark.parametrize("factory", ["randn", "rand"])
def test_random_factories_shapes_dtypes_and_seeding(factory: str) -> None:
    def make(*args: Any, **kwargs: Any) -> minidl.Tensor:
        return getattr(minidl, factory)(*args, **kwargs, device=DEVICE)

    for args, kwargs in [((2, 3), {}), (((4,),), {"dtype": minidl.float64}), (((),), {})]:
        m = make(*args, **kwargs)
        t = getattr(torch, factory)(*args, **{k: torch.float64 for k in kwargs})
        assert m.shape == tuple(t.shape) and m.device == DEVICE
        _same_dtype(m, t)
    minidl.manual_seed(123)
    first = to_np(make(100))
    minidl.manual_seed(123)
    np.testing.assert_array_equal(to_np(make(100)), first)
    assert not np.array_equal(to_np(make(100)), first)
    if factory == "rand":
        assert first.min() >= 0.0 and first.max() < 1.0
    else:
        assert abs(first.mean()) < 0.5 and 0.5 < first.std() < 1.5
    assert make(3, requires_grad=True).requires_grad


def test_rng_state_round_trip() -> None:
    state = minidl.get_rng_state()
    first = to_np(minidl.randn(5))
    minidl.set_rng_state(state)
    np.testing.assert_array_equal(to_np(minidl.randn(5)), first)


@pytest.mark.parametrize("name", ["zeros_like", "ones_like", "randn_like", "rand_like"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_like_factories_keep_shape_and_dtype(name: str, dtype: type) -> None:
    m = getattr(minidl, name)(md(np.ones((2, 3), dtype)))
    t = getattr(torch, name)(th(np.ones((2, 3), dtype)))
    assert m.shape == tuple(t.shape) and m.device == DEVICE
    _same_dtype(m, t)
    _same_dtype(getattr(minidl, name)(md(np.ones(2, dtype)), dtype=minidl.float64),
                getattr(torch, name)(th(np.ones(2, dtype)), dtype=torch.float64))


def test_full_like_and_integer_like() -> None:
    _same(minidl.full_like(md(np.ones((2, 2))), 7.5), torch.full_like(th(np.ones((2, 2))), 7.5))
    _same(minidl.zeros_like(md(np.arange(3))), torch.zeros_like(th(np.arange(3))))


# -------------------------------------------------------------------------- properties
def test_properties_like_torch() -> None:
    a = rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    m, t = md(a), th(a)
    assert m.shape == tuple(t.shape) and m.ndim == t.ndim and m.dim() == t.dim()
    assert m.numel() == t.numel() and m.size() == tuple(t.size()) and m.size(1) == t.size(1)
    assert len(m) == len(t) and m.is_leaf and m.device == DEVICE
    assert m.tolist() == t.tolist()


@pytest.mark.parametrize("value", [2.5, 3, True, -0.125])
def test_item_and_python_conversions(value: Any) -> None:
    m, t = minidl.tensor([[value]], device=DEVICE), torch.tensor([[value]])
    assert m.item() == t.item() and type(m.item()) is type(t.item())
    assert float(m) == float(t) and int(m) == int(t) and bool(m) == bool(t)


def test_numpy_shares_memory_and_detach() -> None:
    """(NumPy memory sharing is a CPU matter: this test runs on the CPU on every device.)"""
    x = minidl.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    d = x.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    d.numpy()[0] = 5.0  # shares memory with x, as torch's detach does
    assert x.detach().numpy()[0] == 5.0
    y = (x * 2).detach()
    assert y.grad_fn is None and not y.requires_grad


def test_requires_grad_flags() -> None:
    x = md(np.ones(3))
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
        (md(np.ones(3), requires_grad=True) * 2).requires_grad_(False)
    with pytest.raises(RuntimeError, match="only tensors of floating point dtype can require gradients"):
        md(np.arange(3)).requires_grad_()
    md(np.arange(3)).requires_grad_(False)  # switching it off is always fine


# ------------------------------------------------------------------------------------ repr
REPRS = {
    "floats": lambda lib: lib.tensor([1.0, 2.0, 3.0]),
    "fixed": lambda lib: lib.tensor([1.5, -2.25]),
    "matrix": lambda lib: lib.tensor([[1.5, 2.0], [3.0, 4.0]]),
    "scalar": lambda lib: lib.tensor(3.5),
    "integral_scalar": lambda lib: lib.tensor(3.0),
    "ints": lambda lib: lib.tensor([1, 2, 3]),
    "int32": lambda lib: lib.tensor(np.array([[1, 2], [3, 4]], np.int32)),
    "bools": lambda lib: lib.tensor([[True, False], [False, True]]),
    "float64": lambda lib: lib.tensor([1.5, 2.0], dtype=lib.float64),
    "requires_grad": lambda lib: lib.tensor([1.5, 2.0], requires_grad=True),
    "grad_fn": lambda lib: lib.tensor([1.5, 2.0], requires_grad=True) * 2,
    "grad_fn_float64": lambda lib: lib.tensor([[0.25, 2.0]], dtype=lib.float64, requires_grad=True) * 2,
    "small": lambda lib: lib.tensor([1e-5, 1.0]),
    "large": lambda lib: lib.tensor([1e9, 1.0]),
    "non_finite": lambda lib: lib.tensor([float("inf"), -float("inf"), float("nan"), 1.5]),
    "zeros": lambda lib: lib.zeros(3),
    "empty": lambda lib: lib.zeros(0),
    "empty_2d": lambda lib: lib.zeros(2, 0),
    "empty_int": lambda lib: lib.tensor(np.zeros(0, np.int64)),
    "wide": lambda lib: lib.tensor(rng(2).standard_normal((3, 40)).astype(np.float32)),
    "three_dims": lambda lib: lib.tensor(rng(3).standard_normal((2, 3, 4))),
    "summarized": lambda lib: lib.tensor(np.arange(2000.0, dtype=np.float32)),
    "summarized_2d": lambda lib: lib.tensor(np.arange(3000).reshape(30, 100)),
    "summarized_3d": lambda lib: lib.tensor(rng(8).standard_normal((10, 12, 15))),
    "summarized_small_float64": lambda lib: lib.tensor(rng(9).standard_normal(2000) * 1e-3),
    # (a suffix that fits exactly in torch's 80 columns would wrap with the longer 'minidl.' name)
    "wide_grad": lambda lib: lib.tensor(rng(4).standard_normal((2, 11)) * 1e5, requires_grad=True),
}


@pytest.mark.parametrize("name", REPRS)
def test_repr_matches_torch(name: str) -> None:
    expected = repr(REPRS[name](torch)).replace("torch.", "minidl.").replace("MulBackward0", "MulBackward")
    assert repr(REPRS[name](minidl)) == expected


# ----------------------------------------------------------------------- casts and devices
def test_to_float_double_dtypes_and_identity() -> None:
    x = md(np.ones(3, np.float32))
    assert x.to(minidl.float32) is x and x.float() is x and x.to(DEVICE) is x
    for m, t in [(x.double(), th(np.ones(3, np.float32)).double()), (x.to("float64"), torch.ones(3).to(torch.float64)),
                 (x.to(DEVICE, minidl.float64), torch.ones(3).to("cpu", torch.float64)),
                 (x.to(dtype=minidl.int64), torch.ones(3).to(dtype=torch.int64)),
                 (md(np.arange(3)).float(), torch.arange(3).float())]:
        _same(m, t)


def _cast(name: str, lib: Any, other: str) -> Any:
    """A function of x that casts on the way (``lib`` is minidl or torch)."""
    return {"float": lambda x: x.float() * 3, "double": lambda x: x.double() * 3,
            "to_other": lambda x: x.to(getattr(lib, other)).exp(),
            "chain": lambda x: x.double().float().double() * x.double()}[name]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cast", ["float", "double", "to_other", "chain"])
def test_gradient_flows_through_casts(cast: str, dtype: type) -> None:
    """Forward in the new dtype, gradient back in the input's dtype (float32 precision on the way)."""
    other = {np.float32: "float64", np.float64: "float32"}[dtype]
    check_parity(_cast(cast, minidl, other), _cast(cast, torch, other), [rng(5).standard_normal((2, 3))], dtype,
                 tol=TOL[np.float32])


def test_cast_and_clone_gradcheck() -> None:
    """Casts are linear, so central differences with a coarse eps stay exact despite float32."""
    x = rng(6).standard_normal((2, 3))
    check_grad(lambda t: t.float(), [x], eps=1e-2)
    check_grad(lambda t: t.float().double() * t, [x], eps=1e-2, atol=1e-4)
    check_grad(lambda t: t.clone() * t, [x])
    check_grad(lambda t: minidl.clone(t), [x])


@pytest.mark.parametrize("dtype", DTYPES)
def test_clone_parity_and_independence(dtype: type) -> None:
    check_parity(lambda x: x.clone() * x, lambda x: x.clone() * x, [rng(7).standard_normal((3, 2))], dtype)
    x = md(np.ones(3, dtype))
    c = x.clone()
    c.fill_(2.0)
    assert to_np(x)[0] == 1.0


def test_integer_cast_of_a_tensor_requiring_grad_carries_no_grad() -> None:
    x = md(np.array([1.7, -2.2]), requires_grad=True)
    m, t = x.to(minidl.int64), th(np.array([1.7, -2.2]), requires_grad=True).to(torch.int64)
    assert not m.requires_grad and not t.requires_grad
    _same(m, t)


# ------------------------------------------------------------------- .data, legacy Tensor(...), graph
def test_data_is_a_tensor_without_history_that_shares_memory_as_torch() -> None:
    values = rng(11).standard_normal((2, 3)).astype(np.float32)
    m, t = md(values, True), th(values, True)
    for lib, x in ((minidl, m), (torch, t)):
        y = x * 2
        d = y.data
        assert isinstance(d, lib.Tensor) and not d.requires_grad and d.grad_fn is None and d.is_leaf
        d.mul_(0.5)                         # writes through: y's values change, autograd is not told
        y.sum().backward()                  # y's node saved nothing from its output, so backward works
        np.testing.assert_allclose(to_np(y.detach()), values, rtol=1e-6)
        x.data = lib.zeros(4)               # assigning replaces the values (any shape), keeps the leaf
        assert tuple(x.shape) == (4,) and x.requires_grad
    np.testing.assert_array_equal(to_np(m.grad), to_np(t.grad))
    p = minidl.nn.Parameter(minidl.ones(3))
    p.data -= 0.5                           # the optimizer idiom of the tutorials
    p.data.add_(minidl.ones(3), alpha=-0.25)
    np.testing.assert_array_equal(np.asarray(p.data), np.full(3, 0.25, np.float32))
    with pytest.raises(TypeError, match="data: expected a Tensor"):
        p.data = np.ones(3)


def test_editing_through_data_is_not_checked_by_autograd_as_torch() -> None:
    """.data has its own version counter: an edit through it does not trip backward (that is its point)."""
    for lib in (minidl, torch):
        x = lib.ones(3, requires_grad=True)
        y = x.exp()                         # exp saves its output
        y.data.zero_()
        y.sum().backward()
        np.testing.assert_array_equal(to_np(x.grad), np.zeros(3))


@pytest.mark.parametrize("args", [([1, 2.5],), ([[1, 2], [3, 4]],), ((2, 3),), (2, 3), (4,), ()], ids=str)
def test_legacy_tensor_constructor_as_torch(args: tuple) -> None:
    got, expected = minidl.Tensor(*args), torch.Tensor(*args)
    assert tuple(got.shape) == tuple(expected.shape) and got.dtype is minidl.float32
    if args and not isinstance(args[0], int):  # Tensor(2, 3) is uninitialised in both
        np.testing.assert_array_equal(np.asarray(got), expected.numpy())
    assert tuple(minidl.Tensor(minidl.Size([2, 5])).shape) == (2, 5)
    with pytest.raises(TypeError, match=r"Tensor\(\): expected"):
        minidl.Tensor("abc")


def test_next_functions_name_accumulate_grad_for_leaves_as_torch() -> None:
    def kinds(fn: Any) -> list[str | None]:
        return [None if node is None else "leaf" if type(node).__name__ == "AccumulateGrad" else "node"
                for node, _ in fn.next_functions]

    for lib in (minidl, torch):
        w, x = lib.ones(3, requires_grad=True), lib.ones(3)
        y = (x * w).exp() * x
        assert kinds(y.grad_fn) == ["node", None]
        mul = y.grad_fn.next_functions[0][0].next_functions[0][0]
        assert kinds(mul) == [None, "leaf"] and mul.next_functions[1][0].variable is w
