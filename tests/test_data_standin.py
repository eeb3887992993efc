"""The built-in stand-in: real labels, seeded synthetic embeddings, the big split, the cache."""

from __future__ import annotations

import numpy as np
import pytest

from minidl.data.hdf5 import H5Clips
from minidl.data.labels import LabelSets, builtin_label_sets
from minidl.data.standin import (
    CHUNK,
    MUSIC,
    SPEECH,
    BigLabelModel,
    World,
    builtin,
    generate_big,
    generate_split,
    quantize,
    synthesize,
)


@pytest.fixture(scope="module")
def world() -> World:
    return World.create(0)


@pytest.fixture(scope="module")
def eval_split(world):
    return generate_split("eval", 0, world)


def test_eval_split_has_the_real_labels(eval_split):
    labels, n_frames = builtin_label_sets("eval")
    assert len(eval_split) == 20371 and eval_split.synthetic
    assert eval_split.x.shape == (20371, 10, 128) and eval_split.x.dtype == np.uint8
    np.testing.assert_array_equal(eval_split.y, labels.to_dense())
    np.testing.assert_array_equal(eval_split.n_frames, n_frames)
    assert int(eval_split.y.sum()) == 51804


def test_short_clips_are_padded_like_the_reader(eval_split):
    short = np.flatnonzero(eval_split.n_frames < 10)
    assert 0.015 < len(short) / len(eval_split) < 0.02
    for i in short[:50]:
        assert (eval_split.x[i, eval_split.n_frames[i]:] == 128).all()


def test_embeddings_look_like_quantised_vggish(eval_split):
    x = eval_split.x[:2000].astype(np.float64)
    e = x * 4 / 255 - 2
    assert 0.5 < e.std() < 1.5 and abs(e.mean()) < 0.2   # a whitened space, clipped to [-2, 2]
    assert 0.0 < (eval_split.x[:2000] == 255).mean() < 0.1
    frames = e[eval_split.n_frames[:2000] == 10][:, 0, :], e[eval_split.n_frames[:2000] == 10][:, 5, :]
    same_clip = np.mean([np.corrcoef(frames[0][i], frames[1][i])[0, 1] for i in range(200)])
    other_clip = np.mean([np.corrcoef(frames[0][i], frames[1][i + 1])[0, 1] for i in range(200)])
    assert same_clip > other_clip + 0.1  # frames of one clip share its offset and events


def test_class_evidence_is_learnable_but_not_trivial(eval_split):
    """The mean embedding of Music clips differs from that of other clips, but single clips overlap."""
    e = eval_split.x.astype(np.float32).mean(axis=1)
    music = eval_split.y[:, MUSIC]
    direction = e[music].mean(0) - e[~music].mean(0)
    score = e @ direction
    from sklearn.metrics import roc_auc_score

    assert 0.6 < roc_auc_score(music, score) < 0.995


def test_donors_make_unlabelled_events_differ_by_class(world):
    """Donor label sets (of bal_train) exclude Music and Speech and favour some classes over others."""
    assert len(world.donors) == 22160 and world.donor_cdf[-1] == pytest.approx(1)
    assert (np.diff(world.donor_cdf) >= 0).all()
    rows = np.searchsorted(world.donor_cdf, np.random.default_rng(0).random(20000), side="right")
    counts = world.donors.take(rows).class_counts().astype(float)
    counts[[MUSIC, SPEECH]] = np.nan  # only co-occurring with the drawn class (they are dropped from the events)
    spread = np.nanpercentile(counts, [10, 90])
    assert spread[1] > 10 * max(spread[0], 1)  # a wide per-class spread of unlabelled rates


def test_quantize_is_vggish_formula():
    e = np.array([-3.0, -2.0, 0.0, 1.999, 2.0, 5.0])
    np.testing.assert_array_equal(quantize(e), [0, 0, 127, 254, 255, 255])


def test_generation_is_seeded(world):
    labels = LabelSets.from_lists([[0], [137, 0], [5]])
    frames = np.array([10, 10, 3], dtype=np.uint8)
    a = synthesize(world, labels, frames, np.random.default_rng(1))
    b = synthesize(world, labels, frames, np.random.default_rng(1))
    c = synthesize(world, labels, frames, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    assert not np.array_equal(World.create(1).prototypes, world.prototypes)


def test_big_label_model_hits_the_unbalanced_statistics():
    pool, _ = builtin_label_sets("bal_train")
    model = BigLabelModel.fit(pool)
    assert model.shares.sum() == pytest.approx(1) and (model.shares > 0).all()
    labels = model.sample(pool, 40000, np.random.default_rng(0))
    freq = labels.class_counts() / len(labels)
    assert freq[MUSIC] == pytest.approx(0.495, abs=0.01) and freq[SPEECH] == pytest.approx(0.495, abs=0.01)
    assert labels.total / len(labels) == pytest.approx(2.0, abs=0.03)
    tail = np.sort(np.delete(freq, [MUSIC, SPEECH]))
    assert tail[-1] > 20 * np.median(tail) and tail[-1] > 100 * np.percentile(tail, 5)  # a long tail


def test_big_split_streams_in_chunks_and_prefixes_agree(tmp_path):
    small = generate_big(tmp_path / "small.h5", 1000, seed=0, progress=False)
    large = generate_big(tmp_path / "large.h5", CHUNK + 500, seed=0, progress=False)
    with H5Clips(small) as a, H5Clips(large) as b:
        assert len(a) == 1000 and len(b) == CHUNK + 500 and a.synthetic
        first_a, first_b = a.take(np.arange(1000)), b.take(np.arange(1000))
        np.testing.assert_array_equal(first_a.x, first_b.x)
        np.testing.assert_array_equal(first_a.y, first_b.y)
        assert b.take(np.array([CHUNK + 499])).video_ids[0] == f"synthetic-big-{CHUNK + 499:07d}"


def test_builtin_caches_under_minidl_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDL_CACHE", str(tmp_path))
    first = builtin("eval", progress=False)
    cached = list(tmp_path.rglob("eval.npz"))
    assert len(cached) == 1 and first.synthetic and first.name.startswith("builtin:eval")
    mtime = cached[0].stat().st_mtime_ns
    second = builtin("eval", progress=False)
    assert cached[0].stat().st_mtime_ns == mtime  # loaded, not regenerated
    np.testing.assert_array_equal(first.x, second.x)
    big = builtin("big", size=300, progress=False)
    assert len(big) == 300 and isinstance(big, H5Clips)
    big.close()
    with pytest.raises(ValueError, match="unknown built-in split 'test'"):
        builtin("test")


def test_cli_stats_on_builtin_prints_real_label_statistics(tmp_path, monkeypatch, capsys):
    from minidl.cli.main import main

    monkeypatch.setenv("MINIDL_CACHE", str(tmp_path))
    assert main(["data", "stats", "builtin:eval", "--top", "2"]) == 0
    printed = capsys.readouterr().out
    assert "SYNTHETIC FEATURES" in printed
    assert "clips:                 20,371" in printed and "labels:                51,804 (2.54 per clip" in printed
    assert "Music                                5,695" in printed and "Speech" in printed
    assert "short clips (<10 s):   361 (1.77%)" in printed
