"""Build a description in a framework: ``build(desc, backend="minidl" | "torch" | "keras")``.

Every backend is a module with the same names:

* ``build(desc, device, dtype, masks)`` returning ``(model, loss_fn, optimizer)``;
* ``get_weights(model)`` / ``set_weights(model, w)``: the weights as NumPy arrays under minidl's
  names and layouts (so weights move between any two backends);
* for :mod:`minidl.train`: ``train_step(built, x, y, device)`` (one optimizer step on a NumPy
  batch, returning the loss), ``predict(model, x, device)`` (logits, in eval mode),
  ``random_state(model)`` / ``load_random_state(model, state)`` and ``optimizer_state(optimizer)`` /
  ``load_optimizer_state(optimizer, state, device)`` (what a checkpoint holds besides the weights);
* ``Runner(desc, dtype, masks)``: one recorded step at a time, for :mod:`minidl.spec.parity`.

Backends other than minidl import their framework, so they are imported only when asked for, by
name: ``import minidl`` never imports PyTorch or TensorFlow.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from minidl.spec import schema
from minidl.spec.backend_minidl import Built
from minidl.spec.masks import DropoutMasks

#: backend name -> (module, the pip requirement that provides its framework)
BACKENDS: dict[str, tuple[str, str]] = {
    "minidl": ("minidl.spec.backend_minidl", "minidl"),
    "torch": ("minidl.spec.backend_torch", "torch==2.13.0"),
    "keras": ("minidl.spec.backend_keras", "minidl[keras]"),
}


def backend_module(name: str) -> ModuleType:
    """The module of backend ``name``, imported now (its framework with it)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")
    module, requirement = BACKENDS[name]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        raise ImportError(f"backend {name!r} needs {err.name}, which is not installed: "
                          f"pip install {requirement!r}") from None


def build(desc: schema.Description | Any, backend: str = "minidl", device: str = "cpu", dtype: Any = "float32",
          masks: DropoutMasks | None = None) -> Built:
    """``(model, loss_fn, optimizer)`` for a description (or anything :func:`~minidl.spec.load` takes).

    ``loss_fn(logits, targets)`` includes the L2 term; the initial weights are drawn from seed
    ``desc.training.seed`` in that framework's generator (use :func:`copy_weights` to start two
    frameworks from the same weights); ``masks`` makes dropout layers use shared masks.
    """
    desc = desc if isinstance(desc, schema.Description) else schema.load(desc)
    return backend_module(backend).build(desc, device=device, dtype=str(dtype), masks=masks)


def copy_weights(source: Any, target: Any, source_backend: str = "minidl", target_backend: str = "torch") -> None:
    """Copy every weight (and buffer) of one built model into another built from the same description."""
    backend_module(target_backend).set_weights(target, backend_module(source_backend).get_weights(source))
