"""Training and validation data in memory: preprocessed volumes (int16 HU), anatomy bit fields
(uint8) and the texts of each case, loaded once through the content-addressed volume cache."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cabench.data.base import CaseRef, DatasetReader
from cabench.errors import UserError
from cabench.models.config import ModelConfig
from cabench.text.targets import CaseTexts, case_texts
from cabench.vocab import anatomy_set


@dataclass
class TrainingSet:
    cases: list[CaseRef]
    hu: np.ndarray  # (N, D, H, W) int16
    bits: np.ndarray | None  # (N, D, H, W) uint8
    texts: list[CaseTexts]
    labels: np.ndarray  # (N, F) int8 over the dataset's labelled findings, -1 = unlabelled
    findings: list[str]

    def __len__(self) -> int:
        return len(self.cases)


def load_training_set(
    reader: DatasetReader, config: ModelConfig, split: str, max_cases: int | None
) -> TrainingSet:
    """Every case of ``split`` (the first ``max_cases`` if given) ready for the training loop."""
    from cabench.data.loading import load_split_arrays, preprocessing_from

    cases = reader.cases(split)
    if max_cases is not None:
        cases = cases[:max_cases]
    if not cases:
        raise UserError(f"dataset {reader.name!r} at {reader.root} has no {split!r} cases")
    missing = [c.case_id for c in cases if not c.report or not c.report.get("Findings_EN")]
    if split == "train" and len(missing) == len(cases):
        raise UserError(
            f"dataset {reader.name!r} has no report text to train on (e.g. Rad-ChestCT is an "
            "evaluation-only dataset); train on ct-rate or synth-ct-rate"
        )
    aset = anatomy_set(config.anatomy_set)
    need_masks = config.anatomy_level
    hu, bits = load_split_arrays(
        reader,
        cases,
        preprocessing_from(vars(config.preprocessing)),
        config.anatomy_set if need_masks else None,
        description=f"load {split}",
    )
    if need_masks and bits is None:
        raise UserError(
            f"model {config.name!r} is anatomy-level and needs anatomy masks, but dataset "
            f"{reader.name!r} at {reader.root} has none; see docs/datasets.md (anatomy masks)"
        )
    findings = reader.labelled_findings()
    labels = np.array(
        [[c.labels.get(f, -1) for f in findings] for c in cases], dtype=np.int8
    ).reshape(len(cases), len(findings))
    texts = [case_texts(c.report or {}, c.labels, aset) for c in cases]
    return TrainingSet(cases, hu, bits, texts, labels, findings)
