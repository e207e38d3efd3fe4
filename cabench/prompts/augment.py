"""Augmenters: generate new templates from a family's own templates.

``permutation`` reorders clauses; ``partial`` drops optional clauses and optional ``[[ ]]`` parts,
never the finding. Each augmenter in a spec (``permutation:n=10,partial:n=10:seed=3``) works on the
family's own templates, independently of the others, so the spread it causes can be attributed
to it. Generated templates are validated like the family's, deduplicated by id, and chosen
deterministically from the seed. Third-party augmenters join through the entry-point group
``cabench.augmenters``.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from cabench import vocab
from cabench.errors import UserError
from cabench.prompts.family import Family
from cabench.prompts.render import TemplateProblem
from cabench.prompts.spec import AugmentStep, parse_spec
from cabench.prompts.template import Clause, Template, remove_spans
from cabench.prompts.validate import DEFAULT_ANATOMY_SETS, check_template
from cabench.registry import Registry

ENUMERATE_LIMIT = 5040  # enumerate and shuffle every variant when there are at most this many

Variant = tuple[tuple[Clause, ...], dict[str, Any]]  # new clauses, and what was done (for origin)


class Augmenter(Protocol):
    """What an augmenter provides. ``params`` lists extra parameters beyond ``n`` and ``seed``."""

    name: str
    summary: str
    needs: str
    params: dict[str, Any]

    def variants(self, template: Template, rng: random.Random, **params: Any) -> Iterator[Variant]:
        """Variants of one template in a seeded random order; may repeat, may be endless."""
        ...


AUGMENTERS: Registry[Augmenter] = Registry("augmenter", "cabench.augmenters")


def reorder(clauses: tuple[Clause, ...], order: tuple[int, ...]) -> tuple[Clause, ...]:
    return tuple(clauses[i] for i in order)


class Permutation:
    name = "permutation"
    summary = "reorder the clauses of a template (the same order for positive and negative)"
    needs = "a template with two or more clauses"
    params: dict[str, Any] = {}

    def variants(self, template: Template, rng: random.Random, **_: Any) -> Iterator[Variant]:
        k = len(template.clauses)
        if k < 2:
            return
        identity = tuple(range(k))
        if math.factorial(k) <= ENUMERATE_LIMIT:
            orders = [p for p in itertools.permutations(range(k)) if p != identity]
            rng.shuffle(orders)
        else:
            orders = (tuple(rng.sample(range(k), k)) for _ in itertools.count())
        for order in orders:
            if order != identity:
                yield reorder(template.clauses, order), {"order": [i + 1 for i in order]}


def optional_units(template: Template) -> list[tuple[int, int | None]]:
    """What partial may drop: (clause, None) for optional clauses, (clause, k) for [[ ]] parts."""
    units: list[tuple[int, int | None]] = []
    for i, clause in enumerate(template.clauses):
        if clause.optional:
            units.append((i, None))
        units.extend((i, k) for k in range(clause.spans()))
    return units


def drop_units(template: Template, dropped: set[tuple[int, int | None]]) -> tuple[Clause, ...]:
    """The clauses left after dropping ``dropped``; remaining text keeps its order."""
    kept = []
    for i, clause in enumerate(template.clauses):
        if (i, None) in dropped:
            continue
        parts = [k for (c, k) in dropped if c == i and k is not None]
        kept.append(
            Clause(
                remove_spans(clause.positive, parts),
                remove_spans(clause.negative, parts),
                clause.optional,
            )
        )
    return tuple(kept)


def _unit_name(unit: tuple[int, int | None]) -> str:
    clause, part = unit
    return f"clause {clause + 1}" if part is None else f"part {clause + 1}.{part + 1}"


class Partial:
    name = "partial"
    summary = "drop optional clauses and optional [[ ]] parts; the finding always stays"
    needs = "optional clauses or optional [[ ]] parts"
    params: dict[str, Any] = {}

    def variants(self, template: Template, rng: random.Random, **_: Any) -> Iterator[Variant]:
        units = optional_units(template)
        m = len(units)
        if not m:
            return
        if 2**m - 1 <= ENUMERATE_LIMIT:
            masks: Any = list(range(1, 2**m))
            rng.shuffle(masks)
        else:
            masks = (rng.getrandbits(m) for _ in itertools.count())
        for mask in masks:
            dropped = {u for bit, u in enumerate(units) if mask >> bit & 1}
            if dropped:
                detail = {"dropped": [_unit_name(u) for u in sorted(dropped, key=_sort_key)]}
                yield drop_units(template, dropped), detail


def _sort_key(unit: tuple[int, int | None]) -> tuple[int, int]:
    return unit[0], -1 if unit[1] is None else unit[1]


AUGMENTERS.register("permutation", Permutation())
AUGMENTERS.register("partial", Partial())


def augmenter_names() -> list[str]:
    return AUGMENTERS.names()


def get_augmenter(name: str) -> Augmenter:
    """The augmenter called ``name`` (unknown names: UserError with suggestions)."""
    entry = AUGMENTERS.get(name)
    augmenter = entry() if isinstance(entry, type) else entry
    if not callable(getattr(augmenter, "variants", None)):
        raise UserError(f"augmenter {name!r} has no variants() method; see docs/prompts.md")
    return augmenter


@dataclass(frozen=True)
class StepResult:
    """What one augmenter of a spec produced, with a line saying so."""

    step: AugmentStep
    templates: list[Template]
    note: str


@dataclass(frozen=True)
class Expansion:
    """A family's templates followed by the augmented ones, and one note per augmenter."""

    family: Family
    templates: list[Template]
    steps: list[StepResult]

    @property
    def notes(self) -> list[str]:
        return [s.note for s in self.steps]


