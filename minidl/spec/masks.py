"""Dropout masks shared by several frameworks, so a description with dropout can be compared in training mode.

Each framework draws dropout masks from its own generator, so two frameworks never drop the same
units.  For the parity check, every backend builds its dropout layers as "multiply by the mask
that :class:`DropoutMasks` gives": ``masks(key, shape, rate)`` is a float64 array
``keep / (1 - rate)`` (``keep`` ~ Bernoulli(1 - rate)) that depends only on the seed, the current
``step`` and ``key`` (the index of the description layer that owns the dropout).  Each backend
multiplies it into its activations, so all of them drop the same units at every step.
"""

from __future__ import annotations

import numpy as np


class DropoutMasks:
    """Masks drawn once from one seeded generator per (step, layer); set ``step`` before each training step."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.step = 0

    def __call__(self, key: int, shape: tuple[int, ...], rate: float) -> np.ndarray:
        """The scaled mask ``keep / (1 - rate)`` of ``shape`` for layer ``key`` at the current step."""
        keep = np.random.default_rng([self.seed, self.step, key]).random(shape) >= rate
        return keep / (1.0 - rate)
