"""Utilities, as ``torch.utils``: ``minidl.utils.data`` (datasets, samplers, ``DataLoader``)."""

from minidl.utils import data

__all__ = ["data"]
