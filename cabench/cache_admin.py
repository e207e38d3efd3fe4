"""`cabench cache info|clear`: sizes and cleaning of the volume and embedding caches."""

from __future__ import annotations

import shutil
from pathlib import Path

from cabench import paths
from cabench.errors import UserError
from cabench.ui import stdout

KINDS = {"volumes": "volumes", "embeddings": "embeddings"}


def _size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    return len(files), sum(p.stat().st_size for p in files)


def print_cache_info() -> None:
    root = paths.cache_dir()
    stdout.print(f"cache root: {root}")
    for kind, sub in KINDS.items():
        count, size = _size(root / sub)
        stdout.print(f"  {kind:<11} {count:>7} files  {size / 2**20:>9.1f} MiB  {root / sub}")


def clear_cache(what: str) -> str:
    if what not in ("all", *KINDS):
        raise UserError(f"--what {what!r}: use all, volumes or embeddings")
    root = paths.cache_dir()
    cleared = []
    for kind, sub in KINDS.items():
        if what in ("all", kind) and (root / sub).exists():
            shutil.rmtree(root / sub)
            cleared.append(kind)
    return f"cleared {', '.join(cleared) or 'nothing'} under {root}"
