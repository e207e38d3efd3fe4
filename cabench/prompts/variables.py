"""The variables a prompt template may use, built per finding from the vocabulary data files.

Finding names, short forms and synonyms come from :mod:`cabench.vocab`; articles, descriptors,
location phrases and the anatomy fallback come from ``cabench/prompts/vocabulary.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

import yaml

from cabench import vocab
from cabench.errors import UserError
from cabench.vocab import AnatomySet, Finding

VARIABLES: dict[str, str] = {
    "finding": "display name, e.g. 'Lung nodule'",
    "finding_short": "fVLM's short form, e.g. 'Nodule', 'Atelectatic'",
    "a_finding": "lower-case finding with its indefinite article: 'a lung nodule', 'atelectasis'",
    "article": "the finding's indefinite article: 'a', 'an' or '' for mass nouns",
    "synonym": "first synonym (lower case), or the finding in lower case if it has none",
    "synonyms": "list of synonyms (lower case), possibly empty",
    "descriptor": "a typical qualifier: 'small', 'mild', 'subsegmental'",
    "location": "a typical location phrase, e.g. 'in the lower lobes'; may be ''",
    "anatomy": "the finding's anatomy in the chosen anatomy set, else the fallback ('chest')",
}

# Variables that name the finding; a template must mention one where partial cannot drop it.
FINDING_VARIABLES = frozenset({"finding", "finding_short", "a_finding", "synonym", "synonyms"})
_VOCAB_FIELDS = ("article", "descriptor", "location")


@dataclass(frozen=True)
class Vocabulary:
    """Per-finding sentence vocabulary and the anatomy used where a set assigns none."""

    anatomy_fallback: str
    findings: dict[str, dict[str, str]]


@cache
def vocabulary() -> Vocabulary:
    """Load and check ``vocabulary.yaml``: every CT-RATE finding, nothing else, all fields."""
    source = "cabench/prompts/vocabulary.yaml"
    data = yaml.safe_load((files("cabench.prompts") / "vocabulary.yaml").read_text("utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("findings"), dict):
        raise UserError(f"{source}: expected a mapping with a 'findings' mapping")
    known = set(vocab.finding_names())
    entries = data["findings"]
    if set(entries) != known:
        missing, extra = sorted(known - set(entries)), sorted(set(entries) - known)
        raise UserError(
            f"{source}: findings differ from the vocabulary (missing {missing}, extra {extra})"
        )
    table: dict[str, dict[str, str]] = {}
    for name, entry in entries.items():
        if not isinstance(entry, dict) or any(f not in entry for f in _VOCAB_FIELDS):
            raise UserError(f"{source}: finding {name!r} needs {', '.join(_VOCAB_FIELDS)}")
        table[name] = {f: str(entry[f] or "") for f in _VOCAB_FIELDS}
    return Vocabulary(str(data.get("anatomy_fallback") or "chest"), table)


def anatomy_for(finding: Finding, anatomy_set: AnatomySet) -> str:
    """The finding's anatomy in ``anatomy_set``, or the vocabulary's fallback if it has none."""
    return anatomy_set.anatomy_of(finding.name) or vocabulary().anatomy_fallback


def context(finding: Finding, anatomy_set: AnatomySet) -> dict[str, Any]:
    """All template variables for one finding in one anatomy set."""
    words = vocabulary().findings.get(finding.name, dict.fromkeys(_VOCAB_FIELDS, ""))
    lower = finding.name.lower()
    synonyms = [s.lower() for s in finding.synonyms]
    return {
        "finding": finding.name,
        "finding_short": finding.short,
        "a_finding": f"{words['article']} {lower}".strip(),
        "article": words["article"],
        "synonym": synonyms[0] if synonyms else lower,
        "synonyms": synonyms,
        "descriptor": words["descriptor"],
        "location": words["location"],
        "anatomy": anatomy_for(finding, anatomy_set),
    }
