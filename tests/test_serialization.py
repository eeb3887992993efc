"""minidl.save / minidl.load: round trips, checkpoints, damaged files, atomic writes, no pickle."""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import DEVICE, md, rng, to_np

import minidl
from minidl import nn, optim, serialization
from minidl.serialization import SerializationError, load, save


def roundtrip(obj: Any, tmp_path: Path, **kwargs: Any) -> Any:
    path = tmp_path / "obj.npz"
    save(obj, path)
    return load(path, **kwargs)


def assert_same_tensor(a: minidl.Tensor, b: minidl.Tensor) -> None:
    assert type(a) is minidl.Tensor and a.shape == b.shape and a.dtype == b.dtype
    assert a.device == b.device and a.requires_grad == b.requires_grad
    assert np.array_equal(to_np(a), to_np(b), equal_nan=a.dtype.kind == "f")


# ------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (7,), (2, 3, 4)])
def test_tensor_roundtrip(dtype: str, shape: tuple[int, ...], tmp_path: Path) -> None:
    values = (rng(0).standard_normal(shape) * 10).astype(dtype)
    t = md(values)
    assert_same_tensor(roundtrip(t, tmp_path), t)


def test_requires_grad_special_values_and_parameters_roundtrip(tmp_path: Path) -> None:
    t = md(np.array([np.nan, np.inf, -np.inf, -0.0, 1e-45, 3.4e38], np.float32), requires_grad=True)
    out = roundtrip(t, tmp_path)
    assert_same_tensor(out, t)
    assert np.signbit(to_np(out)[3])
    p = nn.Parameter(md(np.ones(3, np.float32)))
    out = roundtrip(p, tmp_path)
    assert type(out) is minidl.Tensor and out.requires_grad  # saved as a plain tensor


def test_python_values_roundtrip(tmp_path: Path) -> None:
    obj = {
        "none": None, "true": True, "false": False, "int": -3, "big": 2**100, "float": 0.1, "inf": math.inf,
        "str": "héllo ☃", "list": [1, [2.5, "x"], ()], "tuple": (1, (None, False)), 7: "int key",
        (1, "a"): "tuple key", None: "none key", 2.5: "float key",
        "ordered": OrderedDict([("b", 1), ("a", 2)]), "empty": {},
    }
    out = roundtrip(obj, tmp_path)
    assert out == obj
    assert list(out) == list(obj) and type(out["ordered"]) is OrderedDict and type(out["empty"]) is dict
    assert type(out["list"][2]) is tuple and type(out["tuple"][1]) is tuple and type(out["int"]) is int
    assert out["true"] is True and type(out["float"]) is float
    assert math.isnan(roundtrip({"nan": math.nan}, tmp_path)["nan"])


def test_shared_tensor_is_stored_once_and_loaded_as_one_object(tmp_path: Path) -> None:
    t = md(np.arange(6.0).reshape(2, 3))
    out = roundtrip({"a": t, "b": [t], "c": md(np.arange(6.0).reshape(2, 3))}, tmp_path)
    assert out["a"] is out["b"][0] and out["a"] is not out["c"]
    with zipfile.ZipFile(tmp_path / "obj.npz") as archive:
        expected = ["__structure__.npy", "__structure_sha256__.npy", "t0.npy", "t1.npy"]
        assert sorted(archive.namelist()) == expected


def test_map_location(tmp_path: Path) -> None:
    t = md(np.ones(3, np.float32))
    assert roundtrip(t, tmp_path).device == DEVICE
    assert roundtrip(t, tmp_path, map_location="cpu").device == "cpu"
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        roundtrip(t, tmp_path, map_location="tpu")


def test_str_path_and_overwrite(tmp_path: Path) -> None:
    path = str(tmp_path / "x.npz")
    save({"v": 1}, path)
    save({"v": 2}, path)
    assert load(path) == {"v": 2}
    assert os.listdir(tmp_path) == ["x.npz"]  # no temporary files left behind


def test_unsupported_type_is_named_with_its_place(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"type set at obj\['state'\]\[1\]"):
        save({"state": [1, {2}]}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="float32 at obj"):
        save({"state": np.float32(1)}, tmp_path / "x.npz")


# ---------------------------------------------------------------------------- checkpoints
def make_model() -> nn.Module:
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 2))
    return model.to(DEVICE)


def train(model: nn.Module, optimizer: Any, steps: int) -> None:
    for i in range(steps):
        x = md(rng(10 + i).standard_normal((16, 4)).astype(np.float32))
        optimizer.zero_grad()
        (model(x) ** 2).mean().backward()
        optimizer.step()


