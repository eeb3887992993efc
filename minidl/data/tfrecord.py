"""Reader for the official AudioSet features release (TFRecord files of SequenceExamples), no TensorFlow.

**Framing** (TFRecord): each record is

    uint64 length | uint32 masked_crc32c(length bytes) | data[length] | uint32 masked_crc32c(data)

little-endian, with ``masked_crc(b) = (((c >> 15) | (c << 17)) + 0xA282EAD8) mod 2**32`` for
``c = crc32c(b)``.  Both checksums of every record are verified (``crc32c`` package); a mismatch
or a file that ends inside a record raises :class:`TFRecordError` naming the file and record.

**Payload**: a ``tensorflow.SequenceExample`` (parsed with ``protobuf``, from the message
definitions below; TensorFlow's ``example.proto`` restated) with

* context: ``video_id`` (bytes), ``start_time_seconds``, ``end_time_seconds`` (float),
  ``labels`` (int64 list of class indices);
* feature list ``audio_embedding``: one 128-byte string (128 uint8) per second of audio.

Clips are brought to exactly 10 frames (:func:`~minidl.data.clips.fix_frames`): shorter ones are
padded and counted in :attr:`TFRecordClips.padded`, longer ones truncated and counted in
:attr:`TFRecordClips.truncated`.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from minidl.data.clips import EMBEDDING_SIZE, Clips, fix_frames
from minidl.data.errors import DataFormatError, TFRecordError, missing_extra
from minidl.data.labels import NUM_CLASSES, NUM_FRAMES

_CRC_MASK_DELTA = 0xA282EAD8
_HEADER = struct.Struct("<QI")  # length, masked CRC of the length

# TensorFlow's example.proto (the messages minidl needs), as a FileDescriptorProto in text form.
_EXAMPLE_PROTO = """
name: "minidl_tensorflow_example.proto" package: "tensorflow" syntax: "proto3"
message_type { name: "BytesList"
  field { name: "value" number: 1 label: LABEL_REPEATED type: TYPE_BYTES } }
message_type { name: "FloatList"
  field { name: "value" number: 1 label: LABEL_REPEATED type: TYPE_FLOAT } }
message_type { name: "Int64List"
  field { name: "value" number: 1 label: LABEL_REPEATED type: TYPE_INT64 } }
message_type { name: "Feature"
  field { name: "bytes_list" number: 1 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".tensorflow.BytesList" oneof_index: 0 }
  field { name: "float_list" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".tensorflow.FloatList" oneof_index: 0 }
  field { name: "int64_list" number: 3 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".tensorflow.Int64List" oneof_index: 0 }
  oneof_decl { name: "kind" } }
message_type { name: "Features"
  field { name: "feature" number: 1 label: LABEL_REPEATED type: TYPE_MESSAGE
          type_name: ".tensorflow.Features.FeatureEntry" }
  nested_type { name: "FeatureEntry" options { map_entry: true }
    field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
    field { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".tensorflow.Feature" } } }
message_type { name: "FeatureList"
  field { name: "feature" number: 1 label: LABEL_REPEATED type: TYPE_MESSAGE type_name: ".tensorflow.Feature" } }
message_type { name: "FeatureLists"
  field { name: "feature_list" number: 1 label: LABEL_REPEATED type: TYPE_MESSAGE
          type_name: ".tensorflow.FeatureLists.FeatureListEntry" }
  nested_type { name: "FeatureListEntry" options { map_entry: true }
    field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
    field { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".tensorflow.FeatureList" } } }
message_type { name: "SequenceExample"
  field { name: "context" number: 1 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".tensorflow.Features" }
  field { name: "feature_lists" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".tensorflow.FeatureLists" } }
"""


@functools.cache
def sequence_example_class() -> Any:
    """The ``tensorflow.SequenceExample`` message class, built in a private descriptor pool.

    A private pool means no clash with other copies of ``example.proto`` (TensorFlow's, the
    ``tfrecord`` package's) loaded in the same process.
    """
    try:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format
    except ImportError:
        raise missing_extra("protobuf") from None
    file_proto = text_format.Parse(_EXAMPLE_PROTO, descriptor_pb2.FileDescriptorProto())
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.SequenceExample"))


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC32C of ``data`` (see the module docstring)."""
    try:
        import crc32c
    except ImportError:
        raise missing_extra("crc32c") from None
    crc = crc32c.crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _CRC_MASK_DELTA) & 0xFFFFFFFF


