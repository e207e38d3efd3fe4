import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cabench import vocab
from cabench.errors import UserError
from cabench.prompts import Clause, Template, render, render_all, unique_prompts
from cabench.prompts.render import compile_source, normalise
from cabench.prompts.variables import VARIABLES, context, vocabulary


def pair(positive: str, negative: str, **kwargs) -> Template:
    return Template((Clause(positive, negative),), **kwargs)


def test_context_has_every_documented_variable():
    for finding in vocab.findings():
        for set_name in ("chest7", "fvlm4"):
            ctx = context(finding, vocab.anatomy_set(set_name))
            assert set(ctx) == set(VARIABLES)


def test_variables_for_one_finding():
    ctx = context(vocab.finding("Atelectasis"), vocab.anatomy_set("chest7"))
    assert ctx["finding"] == "Atelectasis"
    assert ctx["finding_short"] == "Atelectatic"
    assert ctx["a_finding"] == "atelectasis"
    assert ctx["anatomy"] == "lung"
    assert ctx["synonyms"] == ["atelectatic changes", "lung collapse"]
    assert ctx["synonym"] == "atelectatic changes"
    nodule = context(vocab.finding("lung_nodule"), vocab.anatomy_set("chest7"))
    assert nodule["a_finding"] == "a lung nodule"


def test_anatomy_falls_back_for_unassigned_findings():
    assert vocabulary().anatomy_fallback == "chest"
    template = pair("The {{ anatomy }} shows {{ finding|lower }}.", "No {{ finding|lower }}.")
    assert render(template, "Medical material", "fvlm4")[0] == "The chest shows medical material."
    assert render(template, "Medical material", "chest7")[0] == (
        "The mediastinum shows medical material."
    )
    assert render(template, "Pleural effusion", "fvlm4")[0] == "The lung shows pleural effusion."


def test_vocabulary_articles_agree_with_descriptors():
    for name, words in vocabulary().findings.items():
        article, descriptor = words["article"], words["descriptor"]
        assert article in ("", "a", "an"), name
        if article:  # "a small pleural effusion" must stay grammatical with or without it
            starts_vowel = descriptor[0] in "aeiou"
            assert (article == "an") == starts_vowel, name
            assert (article == "an") == (name[0].lower() in "aeiou"), name


def test_render_normalises_whitespace_left_by_empty_values():
    template = pair(
        "There is {{ article }}  {{ finding|lower }} {{ location }} .", "No {{ finding|lower }}."
    )
    assert render(template, "Cardiomegaly")[0] == "There is cardiomegaly."
    assert render(template, "Lung nodule")[0] == "There is a lung nodule in the lung parenchyma."


@given(st.text(alphabet=" \t\n.,;:ab", max_size=40))
def test_normalise_is_idempotent_and_tidy(text):
    once = normalise(text)
    assert normalise(once) == once
    assert "  " not in once and once == once.strip()
    assert not any(f" {p}" in once for p in ".,;:")


def test_render_errors_are_user_errors_naming_the_template():
    bad = Template(
        (Clause("{{ finding|attr('__class__') }}", "no {{ finding }}"),),
        origin={"family": "f", "index": 2},
    )
    with pytest.raises(UserError, match=r"family 'f' template #3 \(\w{12}\), positive, .*sandbox"):
        render(bad, "Emphysema")
    with pytest.raises(UserError, match="undefined variable"):
        render(pair("{{ nope }}", "no"), "Emphysema")


def test_overrides_replace_variables_for_one_finding():
    template = Template(
        (Clause("{{ finding_short }}.", "Not {{ finding_short }}."),),
        overrides=(("Mosaic attenuation pattern", (("finding_short", "Mosaic pattern"),)),),
    )
    assert render(template, "Mosaic attenuation pattern") == (
        "Mosaic pattern.",
        "Not Mosaic pattern.",
    )
    assert render(template, "Atelectasis") == ("Atelectatic.", "Not Atelectatic.")
    plain = Template(template.clauses)
    assert plain.template_id != template.template_id  # overrides change the text, so the id


def test_render_all_rows_in_template_then_finding_order():
    templates = [
        pair("{{ finding }} is present.", "{{ finding }} is not present."),
        pair("{{ finding_short }}.", "Not {{ finding_short }}."),
    ]
    rows = render_all(templates, ["Atelectasis", "Lung nodule"], "chest7")
    assert [(r.template_id, r.finding) for r in rows] == [
        (templates[0].template_id, "Atelectasis"),
        (templates[0].template_id, "Lung nodule"),
        (templates[1].template_id, "Atelectasis"),
        (templates[1].template_id, "Lung nodule"),
    ]
    assert rows[3].positive == "Nodule." and rows[3].negative == "Not Nodule."
    assert len(render_all(templates)) == 2 * 18
    assert unique_prompts(rows)[:2] == ["Atelectasis is present.", "Atelectasis is not present."]
    assert len(unique_prompts(rows)) == 8


def test_hundred_templates_parse_each_source_once():
    """Rendering cost must not grow with templates x findings x parsing: each Jinja source is
    compiled once however many findings use it (speed itself is measured in bench/)."""
    words = ["is seen", "is noted", "is present", "is observed", "was detected"]
    templates = [
        Template(
            (
                Clause(f"{{{{ finding }}}} {w} ({i}).", f"No {{{{ finding|lower }}}} {w} ({i})."),
                Clause("[[{{ descriptor }} ]]case.", "case.", optional=True),
            )
        )
        for i in range(20)
        for w in words
    ]
    compile_source.cache_clear()
    rows = render_all(templates, None, "chest7")
    assert len(rows) == 100 * 18
    sources = {c.positive for t in templates for c in t.clauses}
    sources |= {c.negative for t in templates for c in t.clauses}
    assert compile_source.cache_info().misses <= len(sources) + 2 * len(templates)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(vocab.finding_names()), st.sampled_from(["chest7", "fvlm4"]))
def test_rendering_is_deterministic_and_cached(finding, set_name):
    template = pair("{{ a_finding|capitalize }} in the {{ anatomy }}.", "No {{ finding|lower }}.")
    assert render(template, finding, set_name) == render(template, finding, set_name)
    assert compile_source(template.positive) is compile_source(template.positive)


def test_render_cache_keeps_list_variables_and_repeats_errors():
    from cabench.prompts.render import TemplateProblem, render_source

    variables = {"finding": "Emphysema", "synonyms": ["a", "b"], "n": 2}
    source = "{{ finding }}: {{ synonyms|join('/') }} {{ synonyms is sequence }} {{ n * 2 }}"
    first = render_source(source, variables)
    assert first == render_source(source, dict(variables)) == "Emphysema: a/b True 4"
    for _ in range(2):  # a failure is not cached away: it raises every time
        with pytest.raises(TemplateProblem, match="undefined variable"):
            render_source("{{ nope }}", variables)
