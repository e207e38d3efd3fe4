"""Preprocessing (MONAI transforms, in cabench.data.resample) into one spacing and shape, stored
compact and cached.

A volume (canonical IPL, HU) is clipped to the storage window, resampled to the target spacing
(trilinear for HU, nearest for the anatomy bit field), then centre-cropped or padded to the target
shape and stored as int16 HU + uint8 bits. Models apply their own intensity window on top. Nothing
here makes a float64 volume.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from cabench import ui, vocab
from cabench.data.base import CaseRef, DatasetReader
from cabench.data.cache import VolumeCache
from cabench.errors import UserError


@dataclass(frozen=True)
class Preprocessing:
    """Target spacing (mm, D/H/W; None keeps the native grid), shape (D, H, W), HU window, pad."""

    spacing: tuple[float, float, float] | None = (3.0, 1.5, 1.5)
    shape: tuple[int, int, int] = (64, 128, 128)
    clip: tuple[float, float] = (-1024.0, 3071.0)
    pad_value: float = -1024.0

    def __post_init__(self) -> None:
        if self.spacing is not None:
            if len(self.spacing) != 3 or not all(s > 0 for s in self.spacing):
                raise UserError(f"preprocessing spacing {self.spacing!r}: three positive mm values")
            object.__setattr__(self, "spacing", tuple(float(s) for s in self.spacing))
        if len(self.shape) != 3 or not all(int(s) >= 1 for s in self.shape):
            raise UserError(f"preprocessing shape {self.shape!r}: three positive integers")
        low, high = (float(v) for v in self.clip)
        if not -32768 <= low < high <= 32767:
            raise UserError(f"preprocessing clip {self.clip!r}: low < high within int16 range")
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        object.__setattr__(self, "clip", (low, high))
        object.__setattr__(self, "pad_value", float(self.pad_value))

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Preprocessing:
        """From a model preset's ``preprocessing:`` mapping (unknown keys are an error)."""
        known = set(cls.__dataclass_fields__)
        for key in data:
            if key not in known:
                raise UserError(f"preprocessing has no setting {key!r} (use {sorted(known)})")
        return cls(**data)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    def key(self) -> str:
        """Stable short hash of the settings (part of every cache key)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def bytes_per_case(prep: Preprocessing) -> int:
    """Bytes one cached case takes (int16 HU + uint8 bits), on disk and in RAM."""
    return math.prod(prep.shape) * (2 + 1)


def estimate_ram(prep: Preprocessing, cases: int) -> int:
    """Bytes to hold ``cases`` preprocessed cases in memory (e.g. a RAM cache)."""
    return bytes_per_case(prep) * cases


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GiB"


def _compute(
    reader: DatasetReader, case: CaseRef, prep: Preprocessing, anatomy_set: str
) -> tuple[np.ndarray, np.ndarray]:
    from cabench.data.resample import preprocess  # MONAI: imported only when a volume is computed

    volume = reader.read_volume(case)
    bits = reader.read_anatomy_bits(case, anatomy_set)
    hu, bits_out = preprocess(volume, bits, prep)
    return hu, bits_out if bits_out is not None else np.zeros(hu.shape, np.uint8)


def load_preprocessed(
    reader: DatasetReader,
    case: CaseRef,
    prep: Preprocessing,
    anatomy_set: str = "chest7",
    cache: VolumeCache | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(int16 HU, uint8 anatomy bits; zeros without a mask) for ``case``, via ``cache`` if given."""
    if cache is None:
        return _compute(reader, case, prep, anatomy_set)
    key = cache.key(reader, case, prep.key(), anatomy_set)
    found = cache.load(key)
    if found is not None:
        return found
    hu, bits = _compute(reader, case, prep, anatomy_set)
    cache.store(key, hu, bits)
    return hu, bits


