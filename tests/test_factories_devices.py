"""PyTorch's factories (linspace, logspace, eye, empty, randint, randperm, normal, the legacy
FloatTensor/DoubleTensor/LongTensor), device objects, the default device, ``minidl.accelerator`` and
``minidl.Size``: compared with PyTorch where the values are deterministic, checked for their
semantics (ranges, shapes, dtypes, seeding) where they are random."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import DEVICE, to_np

import minidl

SPACES = [(-math.pi, math.pi, 2000), (0, 1, 5), (-3.3, 7.1, 101), (2, -5, 1000), (0.5, 9.7, 13), (0, 1, 1),
          (0, 1, 0)]
DTYPE_NAMES = ["float32", "float64", "int64", "int32"]


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
@pytest.mark.parametrize("start, end, steps", SPACES, ids=str)
def test_linspace_matches_torch(start: float, end: float, steps: int, dtype: str) -> None:
    """Exact ends, and PyTorch's values to the last bit but one (its vectorised kernel rounds some
    differently); integer dtypes are truncated as PyTorch's."""
    out = minidl.linspace(start, end, steps, dtype=getattr(minidl, dtype), device=DEVICE)
    expected = torch.linspace(start, end, steps, dtype=getattr(torch, dtype)).numpy()
    got = to_np(out)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    scale = float(np.abs(expected).max(initial=0))
    tol = 1 if "int" in dtype else scale * (3e-7 if dtype == "float32" else 1e-15)
    assert np.abs(got.astype(np.float64) - expected).max(initial=0) <= tol
    if steps > 1:
        assert got[0] == expected[0] and got[-1] == expected[-1]


@pytest.mark.parametrize("base", [10.0, 2.0])
@pytest.mark.parametrize("start, end, steps", [(0, 3, 4), (-2, 2, 9), (0.5, 1.7, 33), (1, 1, 1)], ids=str)
def test_logspace_matches_torch(start: float, end: float, steps: int, base: float) -> None:
    for dtype in ("float32", "float64"):
        got = to_np(minidl.logspace(start, end, steps, base, dtype=getattr(minidl, dtype), device=DEVICE))
        expected = torch.logspace(start, end, steps, base, dtype=getattr(torch, dtype)).numpy()
        assert got.dtype == expected.dtype and np.allclose(got, expected, rtol=2e-6, atol=0)
    assert np.array_equal(to_np(minidl.logspace(0, 3, 4, dtype=minidl.int64)),
                          torch.logspace(0, 3, 4, dtype=torch.int64).numpy())


def test_linspace_defaults_and_errors() -> None:
    assert minidl.linspace(0, 1, 3).dtype == minidl.float32
    with pytest.raises(RuntimeError, match="number of steps must be non-negative"):
        minidl.linspace(0, 1, -1)
    x = minidl.linspace(0, 1, 3, requires_grad=True)
    assert x.requires_grad and x.is_leaf


@pytest.mark.parametrize("args", [(3,), (2, 4), (4, 2)], ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_eye_matches_torch(args: tuple[int, ...], dtype: str) -> None:
    got = to_np(minidl.eye(*args, dtype=getattr(minidl, dtype), device=DEVICE))
    expected = torch.eye(*args, dtype=getattr(torch, dtype)).numpy()
    assert got.dtype == expected.dtype and np.array_equal(got, expected)


def test_empty_has_the_shape_and_dtype_asked_for() -> None:
    assert minidl.empty(2, 3).shape == (2, 3) and minidl.empty(2, 3).dtype == minidl.float32
    assert minidl.empty((4,), dtype=minidl.int64, device=DEVICE).dtype == minidl.int64
    like = minidl.empty_like(minidl.zeros(2, 5, dtype=minidl.float64, device=DEVICE))
    assert like.shape == (2, 5) and like.dtype == minidl.float64 and like.device == DEVICE
    assert minidl.empty(3, requires_grad=True).requires_grad


def test_randint_ranges_dtypes_and_forms() -> None:
    x = minidl.randint(3, 7, (1000,), device=DEVICE)
    assert x.dtype == minidl.int64 and x.shape == (1000,) and x.device == DEVICE
    values = set(to_np(x).tolist())
    assert values == {3, 4, 5, 6}
    assert set(to_np(minidl.randint(4, (200,))).tolist()) == {0, 1, 2, 3}
    assert minidl.randint(high=5, size=(2, 3)).shape == (2, 3)
    assert minidl.randint(0, 5, size=(2,), dtype=minidl.float32).dtype == minidl.float32
    with pytest.raises(RuntimeError, match="expected low < high"):
        minidl.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="randint"):
        minidl.randint(5)


