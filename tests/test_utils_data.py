"""minidl.utils.data against torch.utils.data: batches, collate rules, lengths, splits and errors."""

from __future__ import annotations

import warnings
from collections import namedtuple
from typing import Any

import numpy as np
import pytest
import torch
import torch.utils.data as tdata
from helpers import md, to_np

import minidl
from minidl.utils import data

Point = namedtuple("Point", "x y")


class Squares(data.Dataset):
    """Sample i: a dict of an int, a float, a NumPy vector, a string and a tuple."""

    def __len__(self) -> int:
        return 7

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"i": i, "f": i / 2, "v": np.full(3, i, np.float32), "name": f"s{i}", "pair": (i, [i * i, 1.5])}


class TorchSquares(tdata.Dataset):
    __len__ = Squares.__len__
    __getitem__ = Squares.__getitem__


def assert_same_structure(m: Any, t: Any) -> None:
    """Equal nesting, container types, dtypes and values (minidl tensors vs torch tensors)."""
    if isinstance(t, torch.Tensor):
        assert isinstance(m, minidl.Tensor), f"expected a tensor, got {type(m).__name__}"
        assert to_np(m).dtype == t.numpy().dtype and to_np(m).shape == tuple(t.shape)
        np.testing.assert_array_equal(to_np(m), t.numpy())
    elif isinstance(t, dict):
        assert type(m) is type(t) and m.keys() == t.keys()
        for key in t:
            assert_same_structure(m[key], t[key])
    elif isinstance(t, (list, tuple)):
        assert type(m) is type(t) and len(m) == len(t)
        for a, b in zip(m, t):
            assert_same_structure(a, b)
    else:
        assert m == t


@pytest.mark.parametrize("batch_size,drop_last", [(1, False), (3, False), (3, True), (7, True), (10, False)])
def test_in_order_batches_match_torch(batch_size: int, drop_last: bool) -> None:
    m_loader = data.DataLoader(Squares(), batch_size=batch_size, drop_last=drop_last)
    t_loader = tdata.DataLoader(TorchSquares(), batch_size=batch_size, drop_last=drop_last)
    assert len(m_loader) == len(t_loader)
    m_batches, t_batches = list(m_loader), list(t_loader)
    assert len(m_batches) == len(t_batches) == len(m_loader)
    for m, t in zip(m_batches, t_batches):
        assert_same_structure(m, t)


def test_collate_rules_match_torch() -> None:
    samples = [(np.float64(i), np.int32(i), True, Point(i, 2.0 * i), b"raw", md(np.eye(2) * i)) for i in range(3)]
    t_samples = [(*s[:-1], torch.from_numpy(np.eye(2) * i)) for i, s in enumerate(samples)]
    assert_same_structure(data.default_collate(samples), tdata.default_collate(t_samples))
    assert type(data.default_collate(samples)[3]) is Point


def test_tensor_dataset_batches_and_lengths() -> None:
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    m_set, t_set = data.TensorDataset(md(x), md(y)), tdata.TensorDataset(torch.tensor(x), torch.tensor(y))
    assert len(m_set) == len(t_set) == 10
    assert_same_structure(list(m_set[4]), list(t_set[4]))
    for m, t in zip(data.DataLoader(m_set, batch_size=4), tdata.DataLoader(t_set, batch_size=4)):
        assert_same_structure(m, t)


def test_shuffle_visits_every_sample_once_per_pass_and_a_seed_repeats_the_order() -> None:
    dataset = data.TensorDataset(minidl.arange(50))

    def passes(loader: data.DataLoader) -> list[list[int]]:
        return [[int(v) for batch in loader for v in to_np(batch[0])] for _ in range(2)]

    first = passes(data.DataLoader(dataset, batch_size=8, shuffle=True, generator=np.random.default_rng(3)))
    again = passes(data.DataLoader(dataset, batch_size=8, shuffle=True, generator=np.random.default_rng(3)))
    assert first == again
    assert all(sorted(order) == list(range(50)) for order in first)
    assert first[0] != first[1] and first[0] != list(range(50))
    minidl.manual_seed(5)
    global_draws = passes(data.DataLoader(dataset, batch_size=8, shuffle=True))
    minidl.manual_seed(5)
    assert passes(data.DataLoader(dataset, batch_size=8, shuffle=True)) == global_draws


def test_sampler_and_batch_sampler_as_torch() -> None:
    dataset = list(range(10, 20))
    for kwargs in [{"sampler": [3, 1, 4, 1, 5], "batch_size": 2}, {"batch_sampler": [[0, 9], [2], [5, 5, 5]]}]:
        m_loader, t_loader = data.DataLoader(dataset, **kwargs), tdata.DataLoader(dataset, **kwargs)
        assert len(m_loader) == len(t_loader) and m_loader.batch_size == t_loader.batch_size
        for m, t in zip(m_loader, t_loader):
            assert_same_structure(m, t)
    sampler = data.RandomSampler(dataset, replacement=True, num_samples=25, generator=np.random.default_rng(0))
    drawn = list(sampler)
    assert len(drawn) == len(sampler) == 25 and set(drawn) <= set(range(10))
    assert len(list(data.RandomSampler(dataset, num_samples=25))) == 25


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.33, 0.33, 0.34], [1.0, 0.0], [10],
                                     [np.int64(4), np.int64(6)]])