class PreprocessedDataset(Dataset):
    """A torch Dataset of preprocessed cases: dicts of numpy arrays plus the case id.

    Items: ``case_id`` (str), ``index`` (int, into ``self.cases`` for report text and meta),
    ``hu`` int16 (D, H, W), ``bits`` uint8 (D, H, W), ``has_mask`` (bool), and ``labels`` int8
    over the 18 CT-RATE findings in vocab order, -1 where the dataset has no label.
    """

    def __init__(
        self,
        reader: DatasetReader,
        cases: Sequence[CaseRef],
        prep: Preprocessing,
        anatomy_set: str = "chest7",
        cache: VolumeCache | None = None,
    ) -> None:
        self.reader, self.cases, self.prep = reader, list(cases), prep
        self.anatomy_set, self.cache = anatomy_set, cache
        self.findings = vocab.finding_names()

    def __len__(self) -> int:
        return len(self.cases)

    def __getitem__(self, index: int) -> dict[str, object]:
        case = self.cases[index]
        hu, bits = load_preprocessed(self.reader, case, self.prep, self.anatomy_set, self.cache)
        labels = np.array([case.labels.get(f, -1) for f in self.findings], dtype=np.int8)
        return {
            "case_id": case.case_id,
            "index": index,
            "hu": hu,
            "bits": bits,
            "has_mask": case.mask_path is not None,
            "labels": labels,
        }


def _fill(
    reader: DatasetReader, case: CaseRef, prep: Preprocessing, anatomy_set: str, cache: VolumeCache
) -> bool:
    """Make sure ``case`` is cached; True when it already was."""
    before = cache.hits
    load_preprocessed(reader, case, prep, anatomy_set, cache)
    return cache.hits > before


_WORKER: dict[str, object] = {}


def _worker_init(
    reader: DatasetReader, prep: Preprocessing, anatomy_set: str, cache_dir: str
) -> None:
    torch.set_num_threads(1)
    _WORKER.update(reader=reader, prep=prep, anatomy_set=anatomy_set, cache=VolumeCache(cache_dir))


def _worker_fill(case: CaseRef) -> bool:
    return _fill(case=case, **_WORKER)  # type: ignore[arg-type]


def warm_cache(
    reader: DatasetReader,
    cases: Sequence[CaseRef],
    prep: Preprocessing,
    anatomy_set: str = "chest7",
    cache: VolumeCache | None = None,
    workers: int = 1,
) -> dict[str, object]:
    """Fill the cache for ``cases`` with a progress bar (``workers`` > 1: worker processes).

    Returns the number of cases, how many were already cached, seconds taken and the bytes the
    cached cases take.
    """
    cache = cache or VolumeCache()
    cases = list(cases)
    if ui.progress_enabled():
        ui.console.print(
            f"cache {cache.dir}: {len(cases)} cases x {format_bytes(bytes_per_case(prep))} = "
            f"{format_bytes(estimate_ram(prep, len(cases)))} on disk (and in RAM if held there)"
        )
    start, hits = time.perf_counter(), 0
    if workers <= 1:
        for case in ui.track(cases, "preprocessing"):
            hits += _fill(reader, case, prep, anatomy_set, cache)
    else:
        # fork (as torch's DataLoader does) starts workers in milliseconds where spawn re-imports
        # torch and MONAI for seconds; workers run torch single-threaded, and all of them are
        # started at the first submit, before the progress bar's thread exists.
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        if method == "fork":
            import cabench.data.resample  # noqa: F401  (imported once here, not in every worker)
        context = multiprocessing.get_context(method)
        init = (reader, prep, anatomy_set, str(cache.dir))
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=_worker_init, initargs=init
        ) as pool:
            futures = [pool.submit(_worker_fill, case) for case in cases]
            for future in ui.track(as_completed(futures), "preprocessing", total=len(futures)):
                hits += future.result()
    return {
        "cases": len(cases),
        "hits": hits,
        "seconds": round(time.perf_counter() - start, 3),
        "bytes": estimate_ram(prep, len(cases)),
    }