def _rng(step: AugmentStep, parent: Template) -> random.Random:
    material = f"{step.name}\x1f{step.seed}\x1f{parent.template_id}".encode()
    return random.Random(int.from_bytes(hashlib.sha256(material).digest()[:8], "big"))


def _run_step(step: AugmentStep, family: Family, seen: set[str], anatomy_sets: list) -> StepResult:
    augmenter = get_augmenter(step.name)
    parents = family.templates
    streams = [augmenter.variants(p, _rng(step, p), **dict(step.params)) for p in parents]
    tries = [20 * step.n + 50] * len(parents)
    active = list(range(len(parents)))
    made: list[Template] = []
    offered = rejected = 0
    while active and len(made) < step.n:
        for i in list(active):
            if len(made) >= step.n:
                break
            variant = next(streams[i], None)
            tries[i] -= 1
            if variant is None or tries[i] <= 0:
                active.remove(i)
            if variant is None:
                continue
            offered += 1
            clauses, detail = variant
            origin = {
                "family": family.name,
                "parent": parents[i].template_id,
                "augmenter": step.name,
                "params": {"n": step.n, **dict(step.params)},
                "seed": step.seed,
                "detail": detail,
            }
            candidate = Template(tuple(clauses), parents[i].separator, parents[i].overrides, origin)
            if candidate.template_id in seen:
                continue
            try:
                check_template(candidate, anatomy_sets)
            except TemplateProblem:
                rejected += 1
                continue
            seen.add(candidate.template_id)
            made.append(candidate)
    return StepResult(step, made, _note(step, augmenter, family, len(made), offered, rejected))


def _note(
    step: AugmentStep, augmenter: Augmenter, family: Family, made: int, offered: int, rejected: int
) -> str:
    head = f"{step.spec()}: {made} new template{'s' if made != 1 else ''}"
    if not offered:
        return f"{head}: it needs {augmenter.needs}, and no template of {family.name!r} has any"
    tail = f" ({rejected} rejected by validation)" if rejected else ""
    if made < step.n:
        return f"{head} of n={step.n}: the templates allow no more distinct variants{tail}"
    return head + tail


def expand_family(
    family: Family, augment: str | None, anatomy_set_names: tuple[str, ...] = DEFAULT_ANATOMY_SETS
) -> Expansion:
    """The family's templates, then each augmenter's new ones, deduplicated by id, with notes."""
    steps = parse_spec(augment, augmenter_params)
    anatomy_sets = [vocab.anatomy_set(name) for name in anatomy_set_names]
    templates = list(family.templates)
    seen = {t.template_id for t in templates}
    results = [_run_step(step, family, seen, anatomy_sets) for step in steps]
    for result in results:
        templates.extend(result.templates)
    return Expansion(family, templates, results)


def expand(family: Family, augment: str | None) -> list[Template]:
    """The family's templates followed by the augmented ones (see :func:`expand_family`)."""
    return expand_family(family, augment).templates


def augmenter_params(name: str) -> dict[str, Any]:
    """Extra parameters (beyond n and seed) an augmenter accepts, with defaults."""
    return dict(getattr(get_augmenter(name), "params", {}) or {})
