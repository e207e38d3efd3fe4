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


def test_ranks_split_the_same_missing_volumes_whatever_their_timing(small_sites, tmp_path,
                                                                    monkeypatch):  # fmt: skip
    """Two ranks (threads here) share one cache; rank 1 runs ahead. Each must still split the
    list of missing volumes both saw before anyone wrote, so every volume is encoded once."""
    import threading
    import time

    from cabench import distributed
    from cabench.data import open_dataset
    from cabench.data.cache import VolumeCache
    from cabench.data.loading import preprocessing_from
    from cabench.data.preprocess import load_preprocessed
    from cabench.models.dummy import DummyModel

    reader = open_dataset("synth-ct-rate", small_sites["synth-ct-rate"])
    cases = [c for s in reader.splits() for c in reader.cases(s)][:8]
    volume_cache = VolumeCache(tmp_path / "volumes")
    model = DummyModel(anatomy_level=False)
    prep = preprocessing_from(model.preprocessing())
    for case in cases:  # preprocessed up front, so rank 1 writes its embeddings within moments
        load_preprocessed(reader, case, prep, "chest7", volume_cache)
    local = threading.local()
    barrier = threading.Barrier(2, timeout=60)
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    monkeypatch.setattr(distributed, "rank", lambda: local.rank)
    monkeypatch.setattr(distributed, "barrier", lambda: barrier.wait())
    encoded: dict[int, int] = {}
    results: dict[int, object] = {}

    def rank_main(rank: int) -> None:
        local.rank = rank
        if rank == 0:
            time.sleep(1.0)  # rank 1 gets well ahead
        try:
            cache = EmbeddingCache(model.identity(), tmp_path / "embeddings")
            volumes, encoded[rank] = cache.volumes(model, reader, cases, 2, volume_cache)
            results[rank] = volumes.global_
        except Exception as exc:  # surfaced by the assertions below
            barrier.abort()
            results[rank] = exc

    threads = [threading.Thread(target=rank_main, args=(r,)) for r in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(isinstance(r, Exception) for r in results.values()), results
    assert encoded == {0: 8, 1: 8}  # both saw all 8 missing and split them
    np.testing.assert_array_equal(results[0], results[1])
