"""The random state behind ``manual_seed``, ``randn``, ``rand``, dropout and initialisation.

One ``numpy.random.Generator`` for the CPU and one for the GPU (its draws made on the host and
copied to the device, see :class:`DeviceDraws`), both seeded from the same seed: a run draws the
same numbers on either device.  Streams differ from PyTorch's: equal seeds give equal minidl runs,
not PyTorch's numbers.  :func:`get_rng_state` / :func:`set_rng_state` save and restore both
generators bit for bit (checkpoints resume exactly).
"""

from __future__ import annotations

from typing import Any

import numpy

from minidl import backend

Array = backend.Array


class DeviceDraws:
    """The CUDA generator: a NumPy generator whose draws are copied to the GPU.

    CuPy's generators keep their state on the device with no way to read or restore it, so a
    checkpoint could not resume a GPU run exactly.  Drawing on the host costs a host-to-device
    copy per draw (dropout masks, initialisation) but makes the state a plain NumPy bit
    generator state and makes a GPU run draw the same numbers as a CPU run with the same seed.
    """

    def __init__(self, seed: int) -> None:
        self.host = numpy.random.default_rng(seed)

    def random(self, size: Any = None, dtype: Any = backend.float64) -> Array:
        """U[0, 1) samples, drawn in ``dtype`` directly, on the GPU."""
        return backend.to_device(self.host.random(size, dtype=dtype), "cuda")

    def standard_normal(self, size: Any = None, dtype: Any = backend.float64) -> Array:
        """N(0, 1) samples, drawn in ``dtype`` directly, on the GPU."""
        return backend.to_device(self.host.standard_normal(size, dtype=dtype), "cuda")

    def integers(self, low: int, high: int, size: Any = None) -> Array:
        """Integers uniform in [low, high) (int64), on the GPU."""
        return backend.to_device(self.host.integers(low, high, size), "cuda")

    def permutation(self, n: int) -> Array:
        """A random permutation of 0, ..., n - 1 (int64), on the GPU."""
        return backend.to_device(self.host.permutation(n), "cuda")


class Generator:
    """A random stream of its own, PyTorch's ``torch.Generator``: ``g = minidl.Generator().manual_seed(42)``.

    Pass it as ``generator=`` (``minidl.utils.data.random_split``, ``DataLoader``, ``RandomSampler``)
    to draw from it instead of the global generator.  Its draws come from ``self.numpy``, a NumPy
    generator (so the numbers are not PyTorch's; the seeding API is).
    """

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.manual_seed(67280421310721)  # PyTorch's default seed

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from ``seed``; returns the generator (``Generator().manual_seed(0)``)."""
        self.seed_value = int(seed)
        self.numpy = numpy.random.default_rng(self.seed_value)
        return self

    def initial_seed(self) -> int:
        return self.seed_value

    def get_state(self) -> dict:
        return {"seed": self.seed_value, "bit_generator": _jsonable(self.numpy.bit_generator.state)}

    def set_state(self, state: dict) -> Generator:
        self.manual_seed(state["seed"])
        self.numpy.bit_generator.state = state["bit_generator"]
        return self


class _State:
    """The seed and the two generators (module-level state, as PyTorch's default generator)."""

    initial_seed: int = 0
    cpu: numpy.random.Generator = numpy.random.default_rng(0)
    cuda: DeviceDraws = DeviceDraws(0)


def generator(device: str) -> Any:
    """The generator for ``device`` (``random`` and ``standard_normal`` taking a ``dtype``)."""
    return _State.cpu if device == "cpu" else _State.cuda


def manual_seed(seed: int) -> None:
    """Seed the generators behind ``randn``, ``rand``, dropout and parameter initialisation."""
    _State.initial_seed = int(seed)
    _State.cpu = numpy.random.default_rng(_State.initial_seed)
    _State.cuda = DeviceDraws(_State.initial_seed)


def initial_seed() -> int:
    """The seed last given to :func:`manual_seed` (0 at start)."""
    return _State.initial_seed


def get_rng_state() -> dict:
    """A JSON-serialisable snapshot of both generators (for checkpoints)."""
    return {"seed": _State.initial_seed, "bit_generator": _jsonable(_State.cpu.bit_generator.state),
            "cuda_bit_generator": _jsonable(_State.cuda.host.bit_generator.state)}


def set_rng_state(state: dict) -> None:
    """Restore a snapshot made by :func:`get_rng_state` (one without ``cuda_bit_generator``, from an
    older checkpoint, leaves the CUDA generator freshly seeded)."""
    manual_seed(state["seed"])
    _State.cpu.bit_generator.state = state["bit_generator"]
    if "cuda_bit_generator" in state:
        _State.cuda.host.bit_generator.state = state["cuda_bit_generator"]


def _jsonable(value: Any) -> Any:
    """NumPy scalars inside nested dicts as Python ints/floats."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, numpy.generic):
        return value.item()
    return value
