"""``cupy.cuda`` of the fake CuPy: one pretend device, streams that are always synchronised."""

from __future__ import annotations

from typing import Any

from cupy.cuda import runtime


class Device:
    def __init__(self, device: int | None = None) -> None:
        self.id = 0 if device is None else int(device)
        if self.id != 0:
            raise runtime.CUDARuntimeError(f"cudaErrorInvalidDevice: invalid device ordinal {self.id} (fake cupy)")

    def use(self) -> None:
        pass

    def synchronize(self) -> None:
        pass

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self) -> int:
        return self.id

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"


class Stream:
    null: Stream

    def __init__(self, null: bool = False, non_blocking: bool = False) -> None:
        pass

    def synchronize(self) -> None:
        pass

    def use(self) -> Stream:
        return self

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


Stream.null = Stream(null=True)


def get_current_stream() -> Stream:
    return Stream.null


class MemoryPointer:
    """What ``ndarray.data`` is in CuPy (a device pointer), not the values."""

    def __init__(self, array: Any) -> None:
        self.ptr = array._a.__array_interface__["data"][0]
        self.device_id = 0


__all__ = ["Device", "MemoryPointer", "Stream", "get_current_stream", "runtime"]
