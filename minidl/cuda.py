"""``minidl.cuda.is_available()``, as ``torch.cuda.is_available()``."""

from minidl.backend import cuda_available as is_available

__all__ = ["is_available"]
