"""``minidl.accelerator``, as ``torch.accelerator``: the GPU when there is one (CUDA, through CuPy)."""

from minidl.backend import CUDA, device
from minidl.backend import cuda_available as is_available

__all__ = ["current_accelerator", "is_available"]


def current_accelerator() -> device | None:
    """``device(type='cuda')`` when a CUDA GPU is available, else None (as PyTorch on a CPU-only machine)."""
    return CUDA if is_available() else None
