"""The error net (issue 11): bad checkpoints, data files and command lines give one clear error.

Each test makes the call a user would make with a damaged or malformed input, and checks that
the error is minidl's own (``SerializationError``, a ``minidl.data`` error, one CLI line) and
names the file and the field at fault -- never a raw NumPy/h5py/zipfile error, never a silent
wrong answer.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import minidl
from minidl import backend
from minidl.serialization import SerializationError, load, save


# ------------------------------------------------------------------------------ checkpoints
def checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "ckpt.npz"
    save({"w": minidl.tensor(np.arange(12.0).reshape(3, 4)), "n": 5}, path)
    return path


def replace_entries(path: Path, **entries: bytes) -> None:
    """Rewrite the checkpoint's zip with some members' bytes replaced (valid zip CRCs)."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members.update({f"{name}.npy": data for name, data in entries.items()})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def structure_entries(text: bytes) -> dict[str, bytes]:
    """The structure JSON and its (valid) checksum, as replacement entries."""
    digest = hashlib.sha256(text).hexdigest().encode("ascii")
    return {"__structure__": npy_bytes(np.frombuffer(text, np.uint8)),
            "__structure_sha256__": npy_bytes(np.frombuffer(digest, np.uint8))}


def patch_central_directory(path: Path, member: str, offset: int, value: int) -> None:
    """Set one 16-bit field (``offset`` bytes into the member's central-directory record)."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    start = 0
    while True:
        start = data.index(b"PK\x01\x02", start)
        name_length = int.from_bytes(data[start + 28:start + 30], "little")
        if data[start + 46:start + 46 + name_length] == name:
            break
        start += 4
    data[start + offset:start + offset + 2] = value.to_bytes(2, "little")
    path.write_bytes(bytes(data))


def test_checkpoint_entry_marked_encrypted(tmp_path: Path) -> None:
    path = checkpoint(tmp_path)
    patch_central_directory(path, "t0.npy", 8, 0x0001)  # general-purpose flag bit 0: encrypted
    with pytest.raises(SerializationError, match=rf"{path}: entry 't0' is marked encrypted"):
        load(path)


@pytest.mark.parametrize("method", [8, 12, 14, 99])  # deflate, bzip2, lzma, unknown
def test_checkpoint_entry_with_another_compression_method(tmp_path: Path, method: int) -> None:
    path = checkpoint(tmp_path)
    patch_central_directory(path, "t0.npy", 10, method)
    with pytest.raises(SerializationError, match=rf"{path}: entry 't0' uses zip compression method {method}"):
        load(path)


def test_checkpoint_json_nested_100000_levels(tmp_path: Path) -> None:
    path = checkpoint(tmp_path)
    text = b'{"format": "minidl", "version": 1, "root": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    replace_entries(path, **structure_entries(text))
    with pytest.raises(SerializationError, match=rf"{path}: entry '__structure__' nests its JSON too deeply"):
        load(path)


def test_checkpoint_npy_header_declaring_2_to_the_50_elements(tmp_path: Path) -> None:
    path = checkpoint(tmp_path)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (2**50,)})
    replace_entries(path, t0=header.getvalue() + np.arange(12.0).tobytes())
    with pytest.raises(SerializationError, match=rf"{path}: entry 't0' declares a float64 array of shape "
                                                 r"\(1125899906842624,\) \(9,007,199,254,740,992 bytes\), but "
                                                 "holds 96 bytes of data"):
        load(path)


def test_checkpoint_object_array_in_npz(tmp_path: Path) -> None:
    path = checkpoint(tmp_path)
    replace_entries(path, t0=npy_bytes(np.array([{"evil": 1}, None], dtype=object)))
    with pytest.raises(SerializationError, match=rf"{path}: entry 't0' holds Python objects") as info:
        load(path)
    assert "allow_pickle" not in str(info.value)


def test_text_file_named_npz(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    path.write_text("weights: 1 2 3\n")
    with pytest.raises(SerializationError, match=rf"{path}: not a minidl checkpoint") as info:
        load(path)
    assert "pickle" not in str(info.value)


@pytest.mark.skipif(backend.cuda_available(), reason="needs a machine without CUDA")
def test_cuda_checkpoint_without_a_gpu_says_map_location(tmp_path: Path) -> None:
    path = checkpoint(tmp_path)
    with zipfile.ZipFile(path) as archive:
        structure = json.loads(np.load(io.BytesIO(archive.read("__structure__.npy"))).tobytes())
    structure["root"]["values"][0]["device"] = "cuda"
    replace_entries(path, **structure_entries(json.dumps(structure).encode()))
    with pytest.raises(SerializationError, match=rf"{path}: entry 't0' was saved from a CUDA device.*"
                                                 r"map_location='cpu'"):
        load(path)
    assert load(path, map_location="cpu")["w"].device == "cpu"


def test_checkpoint_zip_directory_declaring_a_huge_entry(tmp_path: Path) -> None:
    path = checkpoint(tmp_path)
    data = bytearray(path.read_bytes())
    start = data.index(b"PK\x01\x02")  # the first member's central-directory record
    data[start + 20:start + 28] = (2**31).to_bytes(4, "little") * 2  # compressed and uncompressed sizes
    path.write_bytes(bytes(data))
    with pytest.raises(SerializationError, match=rf"{path}: entry '.*' declares 2,147,483,648 bytes"):
        load(path)


# ------------------------------------------------------------------------------- TFRecords
def write_records(path: Path, clips: list[dict]) -> Path:
    """One .tfrecord file of SequenceExamples (written by the independent ``tfrecord`` package)."""
    from tfrecord.writer import TFRecordWriter

    writer = TFRecordWriter(str(path))
    for clip in clips:
        writer.write({"video_id": (clip.get("video_id", b"vid"), "byte"),
                      "start_time_seconds": (clip.get("start", 0.0), "float"),
                      "end_time_seconds": (clip.get("end", 10.0), "float"), "labels": ([1], "int")},
                     {"audio_embedding": ([bytes(128)] * 10, "byte")})
    writer.close()
    return path


def test_split_of_empty_tfrecord_files_does_not_convert(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from minidl.cli.main import main
    from minidl.data.convert import convert
    from minidl.data.errors import DataFormatError

    folder = tmp_path / "bal_train"
    folder.mkdir()
    (folder / "a.tfrecord").write_bytes(b"")
    (folder / "b.tfrecord").write_bytes(b"")
    for target in ("bal_train.h5", "bal_train.npz"):
        with pytest.raises(DataFormatError, match=rf"{folder}: the .tfrecord files hold no records"):
            convert(folder, tmp_path / target, progress=False)
    assert main(["data", "convert", str(folder), str(tmp_path / "out.h5")]) == 2
    assert "hold no records" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.h5")) and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize(("video_id", "message"), [
    (b"", r"context 'video_id' is empty"),
    (b"\xff\xfeid", r"context 'video_id' is not UTF-8 text"),
])
def test_malformed_video_id_is_the_readers_error(tmp_path: Path, video_id: bytes, message: str) -> None:
    from minidl.data.errors import TFRecordError
    from minidl.data.tfrecord import TFRecordClips

    path = write_records(tmp_path / "a.tfrecord", [{}, {"video_id": video_id}])
    with pytest.raises(TFRecordError, match=rf"{path}: record 1: {message}"):
        list(TFRecordClips(tmp_path))


@pytest.mark.parametrize(("start", "end"), [(float("nan"), 10.0), (5.0, 2.0), (0.0, float("inf"))])
def test_tfrecord_segment_times_that_are_not_a_segment(tmp_path: Path, start: float, end: float) -> None:
    from minidl.data.errors import TFRecordError
    from minidl.data.tfrecord import TFRecordClips

    path = write_records(tmp_path / "a.tfrecord", [{"start": start, "end": end}])
    with pytest.raises(TFRecordError, match=rf"{path}: record 0: context times start_time_seconds="):
        list(TFRecordClips(tmp_path))


def test_tfrecord_declaring_2_to_the_62_bytes_is_refused_before_reading(tmp_path: Path) -> None:
    from minidl.data.errors import TFRecordError
    from minidl.data.tfrecord import TFRecordClips, masked_crc32c

    path = write_records(tmp_path / "a.tfrecord", [{}])
    length = (2**62).to_bytes(8, "little")  # a CRC-valid length field
    with open(path, "ab") as f:
        f.write(length + masked_crc32c(length).to_bytes(4, "little") + b"tiny")
    with pytest.raises(TFRecordError, match=rf"{path}: record 1 .*file ends inside the record \(the record "
                                            r"declares 4,611,686,018,427,387,908 bytes of data and CRC, 4 are left\)"):
        list(TFRecordClips(tmp_path))


# ------------------------------------------------------------------------------ label files
SEGMENTS_HEADER = ("# Segments csv created Sun Mar  5 10:54:31 2017\n"
                   "# YTID, start_seconds, end_seconds, positive_labels\n")


@pytest.mark.parametrize(("times", "message"), [
    ("nan, 10.0", "start_seconds='nan', end_seconds='10.0' is not a segment"),
    ("0.0, nan", "start_seconds='0.0', end_seconds='nan' is not a segment"),
    ("30.0, 20.0", "start_seconds='30.0', end_seconds='20.0' is not a segment"),
    ("5.0, 5.0", "start_seconds='5.0', end_seconds='5.0' is not a segment"),
])
def test_segment_times_are_checked_with_file_and_row(tmp_path: Path, times: str, message: str) -> None:
    from minidl.data.errors import LabelFileError
    from minidl.data.labels import read_segments

    path = tmp_path / "seg.csv"
    path.write_text(SEGMENTS_HEADER + 'ok, 0.0, 10.0, "/m/09x0r"\n' + f'bad, {times}, "/m/09x0r"\n')
    with pytest.raises(LabelFileError, match=rf"{path}:4: {message}"):
        read_segments(path)


def test_non_utf8_label_files_name_the_file(tmp_path: Path) -> None:
    from minidl.data.errors import LabelFileError
    from minidl.data.labels import read_class_labels, read_segments

    segments, classes = tmp_path / "seg.csv", tmp_path / "class_labels_indices.csv"
    segments.write_bytes(SEGMENTS_HEADER.encode() + b'caf\xe9, 0.0, 10.0, "/m/09x0r"\n')
    classes.write_bytes("index,mid,display_name\n0,/m/09x0r,Sp\xe9ech\n".encode("latin-1"))
    with pytest.raises(LabelFileError, match=rf"{segments}:3: not UTF-8 text \(byte 103: b.\\xe9, 0."):
        read_segments(segments)
    with pytest.raises(LabelFileError, match=rf"{classes}:2: not UTF-8 text"):
        read_class_labels(classes)


# ---------------------------------------------------------------------------- HDF5 and splits
def h5_split(tmp_path: Path, n: int = 600) -> Path:
    from minidl.data.clips import Clips
    from minidl.data.hdf5 import write_h5

    rng = np.random.default_rng(0)
    clips = Clips(rng.integers(0, 256, (n, 10, 128), dtype=np.uint8), rng.random((n, 527)) < 0.01,
                  np.array([f"id{i:05d}" for i in range(n)]), np.full(n, 10, np.uint8))
    path = tmp_path / "split.h5"
    write_h5(path, clips.chunks(n))
    return path


def damage(path: Path, offset: int, length: int = 8) -> None:
    data = bytearray(path.read_bytes())
    data[offset:offset + length] = b"\xa5" * length
    path.write_bytes(bytes(data))


def test_hdf5_with_a_damaged_group_index(tmp_path: Path) -> None:
    from minidl.data.errors import LayoutError
    from minidl.data.hdf5 import H5Clips

    path = h5_split(tmp_path)
    damage(path, path.read_bytes().index(b"SNOD"))  # the root group's symbol table (RuntimeError raw)
    with pytest.raises(LayoutError, match=rf"{path}: the file's index is unreadable, the HDF5 file is damaged"):
        H5Clips(path)


def test_hdf5_with_a_damaged_dataset_header(tmp_path: Path) -> None:
    import h5py

    from minidl.data.errors import LayoutError
    from minidl.data.hdf5 import H5Clips

    path = h5_split(tmp_path)
    with h5py.File(path) as f:
        address = h5py.h5o.get_info(f["x"].id).addr
    damage(path, address)  # x's object header (KeyError raw)
    with pytest.raises(LayoutError, match=rf"{path}: dataset 'x' is unreadable, the HDF5 file is damaged"):
        H5Clips(path)


def test_hdf5_with_damaged_chunk_indexes(tmp_path: Path) -> None:
    from minidl.data.errors import LayoutError
    from minidl.data.hdf5 import H5Clips

    path = h5_split(tmp_path)
    data = path.read_bytes()
    for start in range(len(data) - 6):
        if data[start:start + 5] == b"TREE\x01":  # the B-trees that index the datasets' chunks (OSError raw)
            damage(path, start, 4)
    with H5Clips(path) as split, pytest.raises(LayoutError, match=rf"{path}: dataset '\w+' is unreadable"):
        split.take(np.arange(10))


def test_hdf5_with_a_group_where_a_dataset_belongs(tmp_path: Path) -> None:
    import h5py

    from minidl.data.errors import LayoutError
    from minidl.data.hdf5 import H5Clips

    path = tmp_path / "odd.h5"
    with h5py.File(path, "w") as f:
        f.create_group("x")
        f["y"] = np.zeros((2, 527), bool)
        f["video_id_list"] = np.array([b"a", b"b"])
    with pytest.raises(LayoutError, match=rf"{path}: 'x' is a Group, not a dataset"):
        H5Clips(path)


def test_hdf5_n_frames_shorter_than_x(tmp_path: Path) -> None:
    import h5py

    from minidl.data.errors import LayoutError
    from minidl.data.hdf5 import H5Clips

    path = h5_split(tmp_path, n=20)
    with h5py.File(path, "a") as f:
        del f["n_frames"]
        f["n_frames"] = np.full(5, 10, np.uint8)
    with pytest.raises(LayoutError, match=rf"{path}: 'n_frames' is \(5,\) uint8, expected \(20,\) integers"):
        H5Clips(path)


def test_hdf5_video_ids_that_are_not_text(tmp_path: Path) -> None:
    import h5py

    from minidl.data.errors import LayoutError
    from minidl.data.hdf5 import H5Clips

    path = h5_split(tmp_path, n=20)
    with h5py.File(path, "a") as f:
        f["video_id_list"][3] = b"\xff\xfe"
    with H5Clips(path) as split, pytest.raises(LayoutError, match=rf"{path}: dataset 'video_id_list' is unreadable"):
        split.take(np.arange(5))


def test_standardizer_fit_on_an_empty_split() -> None:
    from minidl.data.clips import Clips
    from minidl.data.loader import Standardizer

    empty = Clips(np.zeros((0, 10, 128), np.uint8), np.zeros((0, 527), bool), np.array([], str), name="empty")
    with pytest.raises(ValueError, match="Standardizer.fit: empty holds no clips"):
        Standardizer.fit(empty)


@pytest.mark.parametrize("batch_size", [2.5, 0, True, "4"])
def test_dataloader_batch_size_is_checked_at_construction(batch_size: object) -> None:
    import torch.utils.data

    from minidl.data.clips import Clips
    from minidl.data.loader import DataLoader

    clips = Clips(np.zeros((4, 10, 128), np.uint8), np.zeros((4, 527), bool), np.array(list("abcd")))
    with pytest.raises(ValueError) as expected:
        torch.utils.data.DataLoader(range(4), batch_size=batch_size)
    with pytest.raises(ValueError) as got:
        DataLoader(clips, batch_size=batch_size)
    assert str(got.value) == f"DataLoader: {expected.value}"


# ---------------------------------------------------------------------------------- the CLI
@pytest.mark.parametrize(("argv", "message"), [
    (["data", "convert", "SRC", "DST.h5", "--chunk", "0"], "argument --chunk: must be at least 1, got 0"),
    (["data", "stats", "builtin:eval", "--top", "-3"], "argument --top: must be at least 0, got -3"),
])
def test_cli_refuses_counts_out_of_range(argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    from minidl.cli.main import main

    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("spec", ["builtin:big:-5", "builtin:big:0", "builtin:big:ten", "builtin:big:5:6"])
def test_cli_refuses_a_big_split_of_no_clips_and_caches_nothing(spec: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture) -> None:
    from minidl.cli.main import main
    from minidl.data.standin import builtin

    monkeypatch.setenv("MINIDL_CACHE", str(tmp_path))
    assert main(["data", "stats", spec]) == 2
    assert f"minidl: error: built-in split {spec!r}: N in builtin:big:N must be a positive" in capsys.readouterr().err
    with pytest.raises(ValueError, match="builtin: the big split needs a positive whole number of clips, got size=-5"):
        builtin("big", size=-5)
    assert not any(tmp_path.rglob("*.h5"))


def test_convert_refuses_chunk_0(tmp_path: Path) -> None:
    from minidl.data.convert import convert

    with pytest.raises(ValueError, match="convert: chunk must be a positive number of clips, got 0"):
        convert(tmp_path, tmp_path / "x.h5", chunk=0)


def data_folder(tmp_path: Path) -> Path:
    """A --data folder with small bal_train.h5 and eval.h5 splits."""
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("bal_train", "eval"):
        h5_split(tmp_path).rename(folder / f"{name}.h5")
    return folder


def one_error_line(capsys: pytest.CaptureFixture) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("minidl: error: "), captured.err
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


def test_cli_eval_of_a_corrupted_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from minidl.cli.main import main

    path = checkpoint(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert main(["eval", str(path), "--data", str(data_folder(tmp_path))]) == 2
    assert str(path) in one_error_line(capsys)


def test_cli_with_a_damaged_h5_in_data(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from minidl.cli.main import main

    folder = data_folder(tmp_path)
    damage(folder / "eval.h5", (folder / "eval.h5").read_bytes().index(b"SNOD"))
    assert main(["eval", str(checkpoint(tmp_path)), "--data", str(folder)]) == 2
    assert f"{folder / 'eval.h5'}: the file's index is unreadable" in one_error_line(capsys)


def test_cli_with_a_spec_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from minidl.cli.main import main

    assert main(["train", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "run")]) == 2
    assert f"{tmp_path / 'nope.toml'}: no such description file" in one_error_line(capsys)


def test_cli_turns_an_unexpected_exception_into_one_line(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture) -> None:
    from minidl.cli import data as data_cli
    from minidl.cli.main import main

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("Unable to open object\n(a multi-line library message)")

    monkeypatch.setattr(data_cli, "open_split", broken)
    assert main(["data", "stats", "some.h5"]) == 2
    line = one_error_line(capsys)
    assert line.startswith("minidl: error: RuntimeError: Unable to open object (a multi-line library message)")
    assert "(raised at test_error_net.py:" in line


# ------------------------------------------------------------------------------- construction
@pytest.mark.parametrize("data", [[[1.0, 2.0], [3.0]], [[[1.0], [2.0]], [[3.0], [4.0, 5.0]]],
                                  [[1.0, 2.0], 3.0], [1.0, [2.0]]])
def test_ragged_lists_give_pytorchs_error(data: list) -> None:
    import torch

    with pytest.raises((ValueError, TypeError)) as expected:
        torch.tensor(data)
    with pytest.raises(type(expected.value)) as got:
        minidl.tensor(data)
    if isinstance(expected.value, ValueError):  # the same words: "expected sequence of length 2 at dim 1 (got 1)"
        assert str(got.value) == f"tensor: {expected.value}"


# ------------------------------------------------------------------------------ .npz splits
def test_text_file_named_npz_as_a_split(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from minidl.cli.main import main
    from minidl.data.errors import LayoutError
    from minidl.data.sources import open_split

    path = tmp_path / "eval.npz"
    path.write_text("x,y\n1,2\n")
    with pytest.raises(LayoutError, match=rf"{path}: not an .npz file") as info:
        open_split(path)
    assert "pickle" not in str(info.value)
    assert main(["data", "stats", str(path)]) == 2
    assert "pickle" not in one_error_line(capsys)


def test_object_array_in_an_npz_split(tmp_path: Path) -> None:
    from minidl.data.errors import LayoutError
    from minidl.data.sources import open_split

    path = tmp_path / "eval.npz"
    np.savez(path, x=np.zeros((2, 10, 128), np.uint8), y=np.zeros((2, 527), bool),
             video_id_list=np.array(["a", {"evil": 1}], dtype=object))
    with pytest.raises(LayoutError, match=rf"{path}: entry 'video_id_list' holds Python objects") as info:
        open_split(path)
    assert "allow_pickle" not in str(info.value)


def test_compressed_npz_split_still_loads(tmp_path: Path) -> None:
    from minidl.data.sources import open_split

    path = tmp_path / "eval.npz"
    np.savez_compressed(path, x=np.zeros((2, 10, 128), np.uint8), y=np.zeros((2, 527), bool),
                        video_id_list=np.array(["a", "b"]))
    assert len(open_split(path)) == 2
