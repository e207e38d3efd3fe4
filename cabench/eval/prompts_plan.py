"""The templates of a run: every family with its augmentations, rendered for every finding once.

The prompt texts are the same for every model (rendered with the run's anatomy set), so the
thing measured is wording alone. Each template keeps its family, so statistics can be taken per
family (the family's first template is its canonical one) and over all templates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cabench.errors import UserError
from cabench.prompts import expand_family, load_family, render_all
from cabench.prompts.family import Family
from cabench.prompts.template import Template


@dataclass
class PromptPlan:
    families: list[Family]
    templates: list[Template]
    template_family: list[str]  # family name per template
    findings: list[str]
    positive: list[list[str]]  # [template][finding] rendered text
    negative: list[list[str]]
    notes: list[str] = field(default_factory=list)

    def family_indices(self, family: str) -> list[int]:
        return [i for i, f in enumerate(self.template_family) if f == family]

    def unique_texts(self) -> list[str]:
        seen: dict[str, None] = {}
        for rows in (self.positive, self.negative):
            for row in rows:
                for text in row:
                    seen.setdefault(text)
        return list(seen)


def build_plan(
    family_names: Sequence[str], augment: str | None, findings: Sequence[str], anatomy_set: str
) -> PromptPlan:
    """Load, validate, expand and render the families (before any model runs)."""
    families: list[Family] = []
    templates: list[Template] = []
    owners: list[str] = []
    notes: list[str] = []
    seen_ids: set[str] = set()
    for name in family_names:
        family = load_family(name)
        if any(f.name == family.name for f in families):
            raise UserError(f"--prompts lists family {family.name!r} twice")
        expansion = expand_family(family, augment)
        notes += [f"{family.name}: {n}" for n in expansion.notes if n]
        kept = [t for t in expansion.templates if t.template_id not in seen_ids]
        if len(kept) < len(expansion.templates):
            notes.append(f"{family.name}: {len(expansion.templates) - len(kept)} templates "
                         "duplicate another family's and are counted there")  # fmt: skip
        if not kept or kept[0].template_id != family.templates[0].template_id:
            raise UserError(
                f"family {family.name!r}: its canonical template duplicates another family's; "
                "remove one of them from --prompts"
            )
        seen_ids.update(t.template_id for t in kept)
        families.append(family)
        templates += kept
        owners += [family.name] * len(kept)
    rows = render_all(templates, findings, anatomy_set)
    n_find = len(findings)
    positive = [
        [r.positive for r in rows[i * n_find : (i + 1) * n_find]] for i in range(len(templates))
    ]
    negative = [
        [r.negative for r in rows[i * n_find : (i + 1) * n_find]] for i in range(len(templates))
    ]
    return PromptPlan(families, templates, owners, list(findings), positive, negative, notes)
