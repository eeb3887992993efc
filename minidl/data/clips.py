"""Clips in memory, the NPZ format, dequantisation and the frame-count policy.

A split is a sequence of clips; each clip has

* ``x``: (10, 128) uint8, ten one-second VGGish embeddings, quantised;
* ``y``: (527,) bool, the multi-hot labels;
* a video id and ``n_frames``, the number of frames the source really had (1..10; fewer than 10
  means the clip was padded, see :func:`fix_frames`).

:class:`Clips` holds N of them as arrays and is also what every reader yields chunk by chunk.
Anything with ``len()``, ``take(indices)``, ``chunks(size)``, ``synthetic`` and ``name`` (the
:class:`ClipSource` protocol: :class:`Clips`, :class:`minidl.data.hdf5.H5Clips`) can be fed
to :class:`minidl.data.loader.DataLoader`.
"""

from __future__ import annotations

import contextlib
import os
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from minidl.data.errors import LayoutError
from minidl.data.labels import NUM_CLASSES, NUM_FRAMES
from minidl.serialization import SerializationError, read_npz_array

EMBEDDING_SIZE = 128
SYNTHETIC_NOTE = ("SYNTHETIC FEATURES: minidl's built-in stand-in (real AudioSet labels, generated "
                  "embeddings); results are not comparable to real AudioSet numbers.")

# x = q * scale + offset, for uint8 q.  VGGish quantised with q = uint8((clip(e, -2, 2) + 2) * 255 / 4).
DEQUANTIZATIONS: dict[str, tuple[float, float]] = {
    "centered": (1 / 128, -1.0),   # (q - 128) / 128, in [-1, 0.992]: the usual choice
    "vggish": (4 / 255, -2.0),     # q * 4 / 255 - 2, in [-2, 2]: undoes VGGish's quantisation
    "youtube8m": (4 / 255, 4 / 512 - 2),  # q * 4/255 + (4/512 - 2): the YouTube-8M starter code's dequantize
    "none": (1.0, 0.0),            # q as a float, in [0, 255]
}


def dequantize(q: np.ndarray, mode: str = "centered", dtype: np.dtype | str = np.float32) -> np.ndarray:
    """Map uint8 embeddings to floats: ``q * scale + offset`` for the ``mode`` in :data:`DEQUANTIZATIONS`.

    The arithmetic is done in ``dtype`` (float32 by default), so no float64 copy is made.
    """
    if mode not in DEQUANTIZATIONS:
        raise ValueError(f"unknown dequantisation {mode!r}; expected one of {sorted(DEQUANTIZATIONS)}")
    scale, offset = DEQUANTIZATIONS[mode]
    out = q.astype(dtype)
    out *= out.dtype.type(scale)
    out += out.dtype.type(offset)
    return out


def fix_frames(frames: np.ndarray, pad_value: int = 128) -> np.ndarray:
    """Pad (with ``pad_value``, 0.0 after centred dequantisation) or truncate (n, 128) frames to (10, 128)."""
    if len(frames) >= NUM_FRAMES:
        return frames[:NUM_FRAMES]
    padded = np.full((NUM_FRAMES, frames.shape[1]), pad_value, dtype=np.uint8)
    padded[:len(frames)] = frames
    return padded


@dataclass
class Clips:
    """N clips in memory.

    ``x`` (N, 10, 128) uint8; ``y`` (N, 527) bool; ``video_ids`` (N,) str; ``n_frames`` (N,) uint8
    frames present before padding (``None`` when the source did not record it).
    """

    x: np.ndarray
    y: np.ndarray
    video_ids: np.ndarray
    n_frames: np.ndarray | None = None
    synthetic: bool = False
    name: str = "clips"

    def __post_init__(self) -> None:
        check_layout(self.name, self.x.shape, self.x.dtype, self.y.shape, self.y.dtype, len(self.video_ids),
                     self.n_frames)

    def __len__(self) -> int:
        return len(self.x)

    def take(self, indices: np.ndarray) -> Clips:
        """The clips at ``indices`` (any order, repeats allowed)."""
        n_frames = None if self.n_frames is None else self.n_frames[indices]
        return Clips(self.x[indices], self.y[indices], self.video_ids[indices], n_frames,
                     self.synthetic, self.name)

    def chunks(self, size: int) -> Iterator[Clips]:
        """Consecutive pieces of at most ``size`` clips."""
        for start in range(0, len(self), size):
            yield self.take(np.arange(start, min(start + size, len(self))))

    @classmethod
    def concatenate(cls, parts: list[Clips]) -> Clips:
        """Join chunks (of one split) back into one :class:`Clips`."""
        first = parts[0]
        n_frames = None if first.n_frames is None else np.concatenate([p.n_frames for p in parts])
        return cls(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]),
                   np.concatenate([p.video_ids for p in parts]), n_frames, first.synthetic, first.name)


