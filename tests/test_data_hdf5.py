"""The packed HDF5 layout and NPZ: round trips, chunked and scattered reads, layout errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from minidl.data.clips import Clips, dequantize, load_npz, save_npz
from minidl.data.errors import LayoutError
from minidl.data.hdf5 import H5Clips, write_h5


def random_clips(n: int, seed: int = 0, with_frames: bool = True) -> Clips:
    rng = np.random.default_rng(seed)
    n_frames = rng.integers(1, 11, n).astype(np.uint8) if with_frames else None
    return Clips(rng.integers(0, 256, (n, 10, 128), dtype=np.uint8), rng.random((n, 527)) < 0.01,
                 np.array([f"id{i:05d}" for i in range(n)]), n_frames)


@pytest.fixture
def clips() -> Clips:
    return random_clips(1500)


def test_h5_round_trip_in_chunks(tmp_path, clips):
    path = tmp_path / "bal_train.h5"
    assert write_h5(path, clips.chunks(400), synthetic=True, attrs={"seed": 3}) == 1500
    with H5Clips(path) as h5:
        assert len(h5) == 1500 and h5.synthetic and h5.file.attrs["seed"] == 3
        back = Clips.concatenate(list(h5.chunks(512)))
    np.testing.assert_array_equal(back.x, clips.x)
    np.testing.assert_array_equal(back.y, clips.y)
    np.testing.assert_array_equal(back.n_frames, clips.n_frames)
    assert back.video_ids.tolist() == clips.video_ids.tolist()
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed away


@pytest.mark.parametrize("indices", [
    np.array([7, 3, 3, 1499, 0]),                   # scattered, repeated, unsorted
    np.arange(600, 1400),                           # one long run
    np.concatenate([np.arange(512, 1024), np.arange(0, 100)]),  # two runs, out of order
    np.array([], dtype=np.int64),
])
def test_take_any_rows(tmp_path, clips, indices):
    write_h5(tmp_path / "s.h5", [clips])
    with H5Clips(tmp_path / "s.h5") as h5:
        got = h5.take(indices)
    np.testing.assert_array_equal(got.x, clips.x[indices])
    np.testing.assert_array_equal(got.y, clips.y[indices])
    assert got.video_ids.tolist() == clips.video_ids[indices].tolist()


def test_take_out_of_range(tmp_path, clips):
    write_h5(tmp_path / "s.h5", [clips])
    with H5Clips(tmp_path / "s.h5") as h5, pytest.raises(IndexError, match="outside"):
        h5.take(np.array([1500]))


def test_foreign_file_without_n_frames(tmp_path, clips):
    """The widely used layout has only x, y, video_id_list: it reads, with frame counts unknown."""
    with h5py.File(tmp_path / "kong.h5", "w") as f:
        f["x"], f["y"] = clips.x[:10], clips.y[:10]
        f["video_id_list"] = clips.video_ids[:10].astype("S11")
    with H5Clips(tmp_path / "kong.h5") as h5:
        got = h5.take(np.arange(10))
        assert got.n_frames is None and not h5.synthetic
    np.testing.assert_array_equal(got.x, clips.x[:10])
    write_h5(tmp_path / "copy.h5", [got])  # and can be rewritten without inventing frame counts
    with H5Clips(tmp_path / "copy.h5") as h5:
        assert h5.n_frames is None


@pytest.mark.parametrize(("datasets", "message"), [
    ({"x": np.zeros((4, 10, 100), np.uint8)}, r"'x' is \(4, 10, 100\) uint8, expected \(N, 10, 128\) uint8"),
    ({"x": np.zeros((4, 10, 128), np.float32)}, r"'x' is \(4, 10, 128\) float32"),
    ({"y": np.zeros((4, 500), bool)}, r"'y' is \(4, 500\) bool, expected \(4, 527\) bool"),
    ({"video_id_list": np.array([b"a"] * 3)}, "'video_id_list' has 3 entries, expected 4"),
])
def test_wrong_shapes_are_named(tmp_path, datasets, message):
    arrays = {"x": np.zeros((4, 10, 128), np.uint8), "y": np.zeros((4, 527), bool),
              "video_id_list": np.array([b"a"] * 4), **datasets}
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        for name, value in arrays.items():
            f[name] = value
    with pytest.raises(LayoutError, match="bad.h5: .*" + message):
        H5Clips(tmp_path / "bad.h5")


def test_missing_dataset_and_not_hdf5(tmp_path):
    with h5py.File(tmp_path / "part.h5", "w") as f:
        f["x"] = np.zeros((1, 10, 128), np.uint8)
    with pytest.raises(LayoutError, match=r"part.h5: missing datasets \['video_id_list', 'y'\]"):
        H5Clips(tmp_path / "part.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(LayoutError, match="text.h5: cannot open as HDF5"):
        H5Clips(tmp_path / "text.h5")
    with pytest.raises(FileNotFoundError, match="none.h5: no such file"):
        H5Clips(tmp_path / "none.h5")


def test_failed_write_leaves_no_file(tmp_path, clips):
    def chunks():
        yield clips
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_h5(tmp_path / "out.h5", chunks())
    assert list(tmp_path.iterdir()) == []


def test_npz_round_trip(tmp_path, clips):
    save_npz(tmp_path / "eval.npz", clips)
    back = load_npz(tmp_path / "eval.npz")
    np.testing.assert_array_equal(back.x, clips.x)
    np.testing.assert_array_equal(back.y, clips.y)
    np.testing.assert_array_equal(back.n_frames, clips.n_frames)
    np.savez(tmp_path / "bad.npz", x=clips.x)
    with pytest.raises(LayoutError, match=r"bad.npz: missing arrays \['video_id_list', 'y'\]"):
        load_npz(tmp_path / "bad.npz")


def test_dequantisation_modes():
    q = np.array([0, 128, 255], dtype=np.uint8)
    np.testing.assert_allclose(dequantize(q), [-1.0, 0.0, 127 / 128])
    np.testing.assert_allclose(dequantize(q, "vggish"), [-2.0, 128 * 4 / 255 - 2, 2.0], atol=1e-6)
    np.testing.assert_array_equal(dequantize(q, "none"), [0.0, 128.0, 255.0])
    assert dequantize(q).dtype == np.float32 and dequantize(q, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="unknown dequantisation 'log'"):
        dequantize(q, "log")


def test_core_works_without_the_data_extra(tmp_path):
    """Without h5py, protobuf and crc32c, minidl.data imports, and the readers say what to install."""
    (tmp_path / "a.h5").write_bytes(b"")
    code = f"""
import sys
for name in ("h5py", "google.protobuf", "crc32c"):
    sys.modules[name] = None  # makes "import name" fail
import numpy as np
import minidl.data as data
clips = data.Clips(np.zeros((2, 10, 128), np.uint8), np.zeros((2, 527), bool), np.array(["a", "b"]))
assert len(list(data.DataLoader(clips, batch_size=1))) == 2
for call in (lambda: data.H5Clips({str(tmp_path / "a.h5")!r}), lambda: data.parse_clip(b""),
             lambda: data.tfrecord.masked_crc32c(b"")):
    try:
        call()
    except ImportError as err:
        assert "pip install 'minidl[data]'" in str(err), err
    else:
        raise AssertionError("no ImportError")
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "ok", out.stderr


def test_spans_cover_touched_chunks_in_bounded_slabs():
    from minidl.data.hdf5 import _spans

    assert _spans(np.array([0, 1, 5, 600, 601, 1100]), block=100, n=1150, limit=300) == [
        (0, 100), (600, 700), (1100, 1150)]
    assert _spans(np.arange(0, 1000), block=100, n=1000, limit=300) == [(0, 300), (300, 600), (600, 900), (900, 1000)]
    assert _spans(np.array([], dtype=np.int64), block=100, n=10) == []
