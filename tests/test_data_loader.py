"""DataLoader and samplers: coverage, seeding, batching, dtypes, balance, standardisation, tensors."""

from __future__ import annotations

import numpy as np
import pytest

import minidl
from minidl.data.clips import Clips
from minidl.data.hdf5 import H5Clips, write_h5
from minidl.data.labels import LabelSets
from minidl.data.loader import (
    BalancedSampler,
    DataLoader,
    SequentialSampler,
    ShuffleSampler,
    Standardizer,
    source_labels,
)


def numbered_clips(n: int) -> Clips:
    """Clip i has x[i, 0, 0] = i % 256 and x[i, 0, 1] = i // 256, so batches reveal their indices."""
    x = np.full((n, 10, 128), 128, dtype=np.uint8)
    x[:, 0, 0], x[:, 0, 1] = np.arange(n) % 256, np.arange(n) // 256
    y = np.zeros((n, 527), dtype=bool)
    y[np.arange(n), np.arange(n) % 527] = True
    return Clips(x, y, np.array([str(i) for i in range(n)]))


def indices_of(x: np.ndarray) -> np.ndarray:
    q = np.rint(x[:, 0, :2] * 128 + 128).astype(int)  # undo the centred dequantisation
    return q[:, 0] + 256 * q[:, 1]


def epoch_indices(loader: DataLoader) -> np.ndarray:
    return np.concatenate([indices_of(x) for x, _ in loader])


def test_sequential_batches_and_drop_last():
    loader = DataLoader(numbered_clips(1000), batch_size=64)
    batches = list(loader)
    assert len(loader) == len(batches) == 16 and len(batches[-1][0]) == 1000 - 15 * 64
    np.testing.assert_array_equal(epoch_indices(loader), np.arange(1000))
    dropped = DataLoader(numbered_clips(1000), batch_size=64, drop_last=True)
    assert len(dropped) == len(list(dropped)) == 15


def test_shuffle_is_a_seeded_permutation_that_changes_per_epoch():
    loader = DataLoader(numbered_clips(1000), batch_size=100, shuffle=True, seed=5)
    first, second = epoch_indices(loader), epoch_indices(loader)
    assert sorted(first) == list(range(1000)) and sorted(second) == list(range(1000))
    assert (first != second).any() and (first != np.arange(1000)).any()
    again = DataLoader(numbered_clips(1000), batch_size=100, shuffle=True, seed=5)
    np.testing.assert_array_equal(epoch_indices(again), first)
    again.set_epoch(0)
    np.testing.assert_array_equal(epoch_indices(again), first)
    other_seed = DataLoader(numbered_clips(1000), batch_size=100, shuffle=True, seed=6)
    assert (epoch_indices(other_seed) != first).any()


def test_batches_span_windows():
    """Batches that straddle two sampler windows are joined, not cut short."""
    loader = DataLoader(numbered_clips(1000), batch_size=64, sampler=SequentialSampler(1000, window=100))
    sizes = [len(x) for x, _ in loader]
    assert sizes == [64] * 15 + [40]
    np.testing.assert_array_equal(epoch_indices(loader), np.arange(1000))


