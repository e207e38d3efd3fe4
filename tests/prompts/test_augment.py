import itertools
import json
import random
import re
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cabench.errors import UserError
from cabench.prompts import (
    AUGMENTERS,
    Clause,
    Template,
    augmenter_names,
    expand,
    expand_family,
    load_family,
    parse_spec,
    render,
)
from cabench.prompts.augment import Partial, Permutation, augmenter_params, optional_units
from cabench.prompts.template import split_spans

SPEC = "permutation:n=10,partial:n=10"


@st.composite
def templates(draw) -> Template:
    """Templates whose clauses and optional parts carry unique tags (P3, N3, d3_1)."""
    k = draw(st.integers(1, 6))
    finding_at = draw(st.integers(0, k - 1))
    clauses = []
    for i in range(k):
        core = "{{ finding }}" if i == finding_at else f"c{i}"
        parts = "".join(f"[[ d{i}_{j}]]" for j in range(draw(st.integers(0, 2))))
        optional = i != finding_at and draw(st.booleans())
        clauses.append(Clause(f"P{i} {core}{parts}.", f"N{i} {core}{parts}.", optional))
    return Template(tuple(clauses))


def tags(text: str, prefix: str) -> list[str]:
    return re.findall(rf"\b{prefix}\d+(?:_\d+)?\b", text)


def first_variants(augmenter, template: Template, seed: int, limit: int = 30):
    stream = augmenter.variants(template, random.Random(seed))
    return [Template(clauses) for clauses, _ in itertools.islice(stream, limit)]


@settings(max_examples=60, deadline=None)
@given(templates(), st.integers(0, 2**32))
def test_permutation_keeps_the_multiset_of_clauses(template, seed):
    variants = first_variants(Permutation(), template, seed)
    if len(template.clauses) < 2:
        assert variants == []
        return
    assert variants, "a template with two or more clauses must have permutations"
    for variant in variants:
        assert Counter(variant.clauses) == Counter(template.clauses)
        assert variant.clauses != template.clauses
        # positive and negative reordered the same way
        pos = [int(t[1:]) for t in tags(variant.positive, "P")]
        neg = [int(t[1:]) for t in tags(variant.negative, "N")]
        assert pos == neg


@settings(max_examples=60, deadline=None)
@given(templates(), st.integers(0, 2**32))
def test_partial_keeps_the_finding_and_relative_order(template, seed):
    variants = first_variants(Partial(), template, seed)
    if not optional_units(template):
        assert variants == []
        return
    required = [f"P{i}" for i, c in enumerate(template.clauses) if not c.optional]
    for variant in variants:
        assert "{{ finding }}" in variant.positive and "{{ finding }}" in variant.negative
        pos_tags = tags(variant.positive, "P") + tags(variant.positive, "d")
        parent_tags = tags(template.positive, "P") + tags(template.positive, "d")
        # what remains is a subsequence of the parent, in the same order
        order = [t for t in (tags(template.positive, r"[Pd]")) if t in pos_tags]
        assert tags(variant.positive, r"[Pd]") == order
        assert set(required) <= set(pos_tags)
        assert len(pos_tags) < len(parent_tags)  # something was dropped
        # the same clauses and parts were dropped on both sides
        assert [t[1:] for t in tags(variant.positive, "P")] == [
            t[1:] for t in tags(variant.negative, "N")
        ]
        assert tags(variant.positive, "d") == tags(variant.negative, "d")


@settings(max_examples=40, deadline=None)
@given(templates(), st.integers(0, 1000))
def test_variants_are_deterministic_per_seed(template, seed):
    for augmenter in (Permutation(), Partial()):
        first = [t.template_id for t in first_variants(augmenter, template, seed, 10)]
        again = [t.template_id for t in first_variants(augmenter, template, seed, 10)]
        assert first == again


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(templates(), min_size=1, max_size=4), st.integers(0, 50), st.integers(0, 8))
def test_expand_deterministic_unique_and_attributed(make_family, items, seed, n):
    unique = list({t.template_id: t for t in items}.values())
    family = make_family(unique)
    spec = f"permutation:n={n}:seed={seed},partial:n={n}:seed={seed}"
    first = expand_family(family, spec)
    ids = [t.template_id for t in first.templates]
    assert ids == [t.template_id for t in expand(family, spec)]
    assert len(ids) == len(set(ids))
    assert ids[: len(unique)] == [t.template_id for t in unique]
    own = {t.template_id for t in unique}
    for step in first.steps:
        assert len(step.templates) <= n
        for generated in step.templates:
            assert generated.origin["parent"] in own  # augmenters act on the family's own
            assert generated.origin["augmenter"] == step.step.name
            assert generated.origin["seed"] == seed
            assert generated.origin["params"] == {"n": n}
            assert not generated.canonical


