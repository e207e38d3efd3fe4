"""CT-RATE style English reports written from a phantom's findings.

``Findings_EN`` walks the chest in a radiologist's order (airways, aorta, heart, esophagus,
mediastinum, lungs, pleura, with small reorderings), one sentence about ONE chest7 anatomy at a
time: the positive findings with their size, side and lobe, and normal statements for what is
normal. Every finding and every normal statement has several phrasings. ``Impressions_EN``
summarises the positives. The sentence -> anatomy list is returned as ground truth for the report
splitter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from cabench.data.synth_phrases import IMPRESSION, NEGATIVE, NO_FINDINGS, NORMAL, POSITIVE
from cabench.vocab import anatomy_set, finding_names

ORDER = ("airway", "aorta", "heart", "esophagus", "mediastinum", "lung", "pleura")


@dataclass(frozen=True)
class Sentence:
    """One sentence of Findings_EN and the chest7 anatomy it is about."""

    anatomy: str  # a chest7 anatomy
    text: str
    finding: str | None = None  # the finding it states (None for a general normal statement)
    positive: bool = False


@dataclass(frozen=True)
class Report:
    """The report sections of one scan plus its sentences in Findings_EN order."""

    clinical: str
    technique: str
    findings: str
    impressions: str
    sentences: tuple[Sentence, ...]

    def sections(self) -> dict[str, str]:
        """The four CT-RATE report columns."""
        return {
            "ClinicalInformation_EN": self.clinical,
            "Technique_EN": self.technique,
            "Findings_EN": self.findings,
            "Impressions_EN": self.impressions,
        }


def _choice(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _order(rng: np.random.Generator) -> list[str]:
    """The radiologist's walk through the chest, with the usual small swaps."""
    order = list(ORDER)
    for a, b, p in (
        ("aorta", "heart", 0.3),
        ("esophagus", "mediastinum", 0.3),
        ("lung", "pleura", 0.2),
    ):
        i, j = order.index(a), order.index(b)
        if rng.random() < p:
            order[i], order[j] = order[j], order[i]
    if rng.random() < 0.2:
        order.append(order.pop(0))
    return order


def anatomy_sentences(
    rng: np.random.Generator, anatomy: str, labels: Mapping[str, int], details: Mapping[str, dict]
) -> list[Sentence]:
    """The sentences about one chest7 anatomy."""
    own = anatomy_set("chest7").findings_of(anatomy)
    positives = [f for f in own if labels.get(f)]
    if not positives:
        if rng.random() < 0.6 or len(own) == 1:
            return [Sentence(anatomy, _choice(rng, NORMAL[anatomy]))]
        picks = rng.choice(len(own), size=min(2, len(own)), replace=False)
        return [Sentence(anatomy, _choice(rng, NEGATIVE[own[i]]), own[i]) for i in sorted(picks)]
    out = []
    for f in [positives[i] for i in rng.permutation(len(positives))]:
        out.append(Sentence(anatomy, _choice(rng, POSITIVE[f](details[f])), f, True))
    for f in own:
        if not labels.get(f) and rng.random() < (0.5 if len(own) <= 3 else 0.15):
            out.append(Sentence(anatomy, _choice(rng, NEGATIVE[f]), f))
    return out


def write_report(
    rng: np.random.Generator,
    labels: Mapping[str, int],
    details: Mapping[str, dict],
    *,
    age: int,
    sex: str,
    slice_mm: float,
) -> Report:
    """A full CT-RATE style report for one scan."""
    sentences: list[Sentence] = []
    for anatomy in _order(rng):
        sentences.extend(anatomy_sentences(rng, anatomy, labels, details))
    positives = [f for f in finding_names() if labels.get(f)]
    impressions = " ".join(IMPRESSION[f](details[f]) for f in positives)
    return Report(
        clinical=_clinical(rng, positives, age, sex),
        technique=_technique(rng, slice_mm),
        findings=" ".join(s.text for s in sentences),
        impressions=impressions or _choice(rng, NO_FINDINGS),
        sentences=tuple(sentences),
    )


def _clinical(rng: np.random.Generator, positives: list[str], age: int, sex: str) -> str:
    if rng.random() < 0.3:
        return "Not given."
    reasons = [
        "Chest pain.",
        "Cough.",
        "Shortness of breath.",
        "Routine control.",
        "Malignancy screening.",
        "Trauma.",
    ]
    if {"Consolidation", "Lung opacity"} & set(positives):
        reasons += ["Fever and cough.", "Pneumonia?"]
    if "Lung nodule" in positives:
        reasons += ["Follow-up of a pulmonary nodule."]
    if {"Cardiomegaly", "Pleural effusion", "Pericardial effusion"} & set(positives):
        reasons += ["Dyspnea.", "Heart failure?"]
    reason = _choice(rng, reasons)
    if rng.random() < 0.3:
        person = "man" if sex == "M" else "woman"
        return f"{age}-year-old {person}. {reason}"
    return reason


def _technique(rng: np.random.Generator, slice_mm: float) -> str:
    if rng.random() < 0.15:
        return "Not given."
    thickness = f"{slice_mm:g}"
    return _choice(
        rng,
        [
            f"Non-contrast thorax CT was performed with {thickness} mm slice thickness in "
            "the axial plane.",
            f"Multislice helical CT of the chest without contrast, {thickness} mm sections.",
            "Axial images of the thorax were obtained without intravenous contrast.",
        ],
    )
