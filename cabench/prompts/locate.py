"""Where prompt families are found: by name on a search path, or by path.

Built-in families live in the checkout's top-level ``prompts/`` folder; folders listed in
``CABENCH_PROMPTS_PATH`` (os.pathsep-separated) are searched first, so a user's folder can shadow
a built-in. A path to a ``.yaml`` file always works.
"""

from __future__ import annotations

import os
from pathlib import Path

import cabench
from cabench.errors import UserError
from cabench.registry import did_you_mean

ENV_VAR = "CABENCH_PROMPTS_PATH"


def repo_root() -> Path:
    """The checkout cabench runs from (the folder holding the ``cabench`` package)."""
    return Path(cabench.__file__).resolve().parents[1]


def builtin_dir() -> Path:
    return repo_root() / "prompts"


def search_path() -> list[Path]:
    """Folders searched for families by name: $CABENCH_PROMPTS_PATH first, then the built-ins."""
    extra = [Path(p) for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p.strip()]
    return [*extra, builtin_dir()]


def family_files() -> dict[str, Path]:
    """Family name (file stem) -> file, the first folder on the search path winning."""
    found: dict[str, Path] = {}
    for folder in search_path():
        if not folder.is_dir():
            continue
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            found.setdefault(path.stem, path)
    return found


def family_names() -> list[str]:
    return sorted(family_files())


def looks_like_path(text: str) -> bool:
    return text.endswith((".yaml", ".yml")) or "/" in text or os.sep in text


def resolve(name_or_path: str) -> Path:
    """The file of a family given by name (search path) or by path."""
    if looks_like_path(name_or_path):
        path = Path(name_or_path)
        if not path.is_file():
            raise UserError(f"prompt family file {name_or_path} not found: check the path")
        return path
    files = family_files()
    if name_or_path not in files:
        raise UserError(
            f"unknown prompt family {name_or_path!r}: {did_you_mean(name_or_path, sorted(files))}"
            " (or give a path to a .yaml file)"
        )
    return files[name_or_path]
