"""``cupy.cuda.runtime`` of the fake CuPy: exactly one device."""

from __future__ import annotations

from typing import Any


class CUDARuntimeError(RuntimeError):
    pass


def getDeviceCount() -> int:  # noqa: N802 - CuPy's name
    return 1


def getDevice() -> int:  # noqa: N802
    return 0


def setDevice(device: int) -> None:  # noqa: N802
    if device != 0:
        raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal (fake cupy)")


def deviceSynchronize() -> None:  # noqa: N802
    pass


def runtimeGetVersion() -> int:  # noqa: N802
    return 12080


def getDeviceProperties(device: int) -> dict[str, Any]:  # noqa: N802
    return {"name": b"fake cupy device (NumPy on the CPU)", "totalGlobalMem": 0, "major": 9, "minor": 0}


is_hip = False
