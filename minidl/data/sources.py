"""Open a split from what a user types: a file, a folder, or the name of a built-in split.

===============================  ==========================================================
``builtin`` / ``builtin:SPLIT``  the stand-in (``bal_train``, ``eval``; ``big:N`` for N clips)
``*.h5`` / ``*.hdf5``            the packed HDF5 layout (:class:`~minidl.data.hdf5.H5Clips`)
``*.npz``                        the same arrays in an NPZ (:func:`~minidl.data.clips.load_npz`)
a folder of ``*.tfrecord``       one split of the official release (:class:`~minidl.data.tfrecord.TFRecordClips`)
===============================  ==========================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from minidl.data.clips import load_npz
from minidl.data.errors import DataFormatError
from minidl.data.hdf5 import H5Clips
from minidl.data.standin import builtin
from minidl.data.tfrecord import TFRecordClips

RELEASE_SPLITS = ("bal_train", "eval", "unbal_train")


def open_split(spec: str | Path, seed: int = 0) -> Any:
    """The split named by ``spec`` (see the module docstring), ready for ``chunks()``."""
    text = str(spec)
    if text == "builtin" or text.startswith("builtin:"):
        return _builtin(text, seed)
    path = Path(spec)
    if path.suffix in (".h5", ".hdf5"):
        return H5Clips(path)
    if path.suffix == ".npz":
        return load_npz(path)
    if path.is_dir():
        return TFRecordClips(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    raise DataFormatError(f"{path}: not a .h5/.hdf5/.npz file or a folder of .tfrecord files")


def release_splits(folder: str | Path) -> list[Path]:
    """The split folders (``bal_train/``, ``eval/``, ``unbal_train/``) of a release folder that exist."""
    return [Path(folder) / name for name in RELEASE_SPLITS if (Path(folder) / name).is_dir()]


def _builtin(text: str, seed: int) -> Any:
    parts = text.split(":")[1:] or ["bal_train"]
    if parts[0] == "big":
        size = parts[1] if len(parts) > 1 else "200000"
        if len(parts) > 2 or not size.isdigit() or int(size) < 1:
            raise ValueError(f"built-in split {text!r}: N in builtin:big:N must be a positive whole number "
                             "of clips")
        return builtin("big", seed=seed, size=int(size))
    if parts[0] not in ("bal_train", "eval") or len(parts) > 1:
        raise ValueError(f"unknown built-in split {text!r}: use builtin:bal_train, builtin:eval or builtin:big:N")
    return builtin(parts[0], seed=seed)