def iter_records(path: str | Path) -> Iterator[bytes]:
    """Yield the payload of each record of one TFRecord file, checking both CRCs of every record."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        for record in itertools.count():
            offset = f.tell()
            header = f.read(_HEADER.size)
            if not header:
                return
            where = f"{path}: record {record} (byte offset {offset})"
            if len(header) < _HEADER.size:
                raise TFRecordError(f"{where}: file ends inside the record header "
                                    f"({len(header)} of {_HEADER.size} bytes)")
            length, length_crc = _HEADER.unpack(header)
            _check_crc(header[:8], length_crc, f"{where}: length field")
            left = size - f.tell()
            if length + 4 > left:  # checked before reading: a corrupt length must not allocate
                raise TFRecordError(f"{where}: file ends inside the record (the record declares "
                                    f"{length + 4:,} bytes of data and CRC, {left:,} are left)")
            body = f.read(length + 4)
            data = body[:length]
            _check_crc(data, int.from_bytes(body[length:], "little"), f"{where}: data")
            yield data


def _check_crc(data: bytes, stored: int, where: str) -> None:
    computed = masked_crc32c(data)
    if computed != stored:
        raise TFRecordError(f"{where}: masked CRC32C mismatch (stored {stored:#010x}, computed {computed:#010x})")


class Clip(NamedTuple):
    """One parsed SequenceExample: ``frames`` (n, 128) uint8 as stored (not yet padded), ``labels`` (k,) int64."""

    video_id: str
    start_seconds: float
    end_seconds: float
    labels: np.ndarray
    frames: np.ndarray


def parse_clip(data: bytes, where: str = "record") -> Clip:
    """Decode one AudioSet ``SequenceExample``; errors name ``where`` and the field at fault."""
    message = sequence_example_class()
    try:
        example = message.FromString(data)
    except Exception as err:  # noqa: BLE001 - protobuf's DecodeError differs between backends
        raise TFRecordError(f"{where}: not a valid SequenceExample ({err})") from None
    context = example.context.feature
    for key, kind in (("video_id", "bytes_list"), ("start_time_seconds", "float_list"),
                      ("end_time_seconds", "float_list"), ("labels", "int64_list")):
        if key not in context or context[key].WhichOneof("kind") != kind:
            raise TFRecordError(f"{where}: context feature {key!r} is missing or not a {kind}")
    labels = np.array(context["labels"].int64_list.value, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise TFRecordError(f"{where}: context 'labels' has class indices outside [0, {NUM_CLASSES}): "
                            f"{labels[(labels < 0) | (labels >= NUM_CLASSES)].tolist()}")
    start, end = (_single(context, key, "float_list", where) for key in ("start_time_seconds", "end_time_seconds"))
    if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
        raise TFRecordError(f"{where}: context times start_time_seconds={start!r}, end_time_seconds={end!r} "
                            "are not a segment (finite, 0 <= start < end)")
    return Clip(_video_id(context, where), start, end, labels, _frames(example, where))


def _single(context: Any, key: str, kind: str, where: str) -> Any:
    """The one value of context feature ``key`` (a ``kind``), else a TFRecordError naming it."""
    values = getattr(context[key], kind).value
    if len(values) != 1:
        raise TFRecordError(f"{where}: context feature {key!r} should hold one value, it holds {len(values)}")
    return values[0]


def _video_id(context: Any, where: str) -> str:
    """The clip's ``video_id``: non-empty UTF-8 text."""
    raw = _single(context, "video_id", "bytes_list", where)
    try:
        video_id = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise TFRecordError(f"{where}: context 'video_id' is not UTF-8 text ({raw[:32]!r}: {err.reason} "
                            f"at byte {err.start})") from None
    if not video_id.strip():
        raise TFRecordError(f"{where}: context 'video_id' is empty ({raw!r})")
    return video_id


def _frames(example: Any, where: str) -> np.ndarray:
    """(n, 128) uint8 from the ``audio_embedding`` feature list (one 128-byte string per frame)."""
    lists = example.feature_lists.feature_list
    if "audio_embedding" not in lists:
        raise TFRecordError(f"{where}: feature list 'audio_embedding' is missing")
    frames = [feature.bytes_list.value[0] if feature.bytes_list.value else b""
              for feature in lists["audio_embedding"].feature]
    bad = [(k, len(frame)) for k, frame in enumerate(frames) if len(frame) != EMBEDDING_SIZE]
    if bad:
        raise TFRecordError(f"{where}: 'audio_embedding' frames (index, bytes) {bad[:5]} are not "
                            f"{EMBEDDING_SIZE} bytes long")
    return np.frombuffer(b"".join(frames), dtype=np.uint8).reshape(len(frames), EMBEDDING_SIZE)


class TFRecordClips:
    """Stream the clips of one split folder of the release (``bal_train/``, ``eval/`` or ``unbal_train/``).

    Reads the ``*.tfrecord`` files in name order, one record at a time (memory does not grow
    with the split).  After a full pass, :attr:`clips`, :attr:`padded` (fewer than 10 frames) and
    :attr:`truncated` (more than 10 frames) hold that pass's counts.
    """

    synthetic = False

    def __init__(self, folder: str | Path, pad_value: int = 128) -> None:
        folder = Path(folder)
        if not folder.is_dir():
            raise DataFormatError(f"{folder}: not a folder of .tfrecord files")
        self.files = sorted(folder.glob("*.tfrecord"))
        if not self.files:
            raise DataFormatError(f"{folder}: no *.tfrecord files in this folder")
        self.name = str(folder)
        self.pad_value = pad_value
        self.clips = self.padded = self.truncated = 0

    def __iter__(self) -> Iterator[Clip]:
        """Every clip, as stored (frames not yet padded or truncated)."""
        self.clips = self.padded = self.truncated = 0
        for path in self.files:
            for record, data in enumerate(iter_records(path)):
                clip = parse_clip(data, f"{path}: record {record}")
                self.clips += 1
                self.padded += len(clip.frames) < NUM_FRAMES
                self.truncated += len(clip.frames) > NUM_FRAMES
                yield clip

    def chunks(self, size: int) -> Iterator[Clips]:
        """The split as :class:`Clips` of at most ``size`` clips, frames fixed to 10."""
        batch: list[Clip] = []
        for clip in self:
            batch.append(clip)
            if len(batch) == size:
                yield self._to_clips(batch)
                batch = []
        if batch:
            yield self._to_clips(batch)

    def _to_clips(self, batch: list[Clip]) -> Clips:
        x = np.stack([fix_frames(clip.frames, self.pad_value) for clip in batch])
        y = np.zeros((len(batch), NUM_CLASSES), dtype=bool)
        for row, clip in enumerate(batch):
            y[row, clip.labels] = True
        n_frames = np.array([min(len(clip.frames), NUM_FRAMES) for clip in batch], dtype=np.uint8)
        ids = np.array([clip.video_id for clip in batch])
        return Clips(x, y, ids, n_frames, synthetic=False, name=self.name)
