"""Switching graph recording on and off: ``no_grad`` and ``enable_grad``.

Both work as context managers and as decorators, as in PyTorch::

    with minidl.no_grad():
        y = model(x)          # no graph is recorded, nothing is kept for backward

    @minidl.no_grad()
    def evaluate(model, x): ...
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


class _GradMode:
    """Process-wide flag read by ``Function.apply`` before it records a node."""

    enabled: bool = True


def is_grad_enabled() -> bool:
    """Whether operations currently record the graph for backward."""
    return _GradMode.enabled


class _SetGradMode:
    """Context manager / decorator that sets the grad mode and restores the previous one."""

    mode: bool

    def __enter__(self) -> None:
        self._previous = _GradMode.enabled
        _GradMode.enabled = self.mode

    def __exit__(self, *exc: Any) -> None:
        _GradMode.enabled = self._previous

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_SetGradMode):  # noqa: N801 - PyTorch's name
    """Disable graph recording: results have ``requires_grad=False`` and keep no inputs alive."""

    mode = False


class enable_grad(_SetGradMode):  # noqa: N801 - PyTorch's name
    """Re-enable graph recording, e.g. inside a ``no_grad`` block."""

    mode = True
