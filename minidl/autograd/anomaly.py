"""Anomaly mode: stop at the first op whose forward or backward makes NaN or Inf, and say where.

    with minidl.autograd.detect_anomaly():
        loss = model(x).log().mean()   # RuntimeError here when log makes nan or inf ...
        loss.backward()                # ... or here, naming the node and the user's line that created it

    minidl.autograd.set_detect_anomaly(True)     # on until set_detect_anomaly(False); also a `with`

How it hooks in: while the mode is on, two wrappers are installed with
:func:`minidl.autograd.wrapping.wrap`, and removed when it goes off (then nothing of it runs):

* around ``Function.apply`` (every op's forward): note, for the node it records, the line of the
  user's code that called the op (the innermost frame outside the minidl package), and check the
  output for NaN and Inf;
* around ``engine._propagate`` (the engine's visit of one node): during that visit the node's
  ``backward`` is replaced, on the node itself, by a checking one that looks at every gradient
  it returns (before the engine reduces it to its input's shape); when backward raises, it warns
  with the node's creation line before the error goes on, as PyTorch does.

Differences from PyTorch: PyTorch checks only what backward returns, and only for NaN; minidl
also checks every forward output (issue 13 asks for the first op that makes a bad value), and
checks for Inf as well.  An Inf can be intended (log(0) = -inf in a mask): switch the mode off
there, or pass ``check_nan=False`` (creation lines and warnings only, no checks).  PyTorch
prints the whole forward traceback; minidl names the innermost line of user code, the line to
look at (the error's own traceback shows how it was reached).
"""

from __future__ import annotations

import functools
import inspect
import os
import traceback
import warnings
import weakref
from collections.abc import Callable
from typing import Any

from minidl import backend
from minidl.autograd import engine
from minidl.autograd.function import Function
from minidl.autograd.tensor import Tensor
from minidl.autograd.wrapping import Handle, wrap

Array = backend.Array

#: the minidl package folder: frames of files under it are minidl's own, not the user's
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class _Mode:
    """The process-wide state: the installed wrappers (none while off) and whether to check values."""

    handles: list[Handle] = []
    check_nan: bool = True


#: node -> the user's line that created it (kept only as long as the node lives)
_created_at: weakref.WeakKeyDictionary[Function, traceback.FrameSummary | None] = weakref.WeakKeyDictionary()


def is_anomaly_enabled() -> bool:
    """Whether anomaly mode is on."""
    return bool(_Mode.handles)


def is_anomaly_check_nan_enabled() -> bool:
    """Whether anomaly mode checks values for NaN and Inf (``check_nan``)."""
    return _Mode.check_nan


def _set_mode(enabled: bool, check_nan: bool) -> None:
    """Turn the mode on or off: install or remove its two wrappers."""
    if enabled and not _Mode.handles:
        _Mode.handles = [wrap(Function, "apply", _checked_apply), wrap(engine, "_propagate", _checked_propagate)]
    elif not enabled:
        for handle in _Mode.handles:
            handle.remove()
        _Mode.handles = []
    _Mode.check_nan = check_nan


class set_detect_anomaly:  # noqa: N801 - PyTorch's name
    """Set anomaly mode on or off now (a function call), or for a ``with`` block (then restored)."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self._previous = (is_anomaly_enabled(), is_anomaly_check_nan_enabled())
        _set_mode(mode, check_nan)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: Any) -> None:
        _set_mode(*self._previous)


class detect_anomaly:  # noqa: N801 - PyTorch's name
    """Anomaly mode inside a ``with`` block or a decorated function; the previous mode afterwards."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> None:
        self._previous = (is_anomaly_enabled(), is_anomaly_check_nan_enabled())
        _set_mode(True, self.check_nan)

    def __exit__(self, *exc: Any) -> None:
        _set_mode(*self._previous)

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly(self.check_nan):
                return func(*args, **kwargs)

        return wrapper


