"""Prompt templates as data: clauses, optional parts and ids derived from the text.

A template is a sequence of clauses; each clause has a positive and a negative Jinja2 source and
may be optional. Inside a clause, ``[[ ... ]]`` marks an optional part (a descriptor or a location
phrase). Augmenters reorder clauses and drop optional clauses or parts; everything else about a
template is its text, so its id is a hash of that text and is the same in every process.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

SPAN_OPEN = "[["
SPAN_CLOSE = "]]"
_MARKER = re.compile(r"\[\[|\]\]")
ID_LENGTH = 12

Overrides = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


class TemplateFormatError(ValueError):
    """A template's structure is malformed (unbalanced or nested optional markers)."""


def split_spans(text: str) -> list[tuple[str, bool]]:
    """Split ``text`` into ``(segment, optional)`` pieces at ``[[`` / ``]]`` markers."""
    pieces: list[tuple[str, bool]] = []
    inside = False
    start = 0
    for match in _MARKER.finditer(text):
        marker = match.group()
        if marker == SPAN_OPEN and inside:
            raise TemplateFormatError("optional parts '[[ ]]' cannot be nested")
        if marker == SPAN_CLOSE and not inside:
            raise TemplateFormatError("']]' without a matching '[['")
        pieces.append((text[start : match.start()], inside))
        inside = marker == SPAN_OPEN
        start = match.end()
    if inside:
        raise TemplateFormatError("'[[' without a matching ']]'")
    pieces.append((text[start:], False))
    return [(segment, optional) for segment, optional in pieces if segment or optional]


def span_count(text: str) -> int:
    """How many optional ``[[ ]]`` parts ``text`` has."""
    return sum(1 for _, optional in split_spans(text) if optional)


def strip_markers(text: str, drop: Iterable[int] = ()) -> str:
    """``text`` without its markers; the optional parts numbered in ``drop`` are removed."""
    dropped = set(drop)
    out: list[str] = []
    index = 0
    for segment, optional in split_spans(text):
        if optional:
            if index not in dropped:
                out.append(segment)
            index += 1
        else:
            out.append(segment)
    return "".join(out)


def remove_spans(text: str, drop: Iterable[int]) -> str:
    """``text`` with the optional parts numbered in ``drop`` removed, other markers kept."""
    dropped = set(drop)
    out: list[str] = []
    index = 0
    for segment, optional in split_spans(text):
        if optional:
            if index not in dropped:
                out.append(SPAN_OPEN + segment + SPAN_CLOSE)
            index += 1
        else:
            out.append(segment)
    return "".join(out)


@dataclass(frozen=True)
class Clause:
    """One clause: positive and negative Jinja2 source; an optional clause may be dropped."""

    positive: str
    negative: str
    optional: bool = False

    def side(self, side: str) -> str:
        return self.positive if side == "positive" else self.negative

    def spans(self) -> int:
        """Optional parts of this clause; the k-th of the positive pairs with the k-th negative."""
        return max(span_count(self.positive), span_count(self.negative))


def _collapse(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Template:
    """A positive/negative prompt pair made of clauses, with where it came from.

    ``positive`` and ``negative`` are the Jinja2 sources that render (clauses joined by
    ``separator``, optional markers removed, all optional parts kept). ``origin`` records the
    family, parent template id, augmenter, parameters and seed; it does not affect the id.
    """

    clauses: tuple[Clause, ...]
    separator: str = " "
    overrides: Overrides = ()
    origin: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    canonical: bool = field(default=False, compare=False)
    label: str | None = field(default=None, compare=False)

    def source(self, side: str, *, markers: bool = False) -> str:
        """The joined source of one side; ``markers`` keeps the ``[[ ]]`` of optional parts."""
        parts = [c.side(side) if markers else strip_markers(c.side(side)) for c in self.clauses]
        return self.separator.join(p for p in parts if p.strip())

    @cached_property
    def positive(self) -> str:
        return self.source("positive")

    @cached_property
    def negative(self) -> str:
        return self.source("negative")

    @cached_property
    def template_id(self) -> str:
        """First 12 hex digits of sha256 over the positive and negative text (and overrides)."""
        parts = [_collapse(self.positive), _collapse(self.negative)]
        for finding, pairs in self.overrides:
            parts.append(finding + "".join(f"\x1e{k}={v}" for k, v in pairs))
        digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
        return digest[:ID_LENGTH]

    def override_for(self, finding: str) -> dict[str, str]:
        for name, pairs in self.overrides:
            if name == finding:
                return dict(pairs)
        return {}

    def required_source(self, side: str) -> str:
        """The part of one side no augmenter may drop: required clauses, optional parts removed."""
        parts = [
            strip_markers(c.side(side), drop=range(span_count(c.side(side))))
            for c in self.clauses
            if not c.optional
        ]
        return self.separator.join(p for p in parts if p.strip())

    def minimal(self) -> Template:
        """This template with every optional clause and part dropped."""
        kept = tuple(
            Clause(
                remove_spans(c.positive, range(c.spans())),
                remove_spans(c.negative, range(c.spans())),
            )
            for c in self.clauses
            if not c.optional
        )
        return Template(kept, self.separator, self.overrides, dict(self.origin))

    def structure(self) -> dict[str, Any]:
        """A JSON-ready description: id, text, clauses with optional markers, origin."""
        return {
            "template_id": self.template_id,
            "label": self.label,
            "canonical": self.canonical,
            "positive": self.positive,
            "negative": self.negative,
            "separator": self.separator,
            "clauses": [
                {"positive": c.positive, "negative": c.negative, "optional": c.optional}
                for c in self.clauses
            ],
            "origin": dict(self.origin),
        }
