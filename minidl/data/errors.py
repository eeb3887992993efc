"""Exceptions raised on bad AudioSet input.

Every message names the file (and, where it applies, the line, record or field) and the value
at fault, so a user can find the problem without a debugger.  All are ``ValueError`` subclasses,
so ``except ValueError`` keeps working for callers that do not care which format failed.
"""

from __future__ import annotations


class DataFormatError(ValueError):
    """Base class: input data that does not follow the documented format."""


class LabelFileError(DataFormatError):
    """A bad ``class_labels_indices.csv`` or segments CSV (unknown mid, non-numeric field, ...)."""


class TFRecordError(DataFormatError):
    """A corrupt TFRecord file (CRC mismatch, truncated record) or a malformed SequenceExample."""


class LayoutError(DataFormatError):
    """An HDF5 or NPZ file whose datasets are missing or have the wrong shape or dtype."""


def missing_extra(package: str) -> ImportError:
    """The error raised when an optional dependency of ``minidl.data`` is not installed."""
    return ImportError(f"this part of minidl.data needs the optional package {package!r}: "
                       "pip install 'minidl[data]'")
