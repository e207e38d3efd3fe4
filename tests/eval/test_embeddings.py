"""Prompt embeddings: encoded shortest first in batches, returned in the order asked."""

from __future__ import annotations

import numpy as np

from cabench.eval.embeddings import EmbeddingCache


class _LengthModel:
    """Encodes a text as (length, first character code); records each batch."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return np.array([[len(t), ord(t[0])] for t in texts], dtype=np.float64)


def test_texts_come_back_in_order_from_length_sorted_batches(tmp_path):
    texts = ["ccc", "a", "bbbbb", "dd", "eeee", "f" * 9, "g"]
    model = _LengthModel()
    cache = EmbeddingCache("identity", tmp_path)
    vectors = cache.texts(model, texts, batch_size=3)
    assert vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors[:, 0], [len(t) for t in texts])
    np.testing.assert_array_equal(vectors[:, 1], [ord(t[0]) for t in texts])
    lengths = [len(t) for batch in model.batches for t in batch]
    assert lengths == sorted(lengths) and [len(b) for b in model.batches] == [3, 3, 1]
    again = cache.texts(model, list(reversed(texts)))  # all cached: no new batch
    assert len(model.batches) == 3
    np.testing.assert_array_equal(again, vectors[::-1])
