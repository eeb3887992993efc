"""Label files: the class list, segments CSVs, and the shipped real label sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from minidl.data.errors import LabelFileError
from minidl.data.labels import (
    LabelSets,
    builtin_classes,
    builtin_label_sets,
    read_class_labels,
    read_segments,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "audioset"
HEADER = "# Segments csv created Sun Mar  5 10:54:31 2017\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("split", "clips", "labels"), [("bal_train", 22160, 52882), ("eval", 20371, 51804)])
def test_shipped_label_sets_reproduce_the_official_counts(split, clips, labels):
    sets, n_frames = builtin_label_sets(split)
    assert len(sets) == clips and sets.total == labels
    assert len(n_frames) == clips and n_frames.dtype == np.uint8
    assert (sets.per_clip() >= 1).all() and sets.indices.max() < 527
    assert (sets.class_counts() >= 59).all()  # every class has at least 59 clips in both splits
    assert 0.01 < (n_frames < 10).mean() < 0.025  # the ~1.7% of clips shorter than 10 s
    if SHARED.is_dir():  # also identical, clip by clip, to the official CSV next to the repository
        name = "balanced_train_segments.csv" if split == "bal_train" else "eval_segments.csv"
        official = read_segments(SHARED / name)
        np.testing.assert_array_equal(official.labels.offsets, sets.offsets)
        np.testing.assert_array_equal(official.labels.indices, sets.indices)
        np.testing.assert_array_equal(official.n_frames(), n_frames)


def test_builtin_class_list():
    classes = builtin_classes()
    assert len(classes) == 527
    assert classes.names[0] == "Speech" and classes.names[137] == "Music"
    assert classes.index("/m/09x0r") == 0 and classes.mids[526] == "/m/07hvw1"
    assert classes.names[1] == "Male speech, man speaking"  # quoted field with a comma
    if SHARED.is_dir():
        assert read_class_labels(SHARED / "class_labels_indices.csv") == classes


def test_read_segments(tmp_path):
    path = write(tmp_path / "seg.csv", HEADER +
                 "# num_ytids=2, num_segs=2, num_unique_labels=3, num_positive_labels=3\n"
                 "# YTID, start_seconds, end_seconds, positive_labels\n"
                 '--PJHxphWEs, 30.000, 40.000, "/m/09x0r,/t/dd00088"\n'
                 'abcdefghijk, 0.000, 7.000, "/m/04rlf"\n')
    segments = read_segments(path)
    assert segments.ytids == ("--PJHxphWEs", "abcdefghijk")
    np.testing.assert_array_equal(segments.start_seconds, [30.0, 0.0])
    assert segments.labels[0].tolist() == [0, builtin_classes().index("/t/dd00088")]
    assert segments.labels[1].tolist() == [137]
    np.testing.assert_array_equal(segments.n_frames(), [10, 7])


@pytest.mark.parametrize(("line", "message"), [
    ('abc, 0.0, 10.0, "/m/09x0r,/m/nonsense"\n', "unknown label mid '/m/nonsense'"),
    ('abc, zero, 10.0, "/m/09x0r"\n', "field 'start_seconds' is not a number: 'zero'"),
    ('abc, 0.0, 10.0s, "/m/09x0r"\n', "field 'end_seconds' is not a number: '10.0s'"),
    ("abc, 0.0, 10.0\n", "expected 4 fields"),
])
def test_bad_segment_lines_name_the_file_line_and_value(tmp_path, line, message):
    path = write(tmp_path / "bad.csv", HEADER + 'ok, 0.0, 10.0, "/m/09x0r"\n' + line)
    with pytest.raises(LabelFileError, match="bad.csv:3") as err:
        read_segments(path)
    assert message in str(err.value)


def test_header_count_mismatch_is_an_error(tmp_path):
    path = write(tmp_path / "cut.csv", "# num_ytids=3, num_segs=3, num_positive_labels=3\n"
                 'a, 0.0, 10.0, "/m/09x0r"\n')
    with pytest.raises(LabelFileError, match="num_segs=3 but the file has 1"):
        read_segments(path)


@pytest.mark.parametrize(("text", "message"), [
    ("idx,mid,name\n0,/m/a,A\n", "line 1 should be 'index,mid,display_name'"),
    ("index,mid,display_name\n0,/m/a,A\n2,/m/b,B\n", "field 'index' should be 1, got '2'"),
    ("index,mid,display_name\n0,/m/a,A\n1,/m/a,B\n", "mid '/m/a' appears twice"),
    ("index,mid,display_name\n", "no classes"),
])
def test_bad_class_list(tmp_path, text, message):
    with pytest.raises(LabelFileError, match="classes.csv") as err:
        read_class_labels(write(tmp_path / "classes.csv", text))
    assert message in str(err.value)


def test_label_sets_dense_round_trip_and_take():
    sets = LabelSets.from_lists([[3, 1], [0], [2, 4, 1]], num_classes=5)
    dense = sets.to_dense()
    assert dense.tolist() == [[False, True, False, True, False], [True, False, False, False, False],
                              [False, True, True, False, True]]
    again = LabelSets.from_dense(dense)
    np.testing.assert_array_equal(again.to_dense(), dense)
    picked = sets.take(np.array([2, 0, 2]))
    assert [picked[i].tolist() for i in range(3)] == [[2, 4, 1], [3, 1], [2, 4, 1]]
    assert sets.class_counts().tolist() == [1, 2, 1, 1, 1]
