"""``save`` and ``load``: checkpoints as one ``.npz`` file, never pickle.

What can be saved: nested dicts (any key type below), lists and tuples of Tensors, Python
ints, floats, strings, bools and None -- state dicts, optimizer and scheduler state dicts,
``minidl.get_rng_state()``, whole training checkpoints.

File format (a zip written by ``numpy.savez``)::

    t0.npy, t1.npy, ...       one array per distinct tensor object
    __structure__.npy         UTF-8 JSON (as uint8): the object tree, each tensor as
                              {"type": "tensor", "entry": "t0", "dtype", "shape", "device",
                               "requires_grad", "sha256" (of the array's bytes)}
    __structure_sha256__.npy  the sha256 of the JSON bytes

Loading goes through ``numpy.load(..., allow_pickle=False)`` only, so a crafted file can
never run code; each entry's zip and .npy headers are checked before NumPy allocates anything
(:func:`read_npz_array`, also used for ``.npz`` splits), every array against its dtype, shape and
checksum, and the JSON against its own checksum.  A tensor saved from a GPU loads on a machine
without one only with ``map_location='cpu'`` (as ``torch.load``), and the error says so.  Any
damage raises :class:`SerializationError` naming the file and the entry at fault.  Writing is
atomic: a temporary file in the same folder is written, fsync'ed and renamed over ``path``
(``os.replace``), so a failed save leaves a previous file intact.  A tensor referenced twice is
stored once and loaded as one object; Parameters are saved as plain tensors (with their
``requires_grad``).
"""

from __future__ import annotations

import hashlib
import json
import lzma
import math
import os
import secrets
import zipfile
import zlib
from collections import OrderedDict
from typing import Any

import numpy

from minidl import backend
from minidl.autograd.tensor import Tensor

FORMAT, VERSION = "minidl", 1
STRUCTURE, STRUCTURE_SHA256 = "__structure__", "__structure_sha256__"
PathLike = str | os.PathLike


class SerializationError(ValueError):
    """A file that is not a minidl checkpoint, or one that is truncated or damaged."""


def _sha256(array: numpy.ndarray) -> str:
    return hashlib.sha256(numpy.ascontiguousarray(array)).hexdigest()


# ------------------------------------------------------------------------------------ save
class _Encoder:
    """Turns an object tree into JSON-ready nodes, collecting the tensors' arrays as entries."""

    def __init__(self) -> None:
        self.arrays: dict[str, numpy.ndarray] = {}
        self.entries: dict[int, dict[str, Any]] = {}  # id(tensor) -> its node, to store it once

    def encode(self, obj: Any, where: str) -> Any:
        """The node for ``obj``; ``where`` (e.g. ``obj['state'][0]``) names it in errors."""
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, Tensor):
            return self.tensor(obj)
        if isinstance(obj, (list, tuple)):
            items = [self.encode(item, f"{where}[{i}]") for i, item in enumerate(obj)]
            return {"type": type(obj).__name__, "items": items}
        if isinstance(obj, dict):
            keys = [self.encode(key, f"{where} (a key)") for key in obj]
            values = [self.encode(value, f"{where}[{key!r}]") for key, value in obj.items()]
            kind = "OrderedDict" if isinstance(obj, OrderedDict) else "dict"
            return {"type": kind, "keys": keys, "values": values}
        raise TypeError(f"save: can't save an object of type {type(obj).__name__} at {where}; supported: "
                        "Tensor, dict, list, tuple, int, float, str, bool, None")

    def tensor(self, t: Tensor) -> dict[str, Any]:
        if id(t) not in self.entries:
            array = backend.to_numpy(t.array)
            entry = f"t{len(self.arrays)}"
            self.arrays[entry] = array
            self.entries[id(t)] = {"type": "tensor", "entry": entry, "dtype": str(array.dtype),
                                   "shape": list(array.shape), "device": t.device,
                                   "requires_grad": t.requires_grad, "sha256": _sha256(array)}
        return self.entries[id(t)]