class ClipSource(Protocol):
    """What :class:`~minidl.data.loader.DataLoader` needs from a split (in memory or on disk)."""

    synthetic: bool
    name: str

    def __len__(self) -> int: ...

    def take(self, indices: np.ndarray) -> Clips: ...

    def chunks(self, size: int) -> Iterator[Clips]: ...


def check_layout(name: str, x_shape: tuple, x_dtype: np.dtype, y_shape: tuple, y_dtype: np.dtype,
                 n_ids: int, n_frames: Any = None) -> None:
    """Raise :class:`LayoutError` unless x is (N, 10, 128) uint8, y is (N, 527) bool, there are N ids
    and ``n_frames`` (an array or dataset; None when absent) is (N,) of integers."""
    n = x_shape[0] if x_shape else 0
    problems = []
    if tuple(x_shape[1:]) != (NUM_FRAMES, EMBEDDING_SIZE) or x_dtype != np.uint8:
        problems.append(f"'x' is {tuple(x_shape)} {x_dtype}, expected (N, {NUM_FRAMES}, {EMBEDDING_SIZE}) uint8")
    if tuple(y_shape) != (n, NUM_CLASSES) or y_dtype != np.bool_:
        problems.append(f"'y' is {tuple(y_shape)} {y_dtype}, expected ({n}, {NUM_CLASSES}) bool")
    if n_ids != n:
        problems.append(f"'video_id_list' has {n_ids} entries, expected {n}")
    if n_frames is not None and (tuple(n_frames.shape) != (n,) or n_frames.dtype.kind not in "ui"):
        problems.append(f"'n_frames' is {tuple(n_frames.shape)} {n_frames.dtype}, expected ({n},) integers "
                        "(one frame count per clip)")
    if problems:
        raise LayoutError(f"{name}: " + "; ".join(problems))


# ----------------------------------------------------------------------------- NPZ files
def save_npz(path: str | Path, clips: Clips) -> None:
    """Write ``clips`` to an uncompressed ``.npz`` (same names as the HDF5 layout), atomically."""
    arrays = {"x": clips.x, "y": clips.y, "video_id_list": clips.video_ids.astype(str),
              "synthetic": np.array(clips.synthetic)}
    if clips.n_frames is not None:
        arrays["n_frames"] = clips.n_frames
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def load_npz(path: str | Path) -> Clips:
    """Read a ``.npz`` written by :func:`save_npz` (or by hand with the same names) into memory.

    Every array's header is checked before it is read (:func:`minidl.serialization.read_npz_array`):
    a file that is not a zip, an array of Python objects or a damaged one raises LayoutError.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise LayoutError(f"{path}: not an .npz file (a zip archive of .npy arrays)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = {"x", "y", "video_id_list"} - set(npz.files)
            if missing:
                raise LayoutError(f"{path}: missing arrays {sorted(missing)} (has {sorted(npz.files)})")
            arrays = {name: read_npz_array(path, npz, name, compressed=True)
                      for name in ("x", "y", "video_id_list", "n_frames", "synthetic") if name in npz.files}
    except (SerializationError, zipfile.BadZipFile) as err:
        raise LayoutError(f"{path}: {err}" if isinstance(err, zipfile.BadZipFile) else str(err)) from None
    return Clips(arrays["x"], arrays["y"], arrays["video_id_list"], arrays.get("n_frames"),
                 bool(arrays.get("synthetic", False)), name=str(path))


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; it replaces ``path`` (``os.replace``) if the block succeeds.

    Readers never see a half-written file; on an exception the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
