"""AudioSet data: the real formats, a built-in synthetic stand-in, streaming loaders.

* :mod:`~minidl.data.labels`: class list, segments CSVs, the shipped real label sets;
* :mod:`~minidl.data.tfrecord`: the official TFRecord release (CRC-checked, no TensorFlow);
* :mod:`~minidl.data.hdf5`: the packed HDF5 layout, read and written in chunks;
* :mod:`~minidl.data.standin`: the built-in stand-in (real labels, SYNTHETIC embeddings);
* :mod:`~minidl.data.loader`: samplers, standardisation, :class:`DataLoader`;
* :mod:`~minidl.data.convert`, :mod:`~minidl.data.stats`: behind ``minidl data convert|stats``.

Only NumPy, SciPy and tqdm are needed to import this package and use the built-in bal_train and
eval splits; HDF5 (``h5py``), TFRecords (``protobuf``, ``crc32c``) and the ``big`` split need
``pip install 'minidl[data]'`` and say so when it is missing.  See docs/data.md.
"""

from minidl.data.clips import DEQUANTIZATIONS, SYNTHETIC_NOTE, Clips, ClipSource, dequantize, load_npz, save_npz
from minidl.data.convert import Converted, convert
from minidl.data.errors import DataFormatError, LabelFileError, LayoutError, TFRecordError
from minidl.data.hdf5 import H5Clips, write_h5
from minidl.data.labels import (
    NUM_CLASSES,
    NUM_FRAMES,
    ClassLabels,
    LabelSets,
    Segments,
    builtin_classes,
    builtin_label_sets,
    read_class_labels,
    read_segments,
)
from minidl.data.loader import (
    BalancedSampler,
    DataLoader,
    SequentialSampler,
    ShuffleSampler,
    Standardizer,
    source_labels,
)
from minidl.data.sources import open_split
from minidl.data.standin import StandinConfig, builtin, cache_dir, generate_big, generate_split
from minidl.data.stats import SplitStats, compute_stats, format_stats
from minidl.data.tfrecord import TFRecordClips, iter_records, parse_clip

__all__ = [
    "DEQUANTIZATIONS", "NUM_CLASSES", "NUM_FRAMES", "SYNTHETIC_NOTE", "BalancedSampler", "ClassLabels", "ClipSource",
    "Clips", "Converted", "DataFormatError", "DataLoader", "H5Clips", "LabelFileError", "LabelSets", "LayoutError",
    "Segments", "SequentialSampler", "ShuffleSampler", "SplitStats", "StandinConfig", "Standardizer",
    "TFRecordClips", "TFRecordError", "builtin", "builtin_classes", "builtin_label_sets", "cache_dir",
    "compute_stats", "convert", "dequantize", "format_stats", "generate_big", "generate_split", "iter_records",
    "load_npz", "open_split", "parse_clip", "read_class_labels", "read_segments", "save_npz", "source_labels",
    "write_h5",
]