def save(obj: Any, path: PathLike) -> None:
    """Write ``obj`` (see the module docstring for what it may contain) to ``path`` atomically."""
    encoder = _Encoder()
    root = encoder.encode(obj, "obj")
    text = json.dumps({"format": FORMAT, "version": VERSION, "root": root}).encode("utf-8")
    digest = hashlib.sha256(text).hexdigest().encode("ascii")
    arrays = {**encoder.arrays, STRUCTURE: numpy.frombuffer(text, dtype=numpy.uint8),
              STRUCTURE_SHA256: numpy.frombuffer(digest, dtype=numpy.uint8)}
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    temp = os.path.join(folder, f".{name}.{secrets.token_hex(8)}.tmp")
    handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(handle, "wb") as file:
            numpy.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


# ------------------------------------------------------------------------------------ load
class _Decoder:
    """Rebuilds the object tree from the JSON nodes, reading and checking each array once."""

    def __init__(self, path: str, archive: Any, map_location: str | None) -> None:
        self.path, self.archive, self.map_location = path, archive, map_location
        self.tensors: dict[str, Tensor] = {}

    def fail(self, what: str) -> SerializationError:
        return SerializationError(f"load: {self.path}: {what}")

    def decode(self, node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        kind = node.get("type")
        if kind == "tensor":
            return self.tensor(node)
        if kind in ("list", "tuple"):
            items = [self.decode(item) for item in node["items"]]
            return items if kind == "list" else tuple(items)
        if kind in ("dict", "OrderedDict"):
            pairs = zip((self.decode(k) for k in node["keys"]), (self.decode(v) for v in node["values"]))
            return dict(pairs) if kind == "dict" else OrderedDict(pairs)
        raise self.fail(f"unknown node type {kind!r} in the structure")

    def tensor(self, node: dict[str, Any]) -> Tensor:
        entry = node["entry"]
        if entry not in self.tensors:
            array = _read_entry(self.path, self.archive, entry)
            if str(array.dtype) != node["dtype"] or list(array.shape) != node["shape"]:
                raise self.fail(f"entry {entry!r} holds a {array.dtype} array of shape {array.shape}, "
                                f"the structure says {node['dtype']} of shape {tuple(node['shape'])}")
            if _sha256(array) != node["sha256"]:
                raise self.fail(f"entry {entry!r} fails its sha256 checksum (the array data was changed)")
            device = self.map_location or node["device"]
            if str(device).startswith("cuda") and not backend.cuda_available():
                raise self.fail(f"entry {entry!r} was saved from a CUDA device, but CUDA is not available "
                                "here; load it with map_location='cpu'")
            device = backend.normalize_device(device)
            self.tensors[entry] = Tensor(backend.to_device(array, device), requires_grad=bool(node["requires_grad"]))
        return self.tensors[entry]


def _read_entry(path: str, archive: Any, entry: str) -> numpy.ndarray:
    """One array of the checkpoint, read by :func:`read_npz_array` (uncompressed entries only)."""
    if entry not in archive.files:
        raise SerializationError(f"load: {path}: entry {entry!r} is missing (not a minidl checkpoint, "
                                 "or damaged)")
    try:
        return read_npz_array(path, archive, entry)
    except SerializationError as error:
        raise SerializationError(f"load: {error}") from error.__cause__


# What a damaged zip entry can raise while it is read: zipfile's own errors, an encrypted or
# unsupported entry (RuntimeError, NotImplementedError), and the decompressors' errors.
_READ_ERRORS = (ValueError, OSError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile,
                zlib.error, lzma.LZMAError)
_DEFLATE_MAX_RATIO = 1032  # deflate never expands more than ~1032:1, so a larger ratio is a lie


def read_npz_array(path: PathLike, archive: Any, entry: str, compressed: bool = False) -> numpy.ndarray:
    """Array ``entry`` of an open ``numpy.load`` archive, its zip and .npy headers checked first.

    An .npz is a zip of .npy files, and NumPy allocates what an .npy header declares before it
    reads the data; so the headers are checked here, before anything is allocated: the entry must
    be stored (``save`` writes it so) or, with ``compressed=True``, deflated (``numpy.savez_compressed``),
    not encrypted, and its shape and dtype must account for exactly the bytes it holds (a header
    declaring 2**50 elements is refused); an object (pickled) dtype is refused too.  Any damage,
    during the checks or the read, raises a SerializationError naming ``path`` and ``entry``.
    """
    def fail(what: str) -> SerializationError:
        return SerializationError(f"{path}: entry {entry!r} {what}")

    info = archive.zip.getinfo(f"{entry}.npy")
    methods = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) if compressed else (zipfile.ZIP_STORED,)
    if info.compress_type not in methods:
        raise fail(f"uses zip compression method {info.compress_type}, expected {' or '.join(map(str, methods))} "
                   "(0: stored, 8: deflated): the file is damaged or not written by NumPy")
    if info.flag_bits & 0x1:
        raise fail(f"is marked encrypted (zip flag bits {info.flag_bits:#06x}): the file is damaged")
    size = os.path.getsize(path)
    ratio = 1 if info.compress_type == zipfile.ZIP_STORED else _DEFLATE_MAX_RATIO
    if info.file_size > ratio * info.compress_size or info.header_offset + info.compress_size > size:
        raise fail(f"declares {info.file_size:,} bytes ({info.compress_size:,} stored), more than the "
                   f"{size:,}-byte file can hold: the zip directory is damaged")
    readers = {(1, 0): numpy.lib.format.read_array_header_1_0, (2, 0): numpy.lib.format.read_array_header_2_0}
    try:
        with archive.zip.open(info) as stream:
            version = numpy.lib.format.read_magic(stream)
            header = readers[version](stream) if version in readers else None
            header_size = stream.tell()
    except _READ_ERRORS as error:
        raise fail(f"is unreadable: {error}") from error
    if header is None:
        raise fail(f"has .npy format version {version}; expected 1.0 or 2.0")
    shape, _, dtype = header
    if dtype.hasobject:
        raise fail(f"holds Python objects (dtype {dtype}); minidl never unpickles, it reads only "
                   "numeric and text arrays")
    declared = math.prod(shape) * dtype.itemsize
    if header_size + declared != info.file_size:
        raise fail(f"declares a {dtype} array of shape {shape} ({declared:,} bytes), but holds "
                   f"{info.file_size - header_size:,} bytes of data")
    try:
        return archive[entry]
    except _READ_ERRORS as error:
        raise fail(f"is unreadable: {error}") from error