def test_randperm_is_a_permutation() -> None:
    p = to_np(minidl.randperm(50, device=DEVICE))
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(50)) and p.tolist() != list(range(50))
    assert minidl.randperm(0).shape == (0,)


def test_random_factories_follow_the_seed_and_the_generator() -> None:
    draws = [minidl.randint, minidl.randperm, minidl.normal, minidl.rand, minidl.randn]
    args = [(0, 10, (5,)), (7,), (0.0, 1.0, (5,)), (5,), (5,)]

    def run(**kwargs: object) -> list[np.ndarray]:
        return [to_np(f(*a, **kwargs)) for f, a in zip(draws, args)]

    minidl.manual_seed(3)
    first = run()
    minidl.manual_seed(3)
    assert all(np.array_equal(a, b) for a, b in zip(first, run()))
    g = minidl.Generator().manual_seed(5)
    own = run(generator=g)
    minidl.manual_seed(3)
    assert all(np.array_equal(a, b) for a, b in zip(own, run(generator=minidl.Generator().manual_seed(5))))
    assert not np.array_equal(own[0], first[0]) or not np.array_equal(own[4], first[4])


def test_normal_forms_shapes_and_statistics() -> None:
    mean = minidl.zeros(2, 1, dtype=minidl.float64, device=DEVICE)
    std = minidl.full((3,), 2.0, dtype=minidl.float64, device=DEVICE)
    out = minidl.normal(mean, std)
    assert out.shape == (2, 3) and out.dtype == minidl.float64 and out.device == DEVICE
    many = to_np(minidl.normal(1.5, 0.5, (20000,)))
    assert many.dtype == np.float32 and abs(many.mean() - 1.5) < 0.02 and abs(many.std() - 0.5) < 0.02
    shifted = to_np(minidl.normal(minidl.tensor([10.0, -10.0]), 1e-3))
    assert np.allclose(shifted, [10, -10], atol=0.01)
    with pytest.raises(RuntimeError, match="normal expects std >= 0.0"):
        minidl.normal(0.0, -1.0, (2,))
    with pytest.raises(TypeError, match="give the size"):
        minidl.normal(0.0, 1.0)


def test_normal_carries_no_gradient_to_mean_and_std() -> None:
    """PyTorch's normal() has zero gradients with respect to mean and std; minidl's has no history."""
    mean = minidl.zeros(3, requires_grad=True)
    assert not minidl.normal(mean, 1.0).requires_grad


# ------------------------------------------------------------------------------ legacy forms
@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "LongTensor"])
def test_legacy_constructors_match_torch(name: str) -> None:
    md_type, th_type = getattr(minidl, name), getattr(torch, name)
    for args in ([[1, 2], [3, 4]],), ([2.5],), ((1, 2, 3),), ():
        got, expected = md_type(*args), th_type(*args)
        assert got.dtype == getattr(minidl, str(expected.dtype).split(".")[1])
        assert np.array_equal(to_np(got), expected.numpy())
    for shape in ((2, 3), (4,)):
        assert md_type(*shape).shape == th_type(*shape).shape
    assert md_type(minidl.Size([2, 5])).shape == (2, 5)
    assert isinstance(md_type([1]), md_type)
    for lib_type in (md_type, th_type):  # neither data nor a shape: two lists, a lone number
        for args in (([1], [2]), (2.5,), (True,)):
            with pytest.raises(TypeError):
                lib_type(*args)
    assert md_type(np.int64(2), 3).shape == th_type(np.int64(2), 3).shape == (2, 3)  # NumPy integers are sizes


def test_legacy_types_test_dtypes_with_isinstance() -> None:
    assert isinstance(minidl.zeros(2), minidl.FloatTensor)
    assert not isinstance(minidl.zeros(2), minidl.LongTensor)
    assert isinstance(minidl.arange(3), minidl.LongTensor)
    assert isinstance(minidl.zeros(1, dtype=minidl.float64), minidl.DoubleTensor)
    assert not isinstance(np.zeros(2, np.float32), minidl.FloatTensor)


