"""Training texts per case: the whole Findings section (clip) or one text per anatomy (fvlp,
cagcl), with the normal flags and text hashes that fVLM's false-negative handling needs."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from cabench.text.augment import TextAugmentation
from cabench.text.sections import anatomy_sentences, default_normal_text
from cabench.vocab import AnatomySet


def stable_text_hash(text: str) -> int:
    """A 63-bit hash of a text, identical across processes (Python's hash() is salted)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") >> 1


@dataclass
class CaseTexts:
    findings: str
    sentences: dict[str, list[str]]  # anatomy -> sentences, report order
    normal: dict[str, bool]  # anatomy -> every finding the set assigns to it is negative


def case_texts(
    report: Mapping[str, str], labels: Mapping[str, int], anatomy_set: AnatomySet
) -> CaseTexts:
    findings = report.get("Findings_EN", "") or report.get("Impressions_EN", "")
    normal = {
        anatomy: all(labels.get(f, 0) == 0 for f in anatomy_set.findings_of(anatomy))
        for anatomy in anatomy_set.anatomies
    }
    return CaseTexts(findings, anatomy_sentences(findings, anatomy_set), normal)


def anatomy_text_batch(
    cases: Sequence[CaseTexts],
    anatomies: Sequence[str],
    augmentation: TextAugmentation,
    rng: np.random.Generator,
) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """Texts (B*A, case-major), normal flags (B, A) and text hashes (B, A) for one batch."""
    texts: list[str] = []
    for case in cases:
        for anatomy in anatomies:
            sentences = case.sentences.get(anatomy) or []
            sentences = augmentation(sentences, rng) if sentences else sentences
            texts.append(" ".join(sentences) if sentences else default_normal_text(anatomy))
    normal = torch.tensor([[c.normal[a] for a in anatomies] for c in cases], dtype=torch.bool)
    hashes = torch.tensor([stable_text_hash(t) for t in texts], dtype=torch.int64)
    return texts, normal, hashes.view(len(cases), len(anatomies))
