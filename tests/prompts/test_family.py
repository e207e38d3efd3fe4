import re

import pytest

from cabench.errors import UserError
from cabench.prompts import family_names, load_family, validate_family
from cabench.prompts.locate import ENV_VAR, builtin_dir, family_files

BUILTINS = ["clinical", "ctclip", "fvlm", "organ", "report"]


def test_builtins_are_found_and_valid():
    assert set(BUILTINS) <= set(family_names())
    for name in BUILTINS:
        family = load_family(name)
        assert family.path == builtin_dir() / f"{name}.yaml"
        assert family.templates[0].canonical
        assert not any(t.canonical for t in family.templates[1:])
        assert family.description and family.source, f"{name} must document its source"


def test_clinical_has_at_least_eight_styles_with_structure():
    family = load_family("clinical")
    assert len(family.templates) >= 8
    assert sum(len(t.clauses) > 1 for t in family.templates) >= 8
    assert all(any(c.optional or c.spans() for c in t.clauses) for t in family.templates)


def test_minimal_form_loads(family_file):
    family = load_family(str(family_file()))
    assert family.name == "tiny" and family.version == 1
    (template,) = family.templates
    assert template.positive == "{{ finding }} is present."
    assert template.negative == "{{ finding }} is not present."
    assert template.origin == {
        "family": "tiny",
        "index": 0,
        "parent": None,
        "augmenter": None,
        "params": {},
        "seed": None,
    }
    assert re.fullmatch(r"tiny@1:[0-9a-f]{8}", family.family_id)
    assert family.family_id.endswith(family.content_hash[:8])
    assert re.fullmatch(r"[0-9a-f]{64}", family.content_hash)
    assert re.fullmatch(r"[0-9a-f]{12}", template.template_id)


def test_content_hash_ignores_formatting_but_not_content(family_file):
    plain = load_family(str(family_file(filename="a.yaml")))
    reformatted = family_file(
        """
        # a comment that does not change the family
        name:   tiny
        description: "a test family"
        version: 1
        templates: [{negative: "{{ finding }} is not present.",
                     positive: "{{ finding }} is present."}]
        """,
        filename="b.yaml",
    )
    assert load_family(str(reformatted)).content_hash == plain.content_hash
    changed = family_file(negative="{{ finding }} is absent.", filename="c.yaml")
    assert load_family(str(changed)).content_hash != plain.content_hash


def test_search_path_env_var_first_then_builtins(tmp_path, monkeypatch, family_file):
    family_file(name="mine")
    family_file(name="ctclip", positive="{{ finding }} seen.", negative="{{ finding }} unseen.")
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert family_files()["mine"] == tmp_path / "mine.yaml"
    assert load_family("mine").name == "mine"
    assert load_family("ctclip").path == tmp_path / "ctclip.yaml"  # user folders shadow
    monkeypatch.delenv(ENV_VAR)
    assert "mine" not in family_names()


def test_unknown_name_suggests(monkeypatch):
    with pytest.raises(UserError, match=r"unknown prompt family 'ctclp'.*did you mean 'ctclip'"):
        load_family("ctclp")


def test_missing_path():
    with pytest.raises(UserError, match=r"nowhere/x\.yaml not found"):
        load_family("nowhere/x.yaml")


def test_name_must_match_file_when_found_by_name(tmp_path, monkeypatch, family_file):
    family_file(name="other", filename="mine.yaml")
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    with pytest.raises(UserError, match="named 'other' but the file is mine.yaml"):
        load_family("mine")
    assert load_family(str(tmp_path / "mine.yaml")).name == "other"  # a path always works


