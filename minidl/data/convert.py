"""Convert the TFRecord release to the packed HDF5 layout (or NPZ) once, so training reads fast.

``convert(src, dst)``:

* ``src`` a split folder (``.../bal_train``) -> ``dst`` a file (``bal_train.h5`` or ``.npz``), or a
  folder, which then receives ``<split>.h5``;
* ``src`` the release folder holding ``bal_train/``, ``eval/``, ``unbal_train/`` -> ``dst`` a
  folder receiving one ``.h5`` per split found.

HDF5 output is written chunk by chunk (bounded memory, any split size); NPZ output is gathered
in memory first (fine for bal_train and eval).  Every file is written atomically.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from minidl.data.clips import Clips, save_npz
from minidl.data.errors import DataFormatError
from minidl.data.hdf5 import write_h5
from minidl.data.sources import RELEASE_SPLITS, release_splits
from minidl.data.tfrecord import TFRecordClips

OUTPUT_SUFFIXES = (".h5", ".hdf5", ".npz")


@dataclass(frozen=True)
class Converted:
    """One written split: where, how many clips, how many were padded or truncated to 10 frames."""

    path: Path
    clips: int
    padded: int
    truncated: int


def convert(src: str | Path, dst: str | Path, chunk: int = 8192, progress: bool = True) -> list[Converted]:
    """Convert a split folder or a whole release folder (see the module docstring).

    ``chunk`` (clips per write, a positive int) bounds the memory used; a split whose files hold
    no records is an error, not an empty output file.
    """
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"convert: chunk must be a positive number of clips, got {chunk!r}")
    src, dst = Path(src), Path(dst)
    if any(src.glob("*.tfrecord")):
        target = dst if dst.suffix in OUTPUT_SUFFIXES else dst / f"{src.name}.h5"
        return [convert_split(src, target, chunk, progress)]
    splits = release_splits(src)
    if not splits:
        raise DataFormatError(f"{src}: no *.tfrecord files and no split folders ({', '.join(RELEASE_SPLITS)})")
    if dst.suffix in OUTPUT_SUFFIXES:
        raise ValueError(f"{dst}: converting a whole release needs a destination folder, not a file")
    return [convert_split(split, dst / f"{split.name}.h5", chunk, progress) for split in splits]


def convert_split(folder: Path, target: Path, chunk: int = 8192, progress: bool = True) -> Converted:
    """Convert one split folder of ``*.tfrecord`` files to ``target`` (``.h5``/``.hdf5``/``.npz``)."""
    if target.suffix not in OUTPUT_SUFFIXES:
        raise ValueError(f"{target}: output must end in {', '.join(OUTPUT_SUFFIXES)}")
    reader = TFRecordClips(folder)
    chunks = _with_progress(reader.chunks(chunk), f"converting {folder.name}", progress, folder)
    if target.suffix == ".npz":
        save_npz(target, Clips.concatenate(list(chunks)))
    else:
        write_h5(target, chunks, attrs={"source": str(folder)})  # an error in ``chunks`` leaves no file
    return Converted(target, reader.clips, reader.padded, reader.truncated)


def _with_progress(chunks: Iterator[Clips], desc: str, enabled: bool, folder: Path) -> Iterator[Clips]:
    """``chunks`` with a progress bar; raises DataFormatError at the end if there were none."""
    total = 0
    with tqdm(desc=desc, unit=" clips", disable=not enabled) as bar:
        for clips in chunks:
            total += len(clips)
            bar.update(len(clips))
            yield clips
    if not total:
        raise DataFormatError(f"{folder}: the .tfrecord files hold no records (nothing to convert)")