def _read_structure(path: str, archive: Any) -> dict[str, Any]:
    """The JSON tree, after checking it against its checksum and its format tag."""
    text = _read_entry(path, archive, STRUCTURE).tobytes()
    digest = _read_entry(path, archive, STRUCTURE_SHA256).tobytes().decode("ascii", "replace")
    if hashlib.sha256(text).hexdigest() != digest:
        raise SerializationError(f"load: {path}: entry {STRUCTURE!r} fails its sha256 checksum "
                                 "(the structure JSON was changed)")
    try:
        structure = json.loads(text)
    except ValueError as error:
        raise SerializationError(f"load: {path}: entry {STRUCTURE!r} is not valid JSON: {error}") from error
    except RecursionError:
        raise SerializationError(f"load: {path}: entry {STRUCTURE!r} nests its JSON too deeply to be "
                                 "a minidl structure") from None
    if not isinstance(structure, dict) or "root" not in structure:
        raise SerializationError(f"load: {path}: entry {STRUCTURE!r} is not a minidl structure")
    if structure.get("format") != FORMAT or structure.get("version") != VERSION:
        raise SerializationError(f"load: {path}: unsupported format {structure.get('format')!r} "
                                 f"version {structure.get('version')!r}")
    return structure


def load(path: PathLike, map_location: str | None = None) -> Any:
    """Read an object written by :func:`save`.

    Tensors go to ``map_location`` ('cpu' or 'cuda'), or to the device they were saved from
    when it is None.  Raises FileNotFoundError for a missing file and SerializationError (a
    ValueError) for anything that is not an intact minidl checkpoint.
    """
    path = os.fspath(path)
    if map_location is not None:
        map_location = backend.normalize_device(map_location)
    with open(path, "rb") as file:
        if not zipfile.is_zipfile(file):
            raise SerializationError(f"load: {path}: not a minidl checkpoint (not an .npz zip archive), "
                                     "or truncated")
        file.seek(0)
        try:
            archive = numpy.load(file, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise SerializationError(f"load: {path}: damaged .npz archive: {error}") from error
        with archive:
            structure = _read_structure(path, archive)
            try:
                return _Decoder(path, archive, map_location).decode(structure["root"])
            except (KeyError, TypeError) as error:
                raise SerializationError(f"load: {path}: malformed structure (missing or wrong field "
                                         f"{error})") from error
            except RecursionError:
                raise SerializationError(f"load: {path}: the structure nests containers too deeply "
                                         "to rebuild") from None
