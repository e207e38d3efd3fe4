"""`dummy`: a chance-level model behind the adapter protocol, needing no checkpoint.

Text embeddings are pseudo-random per text (seeded by its sha256) and volume embeddings are
pseudo-random projections of the volume's voxels, so scores are deterministic, cheap and carry no
information about the findings: a sanity baseline (AUC near 0.5) and a fast model for tests, the
way lm-evaluation-harness uses its dummy model.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from cabench.models.adapter import VolumeEmbeddings
from cabench.vocab import anatomy_set

DIM = 32


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


class DummyModel:
    name = "dummy"
    logit_scale = 10.0

    def __init__(self, anatomy_level: bool = True, shape: tuple[int, int, int] = (16, 32, 32)):
        self.anatomy_set = "chest7" if anatomy_level else None
        self.anatomies = anatomy_set("chest7").anatomies if anatomy_level else ()
        self.shape = shape
        self._projection = np.random.default_rng(0).normal(size=(int(np.prod(shape)), DIM))

    def identity(self) -> str:
        return hashlib.sha256(f"dummy:{self.anatomy_set}:{self.shape}".encode()).hexdigest()

    def preprocessing(self) -> dict[str, Any]:
        return {"spacing": [10.0, 10.0, 10.0], "shape": list(self.shape)}

    def encode_volumes(self, hu: np.ndarray, bits: np.ndarray | None) -> VolumeEmbeddings:
        flat = hu.reshape(len(hu), -1).astype(np.float32) / 1000.0
        base = flat @ self._projection
        if not self.anatomies:
            return VolumeEmbeddings(_unit(base))
        offsets = np.random.default_rng(1).normal(size=(len(self.anatomies), DIM))
        anatomy = _unit(base[:, None, :] + offsets[None])
        valid = np.ones((len(hu), len(self.anatomies)), dtype=bool)
        if bits is not None:
            present = [
                (bits & (1 << a)).reshape(len(hu), -1).any(1) for a in range(len(self.anatomies))
            ]
            valid = np.stack(present, axis=1)
        return VolumeEmbeddings(None, anatomy, valid)

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        rows = [
            np.random.default_rng(
                int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
            ).normal(size=DIM)
            for t in texts
        ]
        return _unit(np.stack(rows)) if rows else np.zeros((0, DIM), np.float32)


def load_dummy(checkpoint: Path | None = None, device: str = "auto") -> DummyModel:
    return DummyModel()