def test_random_split_lengths_as_torch_and_disjoint(lengths: list[Any]) -> None:
    dataset = list(range(100, 110))
    m_parts = data.random_split(dataset, lengths, generator=np.random.default_rng(0))
    with warnings.catch_warnings():  # torch warns about an empty split
        warnings.simplefilter("ignore")
        t_parts = tdata.random_split(dataset, lengths, generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in m_parts] == [len(p) for p in t_parts]
    values = [p[i] for p in m_parts for i in range(len(p))]
    assert sorted(values) == dataset
    again = data.random_split(dataset, lengths, generator=np.random.default_rng(0))
    assert [list(p.indices) for p in again] == [list(p.indices) for p in m_parts]


def test_subset_indexing() -> None:
    subset = data.Subset(list("abcdef"), [5, 0, 2])
    assert len(subset) == 3 and [subset[i] for i in range(3)] == ["f", "a", "c"]
    tensors = data.Subset(data.TensorDataset(minidl.arange(6)), [4, 1])
    assert to_np(tensors[[0, 1]][0]).tolist() == [4, 1]


@pytest.mark.parametrize("make,error,match", [
    (lambda: data.DataLoader([1, 2], batch_size=2.5), ValueError, "batch_size=2.5"),
    (lambda: data.DataLoader([1, 2], batch_size=0), ValueError, "batch_size=0"),
    (lambda: data.DataLoader([1, 2], batch_size=-3), ValueError, "batch_size=-3"),
    (lambda: data.DataLoader([1, 2], batch_size=True), ValueError, "batch_size=True"),
    (lambda: data.DataLoader([1, 2], shuffle=True, sampler=[0, 1]), ValueError, "mutually exclusive with shuffle"),
    (lambda: data.DataLoader([1, 2], batch_sampler=[[0]], drop_last=True), ValueError, "batch_sampler option"),
    (lambda: data.DataLoader([1, 2], shuffle="yes"), ValueError, "shuffle must be a bool"),
    (lambda: data.DataLoader([1, 2], drop_last=1), ValueError, "drop_last"),
    (lambda: data.DataLoader([1, 2], num_workers=-1), ValueError, "num_workers=-1"),
    (lambda: data.DataLoader([1, 2], shuffle=True, generator=torch.Generator()), TypeError, "numpy.random.Generator"),
    (lambda: data.TensorDataset(md(np.ones(3)), md(np.ones(4))), ValueError, "size mismatch"),
    (lambda: data.random_split(range(10), [3, 3]), ValueError, "summing to the dataset's length 10"),
    (lambda: data.random_split(range(10), [1.5, -0.5]), ValueError, "not in \\[0, 1\\]"),
    (lambda: data.default_collate([[1, 2], [3]]), RuntimeError, "equal size"),
    (lambda: data.default_collate([object()]), TypeError, "found object"),
    (lambda: data.Dataset()[0], NotImplementedError, "__getitem__"),
])
def test_clear_errors(make: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_reachable_from_the_top_level_package() -> None:
    assert minidl.utils.data.DataLoader is data.DataLoader


def test_a_seeded_minidl_generator_gives_the_same_split_as_pytorch_code_writes_it():
    dataset = data.TensorDataset(minidl.arange(10))
    first = data.random_split(dataset, [0.7, 0.3], generator=minidl.Generator().manual_seed(42))
    again = data.random_split(dataset, [0.7, 0.3], generator=minidl.Generator().manual_seed(42))
    other = data.random_split(dataset, [0.7, 0.3], generator=minidl.Generator().manual_seed(43))
    assert [len(s) for s in first] == [7, 3]
    assert first[0].indices == again[0].indices != other[0].indices
    g = minidl.Generator().manual_seed(5)
    state = g.get_state()
    order = list(data.DataLoader(dataset, batch_size=10, shuffle=True, generator=g))[0][0].tolist()
    again = data.DataLoader(dataset, batch_size=10, shuffle=True, generator=g.set_state(state))
    assert list(again)[0][0].tolist() == order
    assert g.initial_seed() == 5


@pytest.mark.parametrize("shuffle", [False, True])
def test_batching_off_gives_converted_items_as_torch(shuffle: bool) -> None:
    """``batch_size=None``: one item per step, NumPy values made tensors, containers kept (tuples as lists)."""
    m_items = list(data.DataLoader(Squares(), batch_size=None, shuffle=shuffle, generator=np.random.default_rng(1)))
    t_items = list(tdata.DataLoader(TorchSquares(), batch_size=None))
    assert len(m_items) == len(t_items) == len(data.DataLoader(Squares(), batch_size=None)) == 7
    if not shuffle:
        for m, t in zip(m_items, t_items):
            assert_same_structure(m, t)
    assert sorted(item["i"] for item in m_items) == list(range(7))
    sample = Point(np.float64(2.5), (1, 2))
    point, t_point = data.default_convert(sample), tdata.default_convert(sample)
    assert_same_structure(point, t_point)
    assert type(point) is Point
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        data.DataLoader(Squares(), batch_size=None, drop_last=True)
