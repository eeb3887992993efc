"""The TFRecord reader, against files written by an independent writer (the ``tfrecord`` package)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tfrecord.writer import TFRecordWriter

from minidl.cli.main import main
from minidl.data.convert import convert
from minidl.data.errors import DataFormatError, TFRecordError
from minidl.data.hdf5 import H5Clips
from minidl.data.tfrecord import TFRecordClips, iter_records, masked_crc32c, parse_clip

FRAMES = [10, 10, 7, 12, 10, 1]  # one short clip, one too long, one with a single frame


def make_clips(seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"video_id": f"vid{seed}_{i:03d}", "start": 10.0 * i, "end": 10.0 * i + min(n, 10),
             "labels": sorted(rng.choice(527, size=rng.integers(1, 4), replace=False).tolist()),
             "frames": rng.integers(0, 256, (n, 128), dtype=np.uint8)} for i, n in enumerate(FRAMES)]


def write_tfrecord(path: Path, clips: list[dict]) -> Path:
    writer = TFRecordWriter(str(path))
    for clip in clips:
        writer.write({"video_id": (clip["video_id"].encode(), "byte"),
                      "start_time_seconds": (clip["start"], "float"),
                      "end_time_seconds": (clip["end"], "float"),
                      "labels": (clip["labels"], "int")},
                     {"audio_embedding": ([frame.tobytes() for frame in clip["frames"]], "byte")})
    writer.close()
    return path


@pytest.fixture
def split(tmp_path) -> tuple[Path, list[dict]]:
    folder = tmp_path / "bal_train"
    folder.mkdir()
    first, second = make_clips(0), make_clips(1)
    write_tfrecord(folder / "a.tfrecord", first)
    write_tfrecord(folder / "b.tfrecord", second)
    return folder, first + second


def test_records_read_back_exactly(split):
    folder, expected = split
    reader = TFRecordClips(folder)
    clips = list(reader)
    assert len(clips) == len(expected)
    for got, want in zip(clips, expected, strict=True):
        assert got.video_id == want["video_id"]
        assert got.labels.tolist() == want["labels"]
        assert (got.start_seconds, got.end_seconds) == (want["start"], want["end"])
        np.testing.assert_array_equal(got.frames, want["frames"])
    assert (reader.clips, reader.padded, reader.truncated) == (12, 4, 2)


def test_chunks_pad_truncate_and_encode_labels(split):
    folder, expected = split
    chunks = list(TFRecordClips(folder, pad_value=128).chunks(5))
    assert [len(c) for c in chunks] == [5, 5, 2]
    x = np.concatenate([c.x for c in chunks])
    y = np.concatenate([c.y for c in chunks])
    n_frames = np.concatenate([c.n_frames for c in chunks])
    assert x.shape == (12, 10, 128) and x.dtype == np.uint8 and y.shape == (12, 527) and y.dtype == bool
    np.testing.assert_array_equal(x[2, :7], expected[2]["frames"])
    assert (x[2, 7:] == 128).all() and (x[5, 1:] == 128).all()
    np.testing.assert_array_equal(x[3], expected[3]["frames"][:10])
    assert n_frames.tolist() == [min(n, 10) for n in FRAMES] * 2
    assert [np.flatnonzero(row).tolist() for row in y] == [clip["labels"] for clip in expected]


def test_masked_crc_matches_the_independent_writer():
    data = np.random.default_rng(3).integers(0, 256, 1000, dtype=np.uint8).tobytes()
    assert masked_crc32c(data).to_bytes(4, "little") == TFRecordWriter.masked_crc(data)


def flip_byte(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))


def second_record_offset(path: Path) -> int:
    length = int.from_bytes(path.read_bytes()[:8], "little")
    return 8 + 4 + length + 4


def test_flipped_data_byte_names_file_and_record(split):
    path = split[0] / "a.tfrecord"
    start = second_record_offset(path)
    flip_byte(path, start + 12 + 40)
    with pytest.raises(TFRecordError, match=r"a\.tfrecord: record 1 .*data: masked CRC32C mismatch"):
        list(iter_records(path))


def test_flipped_length_byte_names_file_and_record(split):
    path = split[0] / "a.tfrecord"
    flip_byte(path, second_record_offset(path) + 2)
    with pytest.raises(TFRecordError, match=r"a\.tfrecord: record 1 .*length field: masked CRC32C mismatch"):
        list(TFRecordClips(split[0]))


@pytest.mark.parametrize("cut", [5, 100])
def test_truncated_file_names_file_and_record(split, cut):
    path = split[0] / "b.tfrecord"
    raw = path.read_bytes()
    path.write_bytes(raw[:len(raw) - cut])
    with pytest.raises(TFRecordError, match=r"b\.tfrecord: record 5 .*file ends inside the record"):
        list(TFRecordClips(split[0]))


def test_missing_features_are_named(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    writer = TFRecordWriter(str(folder / "x.tfrecord"))
    writer.write({"video_id": (b"v", "byte"), "start_time_seconds": (0.0, "float"),
                  "end_time_seconds": (10.0, "float"), "labels": ([1], "int")},
                 {"audio_embedding": ([b"\x00" * 100], "byte")})
    writer.write({"video_id": (b"v", "byte"), "labels": ([1], "int")}, {"audio_embedding": ([b"\x00" * 128], "byte")})
    writer.close()
    records = list(iter_records(folder / "x.tfrecord"))
    with pytest.raises(TFRecordError, match=r"rec0: 'audio_embedding' frames .*\(0, 100\)"):
        parse_clip(records[0], "rec0")
    with pytest.raises(TFRecordError, match="rec1: context feature 'start_time_seconds' is missing"):
        parse_clip(records[1], "rec1")
    with pytest.raises(TFRecordError, match="rec2: not a valid SequenceExample"):
        parse_clip(b"\xff\xff\xff", "rec2")


def test_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataFormatError, match="no \\*.tfrecord files"):
        TFRecordClips(tmp_path)
    with pytest.raises(DataFormatError, match="no \\*.tfrecord files and no split folders"):
        convert(tmp_path, tmp_path / "out")


def test_importing_the_reader_does_not_import_torch():
    code = "import sys, minidl.data.tfrecord as t; t.sequence_example_class(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("suffix", [".h5", ".npz"])
def test_convert_split_to_file(split, tmp_path, suffix):
    folder, expected = split
    done = convert(folder, tmp_path / f"out{suffix}", chunk=4, progress=False)
    assert [(d.clips, d.padded, d.truncated) for d in done] == [(12, 4, 2)]
    from minidl.data.sources import open_split

    source = open_split(done[0].path)
    whole = source.take(np.arange(12))
    assert whole.video_ids.tolist() == [clip["video_id"] for clip in expected]
    np.testing.assert_array_equal(whole.x[0], expected[0]["frames"])
    assert whole.n_frames.tolist() == [min(n, 10) for n in FRAMES] * 2
    assert not source.synthetic


def test_cli_convert_release_folder_then_stats(split, tmp_path, capsys):
    release = split[0].parent
    (release / "eval").mkdir()
    write_tfrecord(release / "eval" / "e.tfrecord", make_clips(7))
    out = tmp_path / "h5"
    assert main(["data", "convert", str(release), str(out)]) == 0
    printed = capsys.readouterr().out
    assert "bal_train.h5: 12 clips (4 padded to 10 frames, 2 truncated)" in printed
    assert "eval.h5: 6 clips" in printed
    with H5Clips(out / "eval.h5") as h5:
        assert len(h5) == 6
    assert main(["data", "stats", str(out / "bal_train.h5"), str(release / "eval")]) == 0
    printed = capsys.readouterr().out
    assert "clips:                 12" in printed and "short clips (<10 s):   4 (33.33%)" in printed
    assert "per clip; min 1, max 3)" in printed
    assert "truncated (>10 frames): 1" in printed  # reported for the TFRecord folder (eval)
    assert "SYNTHETIC" not in printed


def test_cli_reports_bad_input_in_one_line(tmp_path, capsys):
    assert main(["data", "convert", str(tmp_path), str(tmp_path / "x.h5")]) == 2
    assert "minidl: error:" in capsys.readouterr().err
