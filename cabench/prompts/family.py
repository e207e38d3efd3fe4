"""Prompt families: YAML files of templates, parsed and validated when loaded.

Where files are found is :mod:`cabench.prompts.locate`; the schema is in docs/prompts.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cabench import vocab
from cabench.errors import UserError
from cabench.prompts.locate import looks_like_path, resolve
from cabench.prompts.template import Clause, Template, TemplateFormatError, span_count, split_spans
from cabench.prompts.variables import VARIABLES
from cabench.registry import did_you_mean

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_TOP_KEYS = {"name", "version", "description", "source", "metadata", "overrides", "templates"}
_TEMPLATE_KEYS = {"positive", "negative", "clauses", "separator", "label"}
_CLAUSE_KEYS = {"positive", "negative", "text", "optional"}


@dataclass(frozen=True)
class Family:
    """A named, versioned list of templates; the first template is the canonical one."""

    name: str
    version: int | str
    description: str
    path: Path | None
    content_hash: str
    templates: list[Template]
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def family_id(self) -> str:
        """``name@version:`` and the first 8 hex digits of the content hash."""
        return f"{self.name}@{self.version}:{self.content_hash[:8]}"

    @property
    def canonical(self) -> Template:
        return self.templates[0]

    @property
    def where(self) -> str:
        """How error messages name this family: its file, else its name."""
        return str(self.path) if self.path is not None else f"family {self.name!r}"


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a family file; any problem is one UserError line naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{path}: not valid YAML: {problem}{where}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping with name, version, description, templates")
    return data


def content_hash(data: dict[str, Any]) -> str:
    """sha256 of the parsed content as canonical JSON: comments and formatting do not count."""
    canonical = json.dumps(
        data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _unknown_keys(mapping: dict, allowed: set[str], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            hint = did_you_mean(str(key), sorted(allowed))
            raise UserError(f"{where}: unknown field {key!r}: {hint}")


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise UserError(f"{where}: expected a string, got {type(value).__name__}")
    return value


def _clause(entry: Any, where: str) -> Clause:
    if isinstance(entry, str):
        return Clause(entry, entry)
    if not isinstance(entry, dict):
        raise UserError(
            f"{where}: a clause is a string or a mapping with text or positive/negative"
        )
    _unknown_keys(entry, _CLAUSE_KEYS, where)
    optional = entry.get("optional", False)
    if not isinstance(optional, bool):
        raise UserError(f"{where}: optional must be true or false")
    if "text" in entry:
        if "positive" in entry or "negative" in entry:
            raise UserError(f"{where}: give either text or positive/negative, not both")
        text = _text(entry["text"], f"{where}, text")
        return Clause(text, text, optional)
    for side in ("positive", "negative"):
        if side not in entry or entry[side] is None:
            raise UserError(f"{where}: missing {side} (or use text for both sides)")
    return Clause(
        _text(entry["positive"], f"{where}, positive"),
        _text(entry["negative"], f"{where}, negative"),
        optional,
    )


def _check_structure(clauses: tuple[Clause, ...], where: str) -> None:
    for number, clause in enumerate(clauses, 1):
        at = f"{where}, clause {number}" if len(clauses) > 1 else where
        for side in ("positive", "negative"):
            try:
                split_spans(clause.side(side))
            except TemplateFormatError as exc:
                raise UserError(f"{at}, {side}: {exc}") from None
        pos, neg = span_count(clause.positive), span_count(clause.negative)
        if pos and neg and pos != neg:
            raise UserError(
                f"{at}: the positive has {pos} optional [[ ]] parts and the negative {neg};"
                " give both the same number (they pair by position; '[[]]' is an empty one)"
            )


def _template(entry: Any, index: int, where: str) -> tuple[tuple[Clause, ...], str, str | None]:
    at = f"{where}: template {index + 1}"
    if not isinstance(entry, dict):
        raise UserError(f"{at}: expected a mapping with positive and negative (or clauses)")
    _unknown_keys(entry, _TEMPLATE_KEYS, at)
    label = entry.get("label")
    if label is not None:
        label = _text(label, f"{at}, label")
        at = f"{where}: template {index + 1} ({label})"
    separator = _text(entry.get("separator", " "), f"{at}, separator")
    if "clauses" in entry:
        if "positive" in entry or "negative" in entry:
            raise UserError(f"{at}: give either clauses or positive/negative, not both")
        raw = entry["clauses"]
        if not isinstance(raw, list) or not raw:
            raise UserError(f"{at}: clauses must be a non-empty list")
        clauses = tuple(_clause(c, f"{at}, clause {n}") for n, c in enumerate(raw, 1))
    else:
        for side in ("positive", "negative"):
            if side not in entry or entry[side] is None:
                raise UserError(f"{at}: missing {side}")
        clauses = (_clause({"positive": entry["positive"], "negative": entry["negative"]}, at),)
    if all(c.optional for c in clauses):
        raise UserError(f"{at}: every clause is optional; mark the one naming the finding required")
    _check_structure(clauses, at)
    return clauses, separator, label


def _overrides(raw: Any, where: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise UserError(f"{where}: overrides must map finding names to variable values")
    out = []
    for name, values in raw.items():
        try:
            finding = vocab.finding(str(name))
        except UserError as exc:  # unknown finding: keep the vocabulary's suggestion
            raise UserError(f"{where}: overrides: {exc}") from None
        if not isinstance(values, dict):
            raise UserError(f"{where}: overrides for {name!r} must map variables to strings")
        pairs = []
        for var, value in values.items():
            if var not in VARIABLES or var == "synonyms":
                allowed = sorted(set(VARIABLES) - {"synonyms"})
                raise UserError(
                    f"{where}: overrides for {name!r}: unknown variable {var!r}: "
                    f"{did_you_mean(str(var), allowed)}"
                )
            pairs.append((var, _text(value, f"{where}: overrides for {name!r}, {var}")))
        out.append((finding.name, tuple(sorted(pairs))))
    return tuple(sorted(out))


def parse_family(data: dict[str, Any], path: Path | None = None) -> Family:
    """Build a :class:`Family` from parsed YAML; structural problems raise UserError."""
    where = str(path) if path is not None else "prompt family"
    _unknown_keys(data, _TOP_KEYS, where)
    for key in ("name", "version", "description", "templates"):
        if key not in data or data[key] is None:
            raise UserError(f"{where}: missing {key!r} (see docs/prompts.md)")
    name = data["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise UserError(f"{where}: name must be letters, digits, '-', '_' or '.', got {name!r}")
    version = data["version"]
    if isinstance(version, bool) or not isinstance(version, int | str) or not str(version).strip():
        raise UserError(f"{where}: version must be a number or a short string")
    if isinstance(version, str) and not _NAME.match(version):
        raise UserError(f"{where}: version {version!r} must not contain spaces or ':'")
    description = _text(data["description"], f"{where}: description").strip()
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise UserError(f"{where}: metadata must be a mapping")
    raw_templates = data["templates"]
    if not isinstance(raw_templates, list) or not raw_templates:
        raise UserError(f"{where}: the family has no templates; add at least one")
    overrides = _overrides(data.get("overrides"), where)
    templates = []
    for index, entry in enumerate(raw_templates):
        clauses, separator, label = _template(entry, index, where)
        origin = {
            "family": name,
            "index": index,
            "parent": None,
            "augmenter": None,
            "params": {},
            "seed": None,
        }
        templates.append(Template(clauses, separator, overrides, origin, index == 0, label))
    return Family(
        name=name,
        version=version,
        description=description,
        path=path,
        content_hash=content_hash(data),
        templates=templates,
        source=str(data.get("source") or "").strip(),
        metadata=metadata,
    )


def load_family(name_or_path: str, *, validate: bool = True) -> Family:
    """Load a family by name or path and validate it (renders every finding; see validate.py)."""
    path = resolve(name_or_path)
    family = parse_family(read_yaml(path), path)
    if not looks_like_path(name_or_path) and family.name != path.stem:
        raise UserError(
            f"{path}: the family is named {family.name!r} but the file is {path.name};"
            " rename one so they match"
        )
    if validate:
        from cabench.prompts.validate import validate_family

        validate_family(family)
    return family
