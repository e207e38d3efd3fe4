"""The vocabulary cabench speaks: findings, anatomy sets, synthetic structure labels and the
Rad-ChestCT to CT-RATE label map. All of it lives in data files under ``cabench/vocab_data``; this
module only loads and checks them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path

import yaml

from cabench.errors import UserError
from cabench.registry import did_you_mean

_DATA = files("cabench") / "vocab_data"


@dataclass(frozen=True)
class Finding:
    """One CT-RATE finding: display name, slug, fVLM short form and synonyms."""

    name: str
    key: str
    short: str
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnatomySet:
    """Anatomies, the finding -> anatomy map, and how to build each anatomy's mask per source."""

    name: str
    description: str
    anatomies: tuple[str, ...]
    finding_anatomy: dict[str, str]
    merge: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    # which chest7 anatomies' report sentences feed each anatomy (identity where absent)
    sentence_sources: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def anatomy_of(self, finding: str) -> str | None:
        """The anatomy a finding belongs to, or None where the set leaves it unassigned."""
        return self.finding_anatomy.get(finding)

    def findings_of(self, anatomy: str) -> list[str]:
        return [f for f, a in self.finding_anatomy.items() if a == anatomy]


def _read_yaml(text: str, source: str) -> dict:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserError(f"{source}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"{source}: expected a YAML mapping at the top level")
    return data


@cache
def findings() -> tuple[Finding, ...]:
    """The 18 CT-RATE findings in the published label-column order."""
    data = _read_yaml((_DATA / "findings.yaml").read_text(), "findings.yaml")
    return tuple(
        Finding(f["name"], f["key"], f.get("short", f["name"]), tuple(f.get("synonyms", ())))
        for f in data["findings"]
    )


def finding_names() -> list[str]:
    return [f.name for f in findings()]


def finding(name: str) -> Finding:
    """Look a finding up by display name or key (case-insensitive)."""
    lowered = name.lower()
    for f in findings():
        if lowered in (f.name.lower(), f.key):
            return f
    raise UserError(f"unknown finding {name!r}: {did_you_mean(name, finding_names())}")


def anatomy_set_names() -> list[str]:
    return sorted(p.name.removesuffix(".yaml") for p in (_DATA / "anatomy_sets").iterdir())


@cache
def anatomy_set(name_or_path: str) -> AnatomySet:
    """Load a built-in anatomy set by name, or a user's YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        text, source = path.read_text(), str(path)
    elif name_or_path in anatomy_set_names():
        text, source = (_DATA / "anatomy_sets" / f"{name_or_path}.yaml").read_text(), name_or_path
    else:
        raise UserError(
            f"unknown anatomy set {name_or_path!r}: "
            f"{did_you_mean(name_or_path, anatomy_set_names())}"
        )
    data = _read_yaml(text, source)
    anatomies = tuple(data["anatomies"])
    mapping = dict(data.get("findings", {}))
    known = set(finding_names())
    for f, a in mapping.items():
        if f not in known:
            raise UserError(f"{source}: unknown finding {f!r}: {did_you_mean(f, sorted(known))}")
        if a not in anatomies:
            raise UserError(f"{source}: finding {f!r} maps to {a!r}, not one of {list(anatomies)}")
    merge = {
        src: {anat: tuple(structs) for anat, structs in table.items()}
        for src, table in (data.get("merge") or {}).items()
    }
    sources = {a: tuple(s) for a, s in (data.get("sentence_sources") or {}).items()}
    for anatomy in sources:
        if anatomy not in anatomies:
            raise UserError(f"{source}: sentence_sources names unknown anatomy {anatomy!r}")
    return AnatomySet(
        data["name"], data.get("description", "").strip(), anatomies, mapping, merge, sources
    )


@cache
def synthetic_structures() -> dict[int, str]:
    """Label value -> structure name of the synthetic generator's anatomy label maps."""
    data = _read_yaml((_DATA / "structures.yaml").read_text(), "structures.yaml")
    return {int(k): str(v) for k, v in data["structures"].items()}


def structure_label(name: str) -> int:
    for value, structure in synthetic_structures().items():
        if structure == name:
            return value
    raise KeyError(name)


@cache
def radchestct_map() -> tuple[tuple[str, str], ...]:
    """(Rad-ChestCT abnormality, CT-RATE finding) pairs; one abnormality may feed two findings."""
    with (_DATA / "radchestct_map.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    return tuple((r["radchestct_abnormality"], r["ctrate_finding"]) for r in rows)