def test_block_shuffle_reads_whole_blocks_once(tmp_path):
    write_h5(tmp_path / "s.h5", [numbered_clips(3000)])
    with H5Clips(tmp_path / "s.h5") as h5:
        assert h5.block_rows == 512
        loader = DataLoader(h5, batch_size=128, shuffle=True, seed=1)
        order = epoch_indices(loader)
    assert sorted(order) == list(range(3000)) and (order != np.arange(3000)).any()
    sampler = ShuffleSampler(3000, seed=1, block=512, window=1024)
    windows = list(sampler.windows(0))
    assert [len(w) for w in windows] != [] and sum(len(w) for w in windows) == 3000
    for window in windows:  # each window is the union of whole blocks
        blocks = np.unique(window // 512)
        assert len(window) == sum(min(512, 3000 - 512 * b) for b in blocks)


def test_dtypes_labels_and_flatten():
    x, y = next(iter(DataLoader(numbered_clips(10), batch_size=4)))
    assert x.shape == (4, 10, 128) and x.dtype == np.float32 and y.shape == (4, 527) and y.dtype == np.float32
    assert set(np.unique(y)) == {0.0, 1.0}
    x, y = next(iter(DataLoader(numbered_clips(10), batch_size=4, dtype="float64", flatten=True)))
    assert x.shape == (4, 1280) and x.dtype == np.float64 and y.dtype == np.float64
    x, _ = next(iter(DataLoader(numbered_clips(10), batch_size=4, dequantization="none")))
    assert x[1, 0, 0] == 1.0 and x[0, 5, 5] == 128.0
    with pytest.raises(ValueError, match="floating dtype"):
        DataLoader(numbered_clips(10), dtype="int64")
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(numbered_clips(10), batch_size=0)


def test_device_gives_minidl_tensors():
    x, y = next(iter(DataLoader(numbered_clips(10), batch_size=4, device="cpu")))
    assert isinstance(x, minidl.Tensor) and isinstance(y, minidl.Tensor)
    assert x.dtype == np.float32 and y.dtype == np.float32 and x.device == "cpu"
    assert tuple(x.shape) == (4, 10, 128) and not x.requires_grad


def test_balanced_sampler_draws_classes_evenly():
    common = [[0] for _ in range(900)]          # class 0 on 900 clips
    rare = [[1], [2, 0], [3]]                    # classes 1, 2, 3 on one clip each
    labels = LabelSets.from_lists(common + rare + [[4]] * 97, num_classes=6)
    sampler = BalancedSampler(labels, num_samples=5000, seed=3, window=700)
    drawn = np.concatenate(list(sampler.windows(0)))
    assert len(drawn) == len(sampler) == 5000
    per_class = np.bincount([c for i in drawn for c in labels[i]], minlength=6)
    assert per_class[5] == 0  # class 5 has no clip
    for c in (1, 3, 4):       # each present class drawn ~1/5 of the time (class 0 also via clip 901)
        assert abs(per_class[c] - 1000) <= 5
    assert abs(per_class[0] - 2000) <= 10
    assert (np.concatenate(list(sampler.windows(0))) == drawn).all()
    assert (np.concatenate(list(sampler.windows(1))) != drawn).any()


def test_balanced_loader_over_file(tmp_path):
    clips = numbered_clips(2000)
    write_h5(tmp_path / "s.h5", [clips])
    with H5Clips(tmp_path / "s.h5") as h5:
        labels = source_labels(h5, chunk=300)
        np.testing.assert_array_equal(labels.to_dense(), clips.y)
        loader = DataLoader(h5, batch_size=256, sampler=BalancedSampler(labels, 2108, seed=0))
        seen = epoch_indices(loader)
    assert len(seen) == 2108
    np.testing.assert_array_equal(np.bincount(seen % 527, minlength=527), np.full(527, 4))


def test_balanced_sampler_needs_labels():
    with pytest.raises(ValueError, match="no clip has any label"):
        BalancedSampler(LabelSets(np.zeros(0, np.int64), np.zeros(4, np.int64)))


def test_standardizer_fits_in_one_streaming_pass():
    rng = np.random.default_rng(0)
    x = np.clip(rng.normal(100, 20, (3000, 10, 128)) + np.arange(128), 0, 255).astype(np.uint8)
    clips = Clips(x, np.zeros((3000, 527), bool), np.array(["v"] * 3000))
    standardizer = Standardizer.fit(clips, chunk=700)
    reference = (x.astype(np.float64) - 128) / 128
    np.testing.assert_allclose(standardizer.mean, reference.mean(axis=(0, 1)), rtol=1e-10)
    np.testing.assert_allclose(standardizer.std, reference.std(axis=(0, 1)), rtol=1e-8)
    batch, _ = next(iter(DataLoader(clips, batch_size=3000, standardizer=standardizer)))
    assert batch.dtype == np.float32
    np.testing.assert_allclose(batch.mean(axis=(0, 1)), 0, atol=1e-4)
    np.testing.assert_allclose(batch.std(axis=(0, 1)), 1, atol=1e-4)
