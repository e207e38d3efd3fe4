"""Validation of prompt families before any model runs.

Every template is parsed (syntax, sandbox escapes, undeclared variables) and rendered for every
finding of the given anatomy sets, once with all optional parts and once with none, so an
augmenter can never produce an empty prompt or a positive equal to its negative.
"""

from __future__ import annotations

from collections.abc import Sequence

from cabench import vocab
from cabench.errors import UserError
from cabench.prompts.family import Family
from cabench.prompts.render import (
    SIDES,
    TemplateProblem,
    inspect_source,
    render_keyed,
    variables_key,
)
from cabench.prompts.template import Template
from cabench.prompts.variables import FINDING_VARIABLES, VARIABLES, context
from cabench.registry import did_you_mean
from cabench.vocab import AnatomySet

DEFAULT_ANATOMY_SETS = ("chest7", "fvlm4")


def _check_names(template: Template) -> None:
    variants = [template] if _has_no_optional(template) else [template, template.minimal()]
    for variant in variants:
        for side in SIDES:
            try:
                names = inspect_source(variant.source(side))
            except TemplateProblem as exc:
                raise TemplateProblem(f"{side}: {exc}") from None
            for name in sorted(names - set(VARIABLES)):
                raise TemplateProblem(
                    f"{side}: undeclared variable {name!r}: {did_you_mean(name, sorted(VARIABLES))}"
                    " (see docs/prompts.md, Variables)"
                )


def _check_finding_mentioned(template: Template) -> None:
    for side in SIDES:
        everywhere = inspect_source(template.source(side)) & FINDING_VARIABLES
        required = inspect_source(template.required_source(side)) & FINDING_VARIABLES
        if side == "positive" and not everywhere:
            raise TemplateProblem(
                "the positive never names the finding: use {{ finding }}, {{ finding_short }},"
                " {{ a_finding }} or {{ synonym }}"
            )
        if everywhere and not required:
            raise TemplateProblem(
                f"{side}: the finding is named only inside optional parts, which partial may drop;"
                " name it in a required clause"
            )


def _has_no_optional(template: Template) -> bool:
    return not any(c.optional or c.spans() for c in template.clauses)


def _render_side(source: str, side: str, variables: dict, key: tuple | None) -> str:
    try:
        return render_keyed(source, variables, key)
    except TemplateProblem as exc:
        raise TemplateProblem(f"{side}: {exc}") from None


def check_renders(template: Template, anatomy_sets: Sequence[AnatomySet]) -> tuple[str, ...]:
    """Render for every finding of every set (all and no optional parts); return the texts."""
    variants = [template] if _has_no_optional(template) else [template, template.minimal()]
    sources = {id(v): [(v.source(s), s) for s in SIDES] for v in variants}
    texts: list[str] = []
    for anatomy_set in anatomy_sets:
        for finding in vocab.findings():
            base = context(finding, anatomy_set)
            variables = {**base, **template.override_for(finding.name)}
            key = variables_key(variables)
            for variant in variants:
                positive, negative = (
                    _render_side(src, side, variables, key) for src, side in sources[id(variant)]
                )
                what = "with its optional parts dropped " if variant is not template else ""
                for side, text in (("positive", positive), ("negative", negative)):
                    if not text:
                        raise TemplateProblem(
                            f"{side} renders empty {what}for {finding.name!r} ({anatomy_set.name})"
                        )
                if positive == negative:
                    raise TemplateProblem(
                        f"positive and negative render the same text {what}for {finding.name!r}"
                        f" ({anatomy_set.name}): {positive!r}"
                    )
                texts += [positive, negative]
    return tuple(texts)


def check_template(template: Template, anatomy_sets: Sequence[AnatomySet]) -> tuple[str, ...]:
    """All checks of one template; raises :class:`TemplateProblem`, returns its rendered texts."""
    _check_names(template)
    _check_finding_mentioned(template)
    return check_renders(template, anatomy_sets)


def _name(family: Family, index: int) -> str:
    label = family.templates[index].label
    return f"template {index + 1}" + (f" ({label})" if label else "")


def validate_family(
    family: Family, anatomy_set_names: Sequence[str] = DEFAULT_ANATOMY_SETS
) -> None:
    """Raise UserError (one line naming file and template) if any template of ``family`` is bad."""
    if not family.templates:
        raise UserError(f"{family.where}: the family has no templates; add at least one")
    anatomy_sets = [vocab.anatomy_set(name) for name in anatomy_set_names]
    by_id: dict[str, int] = {}
    by_text: dict[tuple[str, ...], int] = {}
    by_label: dict[str, int] = {}
    for index, template in enumerate(family.templates):
        try:
            texts = check_template(template, anatomy_sets)
        except TemplateProblem as exc:
            raise UserError(f"{family.where}: {_name(family, index)}: {exc}") from None
        for table, key, what in (
            (by_id, template.template_id, "have the same text"),
            (by_text, texts, "render the same text for every finding"),
            (by_label, template.label, "have the same label"),
        ):
            if key is None:
                continue
            if key in table:
                raise UserError(
                    f"{family.where}: {_name(family, table[key])} and {_name(family, index)}"
                    f" {what}; remove or change one"
                )
            table[key] = index