def test_builtins_with_default_spec_give_a_few_dozen_templates():
    sizes = {
        name: len(expand(load_family(name), SPEC))
        for name in ("ctclip", "fvlm", "organ", "clinical", "report")
    }
    assert sizes["ctclip"] == 2 and sizes["fvlm"] == 1
    assert sizes["clinical"] == 30 and sizes["report"] == 26
    assert 36 <= sum(sizes.values()) <= 110


def test_seed_changes_the_selection_not_the_ids_of_a_variant():
    family = load_family("clinical")
    a = expand(family, "permutation:n=5:seed=1,partial:n=5:seed=1")
    b = expand(family, "permutation:n=5:seed=2,partial:n=5:seed=2")
    base = len(family.templates)
    assert [t.template_id for t in a[base:]] != [t.template_id for t in b[base:]]
    # a variant's id depends only on its text
    by_text = {(t.positive, t.negative): t.template_id for t in a + b}
    for t in a + b:
        assert by_text[(t.positive, t.negative)] == t.template_id


def test_notes_say_when_an_augmenter_finds_nothing_to_do():
    expansion = expand_family(load_family("ctclip"), SPEC)
    assert len(expansion.templates) == 2
    assert expansion.notes == [
        "permutation:n=10:seed=0: 0 new templates: it needs a template with two or more clauses,"
        " and no template of 'ctclip' has any",
        "partial:n=10:seed=0: 0 new templates: it needs optional clauses or optional [[ ]] parts,"
        " and no template of 'ctclip' has any",
    ]
    organ = expand_family(load_family("organ"), "partial:n=10")
    assert organ.notes == [
        "partial:n=10:seed=0: 2 new templates of n=10: the templates allow no more distinct"
        " variants"
    ]


def test_generated_templates_render_consistently():
    family = load_family("clinical")
    for template in expand(family, SPEC)[len(family.templates) :]:
        positive, negative = render(template, "Pleural effusion", "chest7")
        assert positive and negative and positive != negative
        assert "pleural effusion" in positive.lower()
        spans = [s for c in template.clauses for s, opt in split_spans(c.positive) if opt]
        assert all("[[" not in s for s in spans)


def test_ids_are_stable_across_processes():
    code = (
        "import json; from cabench.prompts import load_family, expand;"
        f"print(json.dumps([t.template_id for t in expand(load_family('clinical'), {SPEC!r})]))"
    )
    here = [t.template_id for t in expand(load_family("clinical"), SPEC)]
    for hash_seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": hash_seed, "PATH": ""},
        )
        assert json.loads(out.stdout) == here


def test_spec_parsing():
    steps = parse_spec("permutation:n=5:seed=3, partial", augmenter_params)
    assert [(s.name, s.n, s.seed) for s in steps] == [("permutation", 5, 3), ("partial", 10, 0)]
    assert steps[0].spec() == "permutation:n=5:seed=3"
    assert parse_spec(None, augmenter_params) == parse_spec("  ", augmenter_params) == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("permutaton:n=3", r"augment spec 'permutaton:n=3': unknown augmenter.*'permutation'"),
        ("permutation:n", "expected key=value after 'permutation', got 'n'"),
        ("permutation:n=x", "n must be a whole number, got 'x'"),
        ("permutation:seed=1.5", "seed must be a whole number"),
        ("permutation:m=3", "permutation has no parameter 'm'"),
        ("permutation:n=3,,partial", "empty item"),
        ("permutation,", "empty item"),
        (":n=3", "no augmenter name"),
        ("permutation:n=-1", "n must be between 0 and"),
        ("partial:n=2:n=3", "n is given twice"),
    ],
)
def test_bad_specs_are_one_line_user_errors(spec, message):
    with pytest.raises(UserError, match=message) as info:
        expand(load_family("ctclip"), spec)
    assert "\n" not in str(info.value)


class Reverse:
    """A third-party style augmenter: reverses clause order; takes an extra parameter."""

    name = "reverse"
    summary = "reverse the clauses"
    needs = "two or more clauses"
    params = {"times": 1}

    def variants(self, template, rng, times=1):
        if len(template.clauses) > 1 and times % 2:
            yield tuple(reversed(template.clauses)), {"times": times}


def test_registry_accepts_new_augmenters(monkeypatch):
    assert AUGMENTERS.entry_point_group == "cabench.augmenters"
    assert {"permutation", "partial"} <= set(augmenter_names())
    monkeypatch.setitem(AUGMENTERS._entries, "reverse", Reverse)  # a class is instantiated
    family = load_family("report")
    expansion = expand_family(family, "reverse:n=3:times=3")
    made = expansion.steps[0].templates
    assert len(made) == 3
    assert made[0].clauses == tuple(reversed(family.templates[0].clauses))
    assert made[0].origin["params"] == {"n": 3, "times": 3}
    with pytest.raises(UserError, match="times must be a whole number"):
        expand(family, "reverse:times=x")
