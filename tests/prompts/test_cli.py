import json

import pytest
from typer.testing import CliRunner

from cabench.errors import UserError
from cabench.prompts.cli import app, ls_augmenters, ls_prompts, show, validate

runner = CliRunner()


def test_show_prints_pairs_with_ids():
    result = runner.invoke(app, ["show", "ctclip", "--finding", "Lung nodule"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("# ctclip@1:") and "2 templates, anatomy set chest7" in lines[0]
    assert "[c4a94fe8015e] canonical #1 published" in lines
    assert "    + Lung nodule is present." in lines
    assert "    - Lung nodule is not present." in lines
    assert "    - not Lung nodule." in lines


def test_show_with_augment_notes_and_origin():
    result = runner.invoke(
        app,
        [
            "show",
            "organ",
            "--augment",
            "permutation:n=2,partial:n=1",
            "--finding",
            "emphysema",
            "--anatomy-set",
            "fvlm4",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "permutation:n=2:seed=0: 0 new templates: it needs a template with two or more" in (
        result.stderr
    )
    assert "partial:n=1:seed=0: 1 new template" in result.stderr
    assert "partial of bcdedf05a52b (seed 0; dropped part 1.1)" in result.stdout
    assert "    + The lung shows emphysema." in result.stdout


def test_show_json():
    result = runner.invoke(
        app,
        [
            "show",
            "clinical",
            "--augment",
            "partial:n=2:seed=4",
            "--finding",
            "Atelectasis",
            "--finding",
            "Lung nodule",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["family"]["name"] == "clinical"
    assert doc["family"]["family_id"].startswith("clinical@1:")
    assert doc["augment"] == ["partial:n=2:seed=4"]
    assert doc["anatomy_set"] == "chest7"
    assert len(doc["templates"]) == 12
    generated = doc["templates"][-1]
    assert generated["origin"]["augmenter"] == "partial"
    assert generated["origin"]["seed"] == 4
    assert generated["origin"]["params"] == {"n": 2}
    assert [r["finding"] for r in generated["renders"]] == ["Atelectasis", "Lung nodule"]
    first = doc["templates"][0]
    assert first["canonical"] is True and first["template_id"] == "ff9d3b81efb1"
    assert first["clauses"][1] == {
        "positive": "No other acute abnormality is seen.",
        "negative": "No other acute abnormality is seen.",
        "optional": True,
    }


def test_show_path_and_validate_ok(family_file):
    path = family_file()
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().startswith("ok: 1 template (tiny@1:")
    result = runner.invoke(app, ["validate", "clinical", "--augment", "permutation:n=3"])
    assert result.stdout.strip().startswith("ok: 13 templates (clinical@1:")
    shown = runner.invoke(app, ["show", str(path), "--finding", "Cardiomegaly"])
    assert "    + Cardiomegaly is present." in shown.stdout


@pytest.mark.parametrize(
    ("positive", "negative", "message"),
    [
        ("{{ finding.__class__ }}", "no {{ finding }}", "leave the sandbox"),
        ("{{ finding }}.", "{{ finding }}.", "render the same text"),
        ("{{ finding }} {{ sevrity }}", "no {{ finding }}", "undeclared variable 'sevrity'"),
    ],
)
def test_validate_bad_family_raises_user_error(family_file, positive, negative, message):
    path = family_file(positive=positive, negative=negative)
    with pytest.raises(UserError, match=message):
        validate(str(path), None)
    result = runner.invoke(app, ["validate", str(path)])
    assert isinstance(result.exception, UserError)  # cabench.cli.main maps it to exit 2


def test_show_bad_inputs_raise_user_error():
    with pytest.raises(UserError, match="unknown augmenter 'shuffle'"):
        show("ctclip", "shuffle:n=2", None, "chest7", False)
    with pytest.raises(UserError, match="unknown finding 'lung nodul'"):
        show("ctclip", None, ["lung nodul"], "chest7", False)
    with pytest.raises(UserError, match="unknown anatomy set 'chest9'"):
        show("ctclip", None, None, "chest9", False)
    with pytest.raises(UserError, match="unknown prompt family 'clinicl'"):
        show("clinicl", None, None, "chest7", False)


def test_variables_command():
    result = runner.invoke(app, ["variables", "--finding", "Atelectasis"])
    assert result.exit_code == 0, result.output
    assert "finding_short" in result.stdout and "'Atelectatic'" in result.stdout


def test_ls_tables(capsys):
    ls_prompts()
    out = capsys.readouterr().out
    for name in ("clinical", "ctclip", "fvlm", "organ", "report"):
        assert name in out
    assert "prompts/ctclip.yaml" in out
    ls_augmenters()
    out = capsys.readouterr().out
    assert "permutation" in out and "partial" in out and "n=10, seed=0" in out


def test_ls_prompts_reports_invalid_files(tmp_path, monkeypatch, family_file, capsys):
    family_file(name="broken", positive="{{ finding }", negative="x")
    monkeypatch.setenv("CABENCH_PROMPTS_PATH", str(tmp_path))
    ls_prompts()
    out = capsys.readouterr().out
    assert "broken" in out and "invalid" in out
