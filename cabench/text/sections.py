"""Split a report's findings into sentences and assign each sentence to anatomies.

FVLP and CA-GCL align each anatomy's visual embedding with the report sentences about that
anatomy. Real CT-RATE reports have no per-anatomy structure, so sentences are assigned by keyword
rules (``anatomy_keywords.yaml``, chest7 granularity) and then merged into the anatomies of the
chosen anatomy set. An anatomy with no sentence gets fVLM's default normal text.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING

import yaml

from cabench.vocab import AnatomySet

if TYPE_CHECKING:
    import torch

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])")
CHEST7 = ("lung", "airway", "pleura", "heart", "aorta", "esophagus", "mediastinum")


@cache
def _rules() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    data = yaml.safe_load((files("cabench.text") / "anatomy_keywords.yaml").read_text())
    keywords = {a: tuple(k.lower() for k in words) for a, words in data["keywords"].items()}
    overrides = {p.lower(): tuple(a) for p, a in data["overrides"].items()}
    return keywords, overrides


def split_sentences(text: str) -> list[str]:
    """Sentences of a report section, whitespace-normalised, empty ones dropped."""
    text = " ".join((text or "").split())
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def split_into_sentences(texts: list[str]) -> tuple[list[str], torch.Tensor]:
    """Texts -> their sentences (a text without a sentence boundary is one sentence) and, for
    each sentence, the index of its text (for text_encoder.sentence_pooling: mean)."""
    import torch

    sentences: list[str] = []
    groups: list[int] = []
    for index, text in enumerate(texts):
        parts = split_sentences(text) or [text]
        sentences.extend(parts)
        groups.extend([index] * len(parts))
    return sentences, torch.tensor(groups, dtype=torch.long)


def chest7_anatomies(sentence: str) -> list[str]:
    """The chest7 anatomies a sentence talks about (possibly none)."""
    keywords, overrides = _rules()
    lowered = sentence.lower()
    for phrase, anatomies in overrides.items():
        if phrase in lowered:
            return list(anatomies)
    return [a for a in CHEST7 if any(k in lowered for k in keywords[a])]


def default_normal_text(anatomy: str) -> str:
    """fVLM's text for an anatomy the report does not mention."""
    return f"{anatomy.capitalize()} shows no significant abnormalities."


def sentence_sources(anatomy_set: AnatomySet) -> dict[str, tuple[str, ...]]:
    """Which chest7 anatomies feed each anatomy of ``anatomy_set`` (identity for chest7)."""
    sources = getattr(anatomy_set, "sentence_sources", None) or {}
    return {a: tuple(sources.get(a, (a,))) for a in anatomy_set.anatomies}


def anatomy_sentences(findings_text: str, anatomy_set: AnatomySet) -> dict[str, list[str]]:
    """Per anatomy of the set, the report sentences about it, in report order."""
    sources = sentence_sources(anatomy_set)
    result: dict[str, list[str]] = {a: [] for a in anatomy_set.anatomies}
    for sentence in split_sentences(findings_text):
        about = set(chest7_anatomies(sentence))
        for anatomy, feeding in sources.items():
            if about.intersection(feeding):
                result[anatomy].append(sentence)
    return result


def anatomy_texts(findings_text: str, anatomy_set: AnatomySet) -> dict[str, str]:
    """One text per anatomy: its sentences joined, or the default normal text."""
    return {
        anatomy: " ".join(sentences) if sentences else default_normal_text(anatomy)
        for anatomy, sentences in anatomy_sentences(findings_text, anatomy_set).items()
    }
