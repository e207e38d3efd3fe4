"""Embedding caches: each volume is encoded once per model, each unique prompt once.

Keys are content hashes: the model's identity (config hash, weights sha256, tokenizer) with the
volume's content key (file hashes, mask hashes, preprocessing, reader options, anatomy set) or the
prompt's text. A changed input gets a new key, so a stale embedding is never read. One SQLite file
per model identity holds both kinds (transactional; two runs may fill it at once).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import numpy as np
import torch

from cabench import distributed, paths
from cabench.data.base import CaseRef, DatasetReader
from cabench.data.cache import VolumeCache
from cabench.data.loading import preprocessing_from
from cabench.data.preprocess import load_preprocessed
from cabench.models.adapter import VolumeEmbeddings, ZeroShotModel
from cabench.ui import track

SCHEMA = """
CREATE TABLE IF NOT EXISTS image (key TEXT PRIMARY KEY, global BLOB, anatomy BLOB, valid BLOB,
                                  dim INTEGER, anatomies INTEGER);
CREATE TABLE IF NOT EXISTS text (key TEXT PRIMARY KEY, vector BLOB NOT NULL);
"""


def _blob(array: np.ndarray | None) -> bytes | None:
    return None if array is None else np.ascontiguousarray(array, dtype=np.float32).tobytes()


class EmbeddingCache:
    """Cached embeddings of one model identity under ``<cache>/embeddings/<identity>.sqlite``."""

    def __init__(self, model_identity: str, cache_dir: Path | None = None) -> None:
        folder = (cache_dir or paths.cache_dir()) / "embeddings"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{model_identity[:32]}.sqlite"
        self.identity = model_identity
        with closing(self._connect()) as db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=120)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def _key(self, content: str) -> str:
        return hashlib.sha256(f"{self.identity}\x1f{content}".encode()).hexdigest()

    # -- text ------------------------------------------------------------------------------
    def texts(
        self, model: ZeroShotModel, texts: Sequence[str], batch_size: int = 128
    ) -> np.ndarray:
        """(N, D) embeddings of ``texts``; only texts not cached yet go through the encoder."""
        keys = [self._key("text:" + t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with closing(self._connect()) as db:
            for start in range(0, len(keys), 900):
                chunk = keys[start : start + 900]
                marks = ",".join("?" * len(chunk))
                for key, blob in db.execute(
                    f"SELECT key, vector FROM text WHERE key IN ({marks})", chunk
                ):
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        missing = [i for i, k in enumerate(keys) if k not in found]
        if missing:
            per_call = int(getattr(model, "texts_per_call", batch_size))
            encoded = _encode_by_length(model, [texts[i] for i in missing], per_call)
            with closing(self._connect()) as db, db:
                db.executemany(
                    "INSERT OR REPLACE INTO text VALUES (?, ?)",
                    [(keys[i], _blob(v)) for i, v in zip(missing, encoded, strict=True)],
                )
            for i, vector in zip(missing, encoded, strict=True):
                found[keys[i]] = vector
        return np.stack([found[k] for k in keys])

    # -- volumes ---------------------------------------------------------------------------
    def volumes(
        self,
        model: ZeroShotModel,
        reader: DatasetReader,
        cases: Sequence[CaseRef],
        batch_size: int = 16,
        volume_cache: VolumeCache | None = None,
    ) -> tuple[VolumeEmbeddings, int]:
        """Embeddings of every case (stacked in case order) and how many were encoded now."""
        volume_cache = volume_cache or VolumeCache()
        prep = preprocessing_from(model.preprocessing())
        anatomy_set = model.anatomy_set or "chest7"
        content = [volume_cache.key(reader, c, prep.key(), anatomy_set) for c in cases]
        keys = [self._key("volume:" + k) for k in content]
        rows = self._image_rows(keys)
        rank, world = distributed.rank(), distributed.world_size()
        if world > 1:
            # Every rank must split the same list of missing volumes: none writes to the cache
            # before all have read it (a fast rank's writes would shrink a slow rank's list, and
            # the volumes between the two splits would be encoded by no one).
            distributed.barrier()
        missing = [i for i, k in enumerate(keys) if k not in rows]
        # under torchrun each rank encodes every world-th missing volume into the shared cache
        mine = missing[rank::world] if world > 1 else missing
        needs_bits = model.anatomy_set is not None
        for start in track(range(0, len(mine), batch_size), f"encode volumes ({model.name})"):
            part = mine[start : start + batch_size]
            loaded = [
                load_preprocessed(reader, cases[i], prep, anatomy_set, volume_cache) for i in part
            ]
            hu = np.stack([h for h, _ in loaded])
            bits = np.stack([b for _, b in loaded]) if needs_bits else None
            out = model.encode_volumes(hu, bits)
            new = []
            for j, i in enumerate(part):
                anatomy = None if out.anatomy is None else out.anatomy[j]
                valid = None if out.anatomy_valid is None else out.anatomy_valid[j]
                glob = None if out.global_ is None else out.global_[j]
                dim = (anatomy if anatomy is not None else glob).shape[-1]
                n_anat = 0 if anatomy is None else anatomy.shape[0]
                valid_blob = None if valid is None else np.asarray(valid, np.uint8).tobytes()
                row = (_blob(glob), _blob(anatomy), valid_blob, dim, n_anat)
                rows[keys[i]] = row
                new.append((keys[i], *row))
            with closing(self._connect()) as db, db:
                db.executemany("INSERT OR REPLACE INTO image VALUES (?, ?, ?, ?, ?, ?)", new)
        if world > 1:
            distributed.barrier()
            others = [keys[i] for i in missing if keys[i] not in rows]
            rows.update(self._image_rows(others))
        return _stack([rows[k] for k in keys]), len(missing)

    def _image_rows(self, keys: list[str]) -> dict[str, tuple]:
        rows: dict[str, tuple] = {}
        with closing(self._connect()) as db:
            for start in range(0, len(keys), 900):
                chunk = keys[start : start + 900]
                marks = ",".join("?" * len(chunk))
                for row in db.execute(
                    f"SELECT key, global, anatomy, valid, dim, anatomies FROM image "
                    f"WHERE key IN ({marks})",
                    chunk,
                ):
                    rows[row[0]] = row[1:]
        return rows


def _encode_by_length(model: ZeroShotModel, texts: list[str], batch_size: int) -> np.ndarray:
    """(N, D) float32 embeddings of ``texts`` in their order, encoded shortest first.

    Each batch is padded to its longest text, so batches of similar lengths waste little work on
    padding; the attention mask keeps the embeddings the same (up to float rounding, ~1e-7).
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: np.ndarray | None = None
    with torch.inference_mode():
        for start in track(range(0, len(order), batch_size), "encode prompts"):
            rows = order[start : start + batch_size]
            vectors = model.encode_texts([texts[i] for i in rows])
            if out is None:
                out = np.empty((len(texts), vectors.shape[-1]), dtype=np.float32)
            out[rows] = vectors
    return out if out is not None else np.empty((0, 0), dtype=np.float32)


def _stack(rows: list[tuple]) -> VolumeEmbeddings:
    glob_rows = [r[0] for r in rows]
    dim, n_anat = rows[0][3], rows[0][4]
    glob = None if glob_rows[0] is None else np.stack(
        [np.frombuffer(b, np.float32) for b in glob_rows]
    )  # fmt: skip
    if not n_anat:
        return VolumeEmbeddings(glob)
    anatomy = np.stack([np.frombuffer(r[1], np.float32).reshape(n_anat, dim) for r in rows])
    valid = np.stack([np.frombuffer(r[2], np.uint8).astype(bool) for r in rows])
    return VolumeEmbeddings(glob, anatomy, valid)
