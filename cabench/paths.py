"""Default locations, all overridable by options or environment variables.

CABENCH_DATA   root of dataset folders (default ./data); dataset NAME lives in $CABENCH_DATA/NAME
CABENCH_HOME   caches and the results store (default ./.cabench)
"""

from __future__ import annotations

import os
from pathlib import Path


def data_home() -> Path:
    return Path(os.environ.get("CABENCH_DATA", "data"))


def cabench_home() -> Path:
    return Path(os.environ.get("CABENCH_HOME", ".cabench"))


def cache_dir() -> Path:
    return cabench_home() / "cache"


def default_store() -> Path:
    return cabench_home() / "results.sqlite"


def checkpoints_dir() -> Path:
    return Path(os.environ.get("CABENCH_CHECKPOINTS", "models/checkpoints"))


def dataset_root(name: str, root: str | Path | None = None) -> Path:
    """The folder of dataset ``name``: the given root, else $CABENCH_DATA/name."""
    return Path(root) if root is not None else data_home() / name