BAD_FILES = {
    "malformed yaml": ("name: x\ntemplates: [\n", r"not valid YAML.*line \d+"),
    "not a mapping": ("- a\n- b\n", "expected a mapping"),
    "missing templates": ("name: x\nversion: 1\ndescription: d\n", "missing 'templates'"),
    "empty family": ("name: x\nversion: 1\ndescription: d\ntemplates: []\n", "no templates"),
    "missing negative": (
        "name: x\nversion: 1\ndescription: d\ntemplates:\n  - positive: '{{ finding }}.'\n",
        "template 1: missing negative",
    ),
    "missing positive": (
        "name: x\nversion: 1\ndescription: d\ntemplates:\n  - negative: 'no {{ finding }}.'\n",
        "template 1: missing positive",
    ),
    "typo in field": (
        "name: x\nversion: 1\ndescription: d\ntemplates:\n"
        "  - postive: '{{ finding }}.'\n    negative: 'no {{ finding }}.'\n",
        "unknown field 'postive': did you mean 'positive'",
    ),
    "bad name": (
        "name: 'a b'\nversion: 1\ndescription: d\ntemplates:\n"
        "  - positive: '{{ finding }}.'\n    negative: 'no {{ finding }}.'\n",
        "name must be",
    ),
    "clause missing side": (
        "name: x\nversion: 1\ndescription: d\ntemplates:\n"
        "  - clauses:\n      - positive: '{{ finding }}.'\n",
        "clause 1: missing negative",
    ),
    "all optional": (
        "name: x\nversion: 1\ndescription: d\ntemplates:\n"
        "  - clauses:\n      - {text: '{{ finding }}.', optional: true}\n",
        "every clause is optional",
    ),
    "span mismatch": (
        "name: x\nversion: 1\ndescription: d\ntemplates:\n"
        "  - positive: '{{ finding }}[[ a]][[ b]].'\n    negative: 'no {{ finding }}[[ a]].'\n",
        "positive has 2 optional .* negative 1",
    ),
    "unknown override finding": (
        "name: x\nversion: 1\ndescription: d\noverrides:\n  Cardiomegally: {finding_short: C}\n"
        "templates:\n  - positive: '{{ finding }}.'\n    negative: 'no {{ finding }}.'\n",
        "unknown finding 'Cardiomegally'.*did you mean 'Cardiomegaly'",
    ),
    "unknown override variable": (
        "name: x\nversion: 1\ndescription: d\noverrides:\n  Cardiomegaly: {finding_shrt: C}\n"
        "templates:\n  - positive: '{{ finding }}.'\n    negative: 'no {{ finding }}.'\n",
        "unknown variable 'finding_shrt'.*did you mean 'finding_short'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_raise_one_line_naming_the_file(case, family_file):
    body, message = BAD_FILES[case]
    path = family_file(body, filename="bad.yaml")
    with pytest.raises(UserError) as info:
        load_family(str(path))
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(str(path))
    assert re.search(message, text), text


BAD_TEMPLATES = {
    "undefined variable": (
        "{{ finding }} {{ foo }}",
        "no {{ finding }}",
        "undeclared variable 'foo'",
    ),
    "misspelt variable": ("{{ findng }}.", "no {{ finding }}.", "did you mean 'finding'"),
    "empty render": ("{{ finding }}", "{% if false %}x{% endif %}", "negative renders empty"),
    "identical": ("{{ finding }}.", "{{ finding|string }}.", "render the same text"),
    "dunder attribute": ("{{ finding.__class__ }}", "no {{ finding }}", "leave the sandbox"),
    "mro escape": ("{{ finding }}{{ ''.__class__.__mro__ }}", "no", "leave the sandbox"),
    "attr filter escape": ("{{ finding|attr('__class__') }}", "no {{ finding }}", "sandbox"),
    "item escape": ("{{ finding['__init__'] }}", "no {{ finding }}", "leave the sandbox"),
    "import": ("{% import 'os' as os %}{{ finding }}", "no", "import/include/extends"),
    "include": ("{% include 'x' %}{{ finding }}", "no", "import/include/extends"),
    "huge repeat": ("{{ finding * 1000000 }}", "no {{ finding }}", "too long"),
    "globals removed": ("{{ finding }}{{ range(2)|list }}", "no", "undeclared variable 'range'"),
    "syntax": ("{{ finding }", "no", "Jinja syntax error"),
    "no finding": ("Something.", "Nothing.", "never names the finding"),
    "finding only optional": ("There is[[ {{ finding }}]].", "No.", "only inside optional parts"),
    "unbalanced marker": ("{{ finding }} [[x", "no {{ finding }}", "without a matching"),
    "runtime error": ("{{ finding }}{{ 1 // 0 }}", "no {{ finding }}", "ZeroDivisionError"),
}


@pytest.mark.parametrize("case", sorted(BAD_TEMPLATES))
def test_bad_templates_are_refused_at_load(case, family_file):
    positive, negative, message = BAD_TEMPLATES[case]
    path = family_file(positive=positive, negative=negative, filename="bad.yaml")
    with pytest.raises(UserError) as info:
        load_family(str(path))
    text = str(info.value)
    assert "\n" not in text and text.startswith(f"{path}: template 1"), text
    assert re.search(message, text), text


def test_duplicates_are_refused(family_file):
    body = """
        name: dup
        version: 1
        description: d
        templates:
          - positive: "{{ finding }} is present."
            negative: "{{ finding }} is not present."
          - positive: "{{ finding }}   is present."
            negative: "{{ finding }} is not present."
        """
    with pytest.raises(UserError, match="template 1 and template 2 have the same text"):
        load_family(str(family_file(body)))
    same_render = body.replace("{{ finding }}   is present.", "{{finding}} is present.")
    with pytest.raises(UserError, match="render the same text for every finding"):
        load_family(str(family_file(same_render)))


def test_duplicate_labels_are_refused(family_file):
    body = """
        name: lab
        version: 1
        description: d
        templates:
          - {label: a, positive: "{{ finding }}.", negative: "no {{ finding }}."}
          - {label: a, positive: "{{ finding }}!", negative: "no {{ finding }}!"}
        """
    with pytest.raises(UserError, match=r"template 1 \(a\) and template 2 \(a\) have the same"):
        load_family(str(family_file(body)))


def test_optional_parts_are_validated_when_dropped(family_file):
    # Dropping the optional part leaves positive == negative: partial could make this, so refuse.
    path = family_file(positive="{{ finding }}[[ is present]].", negative="{{ finding }}.")
    with pytest.raises(UserError, match="with its optional parts dropped"):
        load_family(str(path))


def test_validate_against_other_anatomy_sets(family_file):
    family = load_family(
        str(
            family_file(
                positive="The {{ anatomy }}: {{ finding }}.",
                negative="The {{ anatomy }}: no {{ finding }}.",
            )
        )
    )
    validate_family(family, ("fvlm4",))
    with pytest.raises(UserError, match="unknown anatomy set 'chest8'"):
        validate_family(family, ("chest8",))


def test_clause_form_and_overrides(family_file):
    body = """
        name: rich
        version: "2.1"
        description: d
        overrides:
          Mosaic attenuation pattern: {finding_short: Mosaic attenuation pattern}
        templates:
          - label: two
            separator: " "
            clauses:
              - positive: "{{ finding_short }}."
                negative: "Not {{ finding_short }}."
              - text: "Nothing else."
                optional: true
              - "Reviewed."
        """
    family = load_family(str(family_file(body)))
    assert family.family_id.startswith("rich@2.1:")
    (template,) = family.templates
    assert [c.optional for c in template.clauses] == [False, True, False]
    assert template.positive == "{{ finding_short }}. Nothing else. Reviewed."
    assert template.label == "two"
    assert template.override_for("Mosaic attenuation pattern") == {
        "finding_short": "Mosaic attenuation pattern"
    }