def test_checkpoint_resumes_training_exactly(tmp_path: Path) -> None:
    """model + optimizer + epoch + RNG state: a resumed run equals an uninterrupted one."""
    minidl.manual_seed(0)
    model = make_model()
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    train(model, optimizer, 3)
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3,
                  "rng": minidl.get_rng_state()}
    save(checkpoint, tmp_path / "ckpt.npz")
    train(model, optimizer, 3)  # the uninterrupted run (dropout draws from the RNG)

    minidl.manual_seed(123)
    resumed = make_model()
    resumed_optimizer = optim.Adam(resumed.parameters(), lr=0.01)
    loaded = load(tmp_path / "ckpt.npz")
    resumed.load_state_dict(loaded["model"])
    resumed_optimizer.load_state_dict(loaded["optimizer"])
    minidl.set_rng_state(loaded["rng"])
    assert loaded["epoch"] == 3 and list(loaded["model"]) == list(model.state_dict())
    train(resumed, resumed_optimizer, 3)
    for (name, a), b in zip(model.state_dict().items(), resumed.state_dict().values()):
        assert np.array_equal(to_np(a), to_np(b)), name


# ------------------------------------------------------------------------ damaged and foreign
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "ckpt.npz"
    save({"w": md(np.arange(12.0).reshape(3, 4)), "n": 5}, path)
    return path


def member_span(path: Path, name: str) -> tuple[int, int]:
    """(start, end) byte offsets of a zip member's stored data."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    with open(path, "rb") as file:
        file.seek(info.header_offset + 26)
        name_length, extra_length = np.frombuffer(file.read(4), "<u2")
    start = info.header_offset + 30 + int(name_length) + int(extra_length)
    return start, start + info.compress_size


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def rewrite(path: Path, **changes: np.ndarray) -> None:
    """Rewrite the archive with some entries replaced (valid zip CRCs: only our checksums can tell)."""
    with np.load(path, allow_pickle=False) as archive:
        entries = {name: archive[name] for name in archive.files}
    np.savez(path, **{**entries, **changes})


@pytest.mark.parametrize("entry", ["t0", "__structure__"])
def test_changed_byte_is_detected(entry: str, tmp_path: Path) -> None:
    path = saved(tmp_path)
    start, end = member_span(path, f"{entry}.npy")
    flip_byte(path, end - 3)
    with pytest.raises(SerializationError, match=rf"{path}.*'{entry}'"):
        load(path)


def test_changed_array_with_valid_zip_fails_its_checksum(tmp_path: Path) -> None:
    path = saved(tmp_path)
    rewrite(path, t0=np.arange(12.0).reshape(3, 4) + 1)
    with pytest.raises(SerializationError, match="entry 't0' fails its sha256 checksum"):
        load(path)
    rewrite(path, t0=np.arange(12.0))
    with pytest.raises(SerializationError, match=r"entry 't0' holds a float64 array of shape \(12,\)"):
        load(path)


def test_changed_json_with_valid_zip_fails_its_checksum(tmp_path: Path) -> None:
    path = saved(tmp_path)
    with np.load(path) as archive:
        structure = json.loads(archive["__structure__"].tobytes())
    assert structure["root"]["values"][1] == 5
    structure["root"]["values"][1] = 6
    rewrite(path, __structure__=np.frombuffer(json.dumps(structure).encode(), np.uint8))
    with pytest.raises(SerializationError, match="'__structure__' fails its sha256 checksum"):
        load(path)


@pytest.mark.parametrize("keep", [0.5, 0.9, 10])
def test_truncated_file(keep: float, tmp_path: Path) -> None:
    path = saved(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:keep if isinstance(keep, int) else int(len(data) * keep)])
    with pytest.raises(SerializationError, match=str(path)):
        load(path)


def test_foreign_files(tmp_path: Path) -> None:
    garbage, text, npy, npz = (tmp_path / n for n in ("garbage.bin", "notes.txt", "array.npy", "plain.npz"))
    garbage.write_bytes(rng(0).integers(0, 256, 1000, dtype=np.uint8).tobytes())
    text.write_text("just some text\n")
    np.save(npy, np.ones(3))
    np.savez(npz, a=np.ones(3))
    for path in (garbage, text, npy, npz):
        with pytest.raises(SerializationError, match=f"{path}.*not a minidl checkpoint"):
            load(path)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load(tmp_path / "missing.npz")


def test_object_array_is_refused_never_unpickled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An object array (which numpy would unpickle) in a crafted file is refused: allow_pickle=False."""
    path = saved(tmp_path)
    rewrite(path, t0=np.array([{"evil": 1}, None], dtype=object))
    with pytest.raises(SerializationError, match="entry 't0' holds Python objects .*minidl never unpickles"):
        load(path)
    calls: list[dict] = []
    real_load = np.load
    monkeypatch.setattr(serialization.numpy, "load", lambda *a, **k: calls.append(k) or real_load(*a, **k))
    load(saved(tmp_path))
    assert calls == [{"allow_pickle": False}]


# ---------------------------------------------------------------------------------- atomicity
def test_failed_save_leaves_previous_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = saved(tmp_path)
    before = path.read_bytes()

    def broken_savez(file: Any, **arrays: Any) -> None:
        file.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(serialization.numpy, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        save({"w": md(np.zeros(2))}, path)
    monkeypatch.undo()
    with pytest.raises(TypeError):
        save({"w": object()}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.npz"]
    assert load(path)["n"] == 5