# ----------------------------------------------------------------------------------- devices
@pytest.mark.parametrize("args, type_, index, text", [
    (("cpu",), "cpu", None, "cpu"), (("cuda",), "cuda", None, "cuda"), (("cuda", 0), "cuda", 0, "cuda:0"),
    (("cuda:1",), "cuda", 1, "cuda:1"), (("cpu", 0), "cpu", 0, "cpu:0"),
])
def test_device_objects_match_torch(args: tuple, type_: str, index: int | None, text: str) -> None:
    d, expected = minidl.device(*args), torch.device(*args)
    assert (d.type, d.index, str(d)) == (type_, index, text) == (expected.type, expected.index, str(expected))
    assert repr(d) == repr(expected)
    assert d == text and hash(d) == hash(text)


@pytest.mark.parametrize("args, error", [(("gpu",), ValueError), (("cuda:0", 1), RuntimeError),
                                         (("cuda:x",), RuntimeError), (("cuda", -1), RuntimeError)])
def test_bad_devices_are_refused(args: tuple, error: type) -> None:
    with pytest.raises(error):
        minidl.device(*args)


def test_device_objects_go_wherever_a_device_name_goes() -> None:
    cpu = minidl.device("cpu")
    x = minidl.tensor([1.0, 2.0], device=cpu)
    assert x.device == cpu == "cpu" and repr(x.device) == "device(type='cpu')"
    assert minidl.zeros(2, device=minidl.device("cpu", 0)).device == "cpu"
    assert x.to(cpu) is x
    model = minidl.nn.Linear(2, 1).to(minidl.device("cpu"))
    assert model.weight.device == "cpu"
    assert {minidl.device("cpu"), "cpu"} == {"cpu"}


@pytest.mark.skipif(not minidl.cuda.is_available(), reason="needs a GPU")
def test_cuda_device_objects_move_tensors() -> None:
    x = minidl.ones(2).to(minidl.device("cuda", 0))
    assert x.device == "cuda" and x.device.type == "cuda"
    assert minidl.zeros(2, device=minidl.device("cuda:0")).device == "cuda"


def test_default_device() -> None:
    assert minidl.get_default_device() == "cpu" and repr(minidl.get_default_device()) == "device(type='cpu')"
    try:
        minidl.set_default_device(DEVICE)
        assert minidl.zeros(2).device == DEVICE and minidl.linspace(0, 1, 3).device == DEVICE
        assert minidl.nn.Linear(2, 2).weight.device == DEVICE and minidl.tensor([1]).device == DEVICE
        minidl.set_default_device(None)
        assert minidl.get_default_device() == "cpu"
        if not minidl.cuda.is_available():
            with pytest.raises(RuntimeError, match="not available"):
                minidl.set_default_device("cuda")
    finally:
        minidl.set_default_device("cpu")


def test_accelerator() -> None:
    assert minidl.accelerator.is_available() == minidl.cuda.is_available()
    current = minidl.accelerator.current_accelerator()
    if minidl.cuda.is_available():
        assert current == "cuda" and current.type == "cuda"
    else:
        assert current is None


# -------------------------------------------------------------------------------------- Size
def test_size_is_a_tuple_with_numel_and_torchs_repr() -> None:
    s = minidl.Size([2, 3])
    assert s == (2, 3) and isinstance(s, tuple) and s.numel() == 6 == torch.Size([2, 3]).numel()
    assert repr(s) == repr(torch.Size([2, 3])).replace("torch", "minidl") == "minidl.Size([2, 3])"
    assert minidl.Size([]).numel() == 1 and repr(minidl.Size([])) == "minidl.Size([])"
    assert isinstance(s[1:], minidl.Size) and s[1:] == (3,) and s[0] == 2
    assert isinstance(s + (4,), minidl.Size) and s + (4,) == (2, 3, 4)
    assert minidl.zeros(s).shape == (2, 3)


# ------------------------------------------------------------------------------ formatting
@pytest.mark.parametrize("spec", ["", ".2f", ">9.3f", "e", ".1%"])
def test_format_of_a_0d_tensor_is_the_format_of_its_value(spec: str) -> None:
    for value in (3.14159, -0.5):
        assert format(minidl.tensor(value), spec) == format(torch.tensor(value), spec)
    assert f"{minidl.tensor(7):03d}" == f"{torch.tensor(7):03d}" == "007"


def test_format_of_a_larger_tensor_needs_an_empty_spec() -> None:
    assert f"{minidl.ones(2)}" == "tensor([1., 1.])"
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{minidl.ones(2):.2f}"
