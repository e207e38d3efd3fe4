"""Preprocessed volumes of many cases as stacked arrays (for training in memory) or batches (for
encoding), always through the content-addressed volume cache."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from cabench.data.base import CaseRef, DatasetReader
from cabench.data.cache import VolumeCache
from cabench.data.preprocess import Preprocessing, load_preprocessed, warm_cache


def preprocessing_from(settings: Mapping[str, Any]) -> Preprocessing:
    """A Preprocessing from a model's {"spacing": [...], "shape": [...]} (other keys ignored)."""
    return Preprocessing(spacing=tuple(settings["spacing"]), shape=tuple(settings["shape"]))


def has_masks(cases: Sequence[CaseRef]) -> bool:
    return any(case.mask_path is not None for case in cases)


def iter_batches(
    reader: DatasetReader,
    cases: Sequence[CaseRef],
    prep: Preprocessing,
    anatomy_set: str | None,
    batch_size: int,
    cache: VolumeCache | None = None,
) -> Iterator[tuple[slice, np.ndarray, np.ndarray | None]]:
    """(slice into ``cases``, int16 HU (B, D, H, W), uint8 bits or None) per batch."""
    cache = cache or VolumeCache()
    masks = anatomy_set is not None and has_masks(cases)
    for start in range(0, len(cases), batch_size):
        part = slice(start, min(start + batch_size, len(cases)))
        loaded = [
            load_preprocessed(reader, case, prep, anatomy_set or "chest7", cache)
            for case in cases[part]
        ]
        hu = np.stack([h for h, _ in loaded])
        bits = np.stack([b for _, b in loaded]) if masks else None
        yield part, hu, bits


def load_split_arrays(
    reader: DatasetReader,
    cases: Sequence[CaseRef],
    prep: Preprocessing,
    anatomy_set: str | None,
    description: str = "load",
    workers: int = 1,
) -> tuple[np.ndarray, np.ndarray | None]:
    """All cases stacked in memory: int16 HU (N, D, H, W) and uint8 bits (None without masks)."""
    cache = VolumeCache()
    warm_cache(reader, cases, prep, anatomy_set or "chest7", cache, workers=workers)
    hu = np.empty((len(cases), *prep.shape), dtype=np.int16)
    masks = anatomy_set is not None and has_masks(cases)
    bits = np.empty((len(cases), *prep.shape), dtype=np.uint8) if masks else None
    for part, batch_hu, batch_bits in iter_batches(reader, cases, prep, anatomy_set, 64, cache):
        hu[part] = batch_hu
        if bits is not None:
            bits[part] = batch_bits
    return hu, bits
