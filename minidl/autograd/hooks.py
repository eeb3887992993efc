"""Hook registries and the handles that remove a hook again (``torch.utils.hooks.RemovableHandle``).

Tensors (``Tensor.register_hook``), graph nodes and modules (forward and backward hooks) keep their
hooks in an ordered dict ``{handle id: hook}``; ``add_hook`` puts one in and returns its handle.
Hooks run in registration order (``prepend=True`` puts one first).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

Hook = Callable[..., Any]


class RemovableHandle:
    """Returned by ``register_hook``, ``register_forward_hook`` and friends: ``handle.remove()``
    unregisters the hook.  Also a context manager that removes the hook on exit."""

    _ids = itertools.count()

    def __init__(self, hooks: OrderedDict[int, Hook]) -> None:
        self.hooks = hooks
        self.id = next(RemovableHandle._ids)

    def remove(self) -> None:
        self.hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


def add_hook(hooks: OrderedDict[int, Hook], hook: Hook, prepend: bool = False) -> RemovableHandle:
    """Register ``hook`` in ``hooks`` (at the front when ``prepend``) and return its handle."""
    if not callable(hook):
        raise TypeError(f"a hook must be callable, got {type(hook).__name__}")
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle
