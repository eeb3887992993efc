"""Put a wrapper around a function of the engine for a while, without editing the engine.

The profiler (:mod:`minidl.profiler`) and anomaly mode (:mod:`minidl.autograd.anomaly`) watch two
functions: ``Function.apply`` (every op's forward) and ``engine._propagate`` (the engine's call of
one node's backward).  Instead of a check on every call that costs even when nobody watches, they
replace the function while they watch and put the original back afterwards::

    handle = wrap(engine, "_propagate", around)   # engine._propagate(*a) now runs around(original, *a)
    ...
    handle.remove()                               # engine._propagate is the original object again

``engine.backward`` looks ``_propagate`` up in its module at every call, and every op calls
``Function.apply`` through its class, so replacing the attribute reaches every call.

Wrappers of one function stack (the latest outermost) and can be removed in any order, e.g. a
profile that ends while anomaly mode stays on: after every change the function is rebuilt from the
original and the wrappers still installed, and once none is left the original object itself is
back, so nothing runs and nothing costs when nobody watches.  A classmethod (``Function.apply``)
stays a classmethod: ``around`` then receives the class right after the original.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: ``around(inner, *args, **kwargs)``: does its work and calls ``inner(*args, **kwargs)`` once
Around = Callable[..., Any]


@dataclass
class _Site:
    """One wrapped attribute: what it was, and the wrappers now around it (innermost first)."""

    owner: Any
    name: str
    original: Any  # as found in ``vars(owner)``: a function, or a classmethod object
    arounds: list[Around] = field(default_factory=list)


_SITES: dict[tuple[int, str], _Site] = {}


class Handle:
    """What :func:`wrap` returns: :meth:`remove` takes that one wrapper out again."""

    def __init__(self, site: _Site, around: Around) -> None:
        self._site, self._around = site, around

    def remove(self) -> None:
        """Remove the wrapper (a second call does nothing)."""
        arounds = self._site.arounds
        for i, around in enumerate(arounds):
            if around is self._around:
                del arounds[i]
                _install(self._site)
                return


def wrap(owner: Any, name: str, around: Around) -> Handle:
    """Make ``owner.name(*args)`` run ``around(original, *args)`` until the handle's ``remove()``."""
    key = (id(owner), name)
    if key not in _SITES:
        _SITES[key] = _Site(owner, name, vars(owner)[name])
    site = _SITES[key]
    site.arounds.append(around)
    _install(site)
    return Handle(site, around)


def wrappers(owner: Any, name: str) -> list[Around]:
    """The wrappers now around ``owner.name``, innermost first (empty: it is the original)."""
    site = _SITES.get((id(owner), name))
    return list(site.arounds) if site else []


def _install(site: _Site) -> None:
    """Set the attribute to the original inside the remaining wrappers, or to the original alone."""
    if site.arounds:
        setattr(site.owner, site.name, _compose(site.original, site.arounds))
    else:
        setattr(site.owner, site.name, site.original)
        del _SITES[(id(site.owner), site.name)]


def _compose(original: Any, arounds: list[Around]) -> Any:
    """``original`` inside every wrapper of ``arounds`` (the first innermost); classmethods stay classmethods."""
    if isinstance(original, classmethod):
        return classmethod(_compose(original.__func__, arounds))
    function = original
    for around in arounds:
        function = _layer(around, function)
    return function


def _layer(around: Around, inner: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(inner)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return around(inner, *args, **kwargs)

    return wrapper
