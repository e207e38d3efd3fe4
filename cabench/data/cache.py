"""A content-addressed on-disk cache of preprocessed volumes (int16 HU + uint8 anatomy bits).

The key hashes everything that changes the cached voxels: the bytes of the volume and mask files,
the preprocessing, the reader's voxel options (layout, rescale, spacing, mask label table) and the
anatomy set's definition. A changed input gives a new key, so a stale entry is never read.

Writes go to a temporary file in the same folder and are renamed into place (os.replace), so two
processes filling the cache at once at worst both write the same entry; a reader never sees a
partial file. File hashes are remembered by (path, size, mtime_ns) so unchanged files are not
re-hashed on every run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from cabench import paths, vocab
from cabench.data.base import CaseRef, DatasetReader

CACHE_FORMAT = 1
CHUNK = 1 << 20
RACY_NS = 2_000_000_000


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary sibling and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def atomic_save_npz(path: Path, **arrays: np.ndarray) -> None:
    """``np.savez`` (uncompressed: fast to load) written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".npz.tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, **arrays)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class FileHasher:
    """sha256 of files, remembered per (resolved path, size, mtime_ns) in small JSON entries."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self.computed = 0  # files actually read and hashed by this instance (for tests, stats)

    def _entry(self, path: Path) -> Path:
        return self.index_dir / (hashlib.sha1(str(path).encode()).hexdigest() + ".json")

    def hash(self, path: str | Path) -> str:
        path = Path(path).resolve()
        stat = path.stat()
        stamp = {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        entry = self._entry(path)
        try:
            known = json.loads(entry.read_text())
            if {k: known.get(k) for k in stamp} == stamp and isinstance(known.get("sha256"), str):
                return known["sha256"]
        except (OSError, ValueError):
            pass
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while block := handle.read(CHUNK):
                digest.update(block)
        self.computed += 1
        stamp["sha256"] = digest.hexdigest()
        # A file modified within the timestamp granularity could change again unseen with the
        # same (size, mtime): remember only files that have been still for a while ("racy git").
        if time.time_ns() - stat.st_mtime_ns > RACY_NS:
            atomic_write_bytes(entry, json.dumps(stamp).encode())
        return stamp["sha256"]


def anatomy_identity(anatomy_set: str) -> dict[str, object]:
    """What about an anatomy set changes the bits: its anatomies, in order, and merge tables."""
    aset = vocab.anatomy_set(anatomy_set)
    merge = {src: {a: list(s) for a, s in table.items()} for src, table in aset.merge.items()}
    return {"anatomies": list(aset.anatomies), "merge": merge}


class VolumeCache:
    """Preprocessed volumes by content key under ``cache_dir`` (default <cache>/volumes)."""

    def __init__(self, cache_dir: str | Path | None = None) -> None:
        self.dir = Path(cache_dir) if cache_dir is not None else paths.cache_dir() / "volumes"
        self.hasher = FileHasher(self.dir / "file_hashes")
        self.hits = 0
        self.misses = 0

    def key(self, reader: DatasetReader, case: CaseRef, prep_key: str, anatomy_set: str) -> str:
        """Content key of one case under one preprocessing and anatomy set."""
        volume_files, mask_files = reader.input_files(case)
        material = {
            "format": CACHE_FORMAT,
            "volume": [self.hasher.hash(p) for p in volume_files],
            "mask": [[p.name, self.hasher.hash(p)] for p in mask_files] or "none",
            "preprocessing": prep_key,
            "reader": reader.voxel_options(case),
            "anatomy_set": anatomy_identity(anatomy_set),
        }
        text = json.dumps(material, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.npz"

    def load(self, key: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The cached (hu, bits), or None on a miss (an unreadable entry counts as a miss)."""
        path = self.path(key)
        try:
            with np.load(path, allow_pickle=False) as archive:
                hu, bits = archive["hu"], archive["bits"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            self.misses += 1
            return None
        if hu.dtype != np.int16 or bits.dtype != np.uint8 or hu.shape != bits.shape:
            self.misses += 1
            return None
        self.hits += 1
        return hu, bits

    def store(self, key: str, hu: np.ndarray, bits: np.ndarray) -> Path:
        path = self.path(key)
        atomic_save_npz(
            path, hu=hu.astype(np.int16, copy=False), bits=bits.astype(np.uint8, copy=False)
        )
        return path

    def entries(self) -> list[Path]:
        """Every cached volume file (for sizes and cleaning)."""
        return sorted(self.dir.glob("??/*.npz"))
