"""Bridges to other frameworks, imported explicitly and never by ``import minidl``:

* :mod:`minidl.interop.torch` -- PyTorch tensors and equivalent modules, weights both ways
  (``from minidl.interop import torch as interop``).
"""
