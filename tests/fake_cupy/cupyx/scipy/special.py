"""``cupyx.scipy.special`` of the fake CuPy: SciPy's functions on the device arrays' storage."""

from __future__ import annotations

from typing import Any

import cupy
import scipy.special


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return cupy._lookup("cupyx.scipy.special", name, scipy.special)
