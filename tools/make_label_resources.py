"""Derive minidl's shipped label data from the official AudioSet CSVs.

    python tools/make_label_resources.py [../shared/data/audioset]

Reads ``class_labels_indices.csv``, ``balanced_train_segments.csv`` and ``eval_segments.csv``
and writes, into ``minidl/data/resources/``:

* ``class_labels_indices.csv``: a byte-for-byte copy of the official class list;
* ``audioset_labels.npz`` (compressed, no pickles), for split in ``bal_train``, ``eval``:
  ``{split}_counts`` (N,) uint8 labels per clip, ``{split}_labels`` (total,) uint16 class
  indices in CSV order, ``{split}_frames`` (N,) uint8 one-second frames per clip.

The package reads only these files at run time, never the CSVs.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

from minidl.data.labels import read_class_labels, read_segments

RESOURCES = Path(__file__).resolve().parents[1] / "minidl" / "data" / "resources"
CSV_OF_SPLIT = {"bal_train": "balanced_train_segments.csv", "eval": "eval_segments.csv"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?", default=Path(__file__).resolve().parents[2] / "shared/data/audioset",
                        type=Path, help="folder with the official CSVs")
    source = parser.parse_args().source
    classes = read_class_labels(source / "class_labels_indices.csv")
    arrays = {}
    for split, name in CSV_OF_SPLIT.items():
        segments = read_segments(source / name, classes)
        arrays[f"{split}_counts"] = segments.labels.per_clip().astype(np.uint8)
        arrays[f"{split}_labels"] = segments.labels.indices.astype(np.uint16)
        arrays[f"{split}_frames"] = segments.n_frames()
        print(f"{split}: {len(segments.ytids)} clips, {segments.labels.total} labels")
    RESOURCES.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "class_labels_indices.csv", RESOURCES / "class_labels_indices.csv")
    np.savez_compressed(RESOURCES / "audioset_labels.npz", **arrays)
    print(f"wrote {RESOURCES}")


if __name__ == "__main__":
    main()
