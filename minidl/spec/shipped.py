"""Where the shipped descriptions live: ``experiments/`` beside the package (a clone or an editable install).

``$MINIDL_EXPERIMENTS`` points elsewhere.  The paper's three models are ``experiments/models/fc.toml``,
``residual.toml`` and ``conv.toml``: the one source of truth for them.
"""

from __future__ import annotations

import os
from pathlib import Path

from minidl.spec.schema import Description, load

PAPER_MODELS = ("fc", "residual", "conv")


def experiments_dir() -> Path:
    """``$MINIDL_EXPERIMENTS``, or the ``experiments/`` folder of the repository minidl was installed from."""
    folder = Path(os.environ.get("MINIDL_EXPERIMENTS") or Path(__file__).resolve().parents[2] / "experiments")
    if not (folder / "models").is_dir():
        raise FileNotFoundError(f"{folder}: no experiments folder with models/ here; minidl's experiments ship with "
                                "its repository (install it with `pip install -e .` from a clone) or set "
                                "MINIDL_EXPERIMENTS to such a folder")
    return folder


def paper_model(name: str) -> Description:
    """The paper's ``fc``, ``residual`` or ``conv`` model description."""
    if name not in PAPER_MODELS:
        raise ValueError(f"unknown paper model {name!r}; expected one of {', '.join(PAPER_MODELS)}")
    return load(experiments_dir() / "models" / f"{name}.toml")