# ------------------------------------------------------------------------------ the two wrappers
def _checked_apply(apply: Callable[..., Tensor], cls: type[Function], *inputs: Tensor | None,
                   **params: Any) -> Tensor:
    """``Function.apply`` that notes where the node was created and checks the forward output."""
    out = apply(cls, *inputs, **params)
    site = user_frame()
    if out.grad_fn is not None:
        _created_at[out.grad_fn] = site
    bad = _nonfinite(out.array) if _Mode.check_nan else None
    if bad:
        given = [t.array for t in inputs if t is not None]
        before = "an input already held nan or inf" if any(_nonfinite(x) for x in given) else "its inputs are finite"
        raise RuntimeError(f"Function '{cls.__name__}' produced {bad} values in its forward output "
                           f"(shape {tuple(out.shape)}, input shapes {_shapes(given)}; {before}). "
                           f"The op was called at {_where(site)}")
    return out


def _checked_propagate(propagate: Callable[..., None], fn: Function, gy: Array, grads: dict) -> None:
    """``engine._propagate`` with the node's ``backward`` replaced by :func:`_checked_backward` for the visit."""
    fn.backward = _checked_backward(fn, fn.backward)
    try:
        propagate(fn, gy, grads)
    finally:
        del fn.backward


def _checked_backward(fn: Function, backward: Callable[[Array], Any]) -> Callable[[Array], Any]:
    """``backward`` that checks each gradient it returns and names the node's creation line on an error."""

    def checked(gy: Array) -> Any:
        try:
            input_grads = backward(gy)
        except Exception:
            warnings.warn(f"Error detected in {fn.name}. The node was created at {_where(_created_at.get(fn))}",
                          stacklevel=2)
            raise
        if _Mode.check_nan:
            _check_gradients(fn, gy, input_grads if isinstance(input_grads, tuple) else (input_grads,))
        return input_grads

    return checked


def _check_gradients(fn: Function, gy: Array, input_grads: tuple[Array | None, ...]) -> None:
    """Raise RuntimeError at the first gradient (one that the engine uses) holding NaN or Inf."""
    for i, (needed, gx) in enumerate(zip(fn.needs_input_grad, input_grads)):
        bad = _nonfinite(gx) if needed and gx is not None else None
        if bad:
            shapes = _shapes([None if t is None else t.array for t in fn.inputs])
            before = "the incoming gradient already held nan or inf" if _nonfinite(gy) else "it came in finite"
            raise RuntimeError(f"Function '{fn.name}' returned {bad} values in its {i}th output "
                               f"(the gradient of shape {tuple(gx.shape)} for input {i}; input shapes {shapes}, "
                               f"incoming gradient {tuple(gy.shape)}; {before}). "
                               f"The node was created at {_where(_created_at.get(fn))}")


# ------------------------------------------------------------------------------ helpers
def user_frame() -> traceback.FrameSummary | None:
    """The innermost frame of the running code outside the minidl package: the user's line."""
    frame = inspect.currentframe()
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    if frame is None:
        return None
    return traceback.FrameSummary(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name, lookup_line=False)


def _where(site: traceback.FrameSummary | None) -> str:
    """``File "x.py", line 3, in f`` and the source line, as a traceback shows them."""
    if site is None:
        return "an unknown line (it was not created by Function.apply while anomaly mode was on)"
    return f'File "{site.filename}", line {site.lineno}, in {site.name}\n    {(site.line or "").strip()}'


def _nonfinite(array: Array) -> str | None:
    """``'nan'`` or ``'inf'`` when a floating array holds one (nan first), else None."""
    if not backend.is_floating(array.dtype):
        return None
    xp = backend.xp_of(array)
    if bool(xp.isfinite(array).all()):
        return None
    return "nan" if bool(xp.isnan(array).any()) else "inf"


def _shapes(arrays: list[Array | None]) -> list[tuple[int, ...] | None]:
    return [None if a is None else tuple(a.shape) for a in arrays]
