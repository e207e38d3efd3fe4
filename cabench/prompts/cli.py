"""`cabench prompts ...` and the `cabench ls prompts|augmenters` tables.

Rendered pairs go to stdout; notes about augmentation go to stderr, so output can be piped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from cabench import vocab
from cabench.errors import UserError
from cabench.prompts.augment import AUGMENTERS, augmenter_params, expand_family, get_augmenter
from cabench.prompts.family import Family, load_family
from cabench.prompts.locate import family_files
from cabench.prompts.render import render_all
from cabench.prompts.spec import DEFAULT_N, DEFAULT_SEED
from cabench.prompts.template import Template
from cabench.prompts.variables import VARIABLES, context
from cabench.ui import console, stdout

app = typer.Typer(help="Show, validate and explain prompt template families.", no_args_is_help=True)

FAMILY_HELP = "Family name (see `cabench ls prompts`) or path to a .yaml file."
AUGMENT_HELP = "Augment spec, e.g. permutation:n=10,partial:n=10:seed=3 (see docs/prompts.md)."


def _origin_text(template: Template) -> str:
    origin = template.origin
    if origin.get("augmenter"):
        detail = origin.get("detail") or {}
        how = "; ".join(f"{k} {', '.join(map(str, v))}" for k, v in detail.items())
        return f"{origin['augmenter']} of {origin['parent']} (seed {origin['seed']}; {how})"
    index = origin.get("index", 0) + 1
    label = f" {template.label}" if template.label else ""
    return f"{'canonical' if template.canonical else 'template'} #{index}{label}"


def _count(n: int) -> str:
    return f"{n} template{'' if n == 1 else 's'}"


def _family_json(family: Family) -> dict[str, Any]:
    return {
        "name": family.name,
        "version": family.version,
        "family_id": family.family_id,
        "content_hash": family.content_hash,
        "path": str(family.path) if family.path else None,
        "description": family.description,
        "source": family.source,
    }


@app.command("show")
def show(
    family: str = typer.Argument(..., help=FAMILY_HELP),
    augment: str = typer.Option(None, "--augment", help=AUGMENT_HELP),
    finding: list[str] = typer.Option(
        None, "--finding", help="Only this finding (name or key; repeatable). Default: all 18."
    ),
    anatomy_set: str = typer.Option(
        "chest7",
        "--anatomy-set",
        help="Anatomy set giving {{ anatomy }} (chest7, fvlm4, or a path).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON with structure and origin."),
) -> None:
    """Print every template's rendered positive/negative pair per finding, with ids and origin."""
    loaded = load_family(family)
    expansion = expand_family(loaded, augment)
    findings = [vocab.finding(f) for f in finding] if finding else list(vocab.findings())
    chosen_set = vocab.anatomy_set(anatomy_set)
    rows = render_all(expansion.templates, findings, chosen_set)
    per_template = len(findings)
    if as_json:
        templates = []
        for i, template in enumerate(expansion.templates):
            entry = template.structure()
            entry["renders"] = [
                {"finding": r.finding, "positive": r.positive, "negative": r.negative}
                for r in rows[i * per_template : (i + 1) * per_template]
            ]
            templates.append(entry)
        document = {
            "family": _family_json(loaded),
            "augment": [s.step.spec() for s in expansion.steps],
            "notes": expansion.notes,
            "anatomy_set": chosen_set.name,
            "templates": templates,
        }
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    for note in expansion.notes:
        console.print(escape(note), soft_wrap=True)
    typer.echo(
        f"# {loaded.family_id}: {_count(len(expansion.templates))}, anatomy set {chosen_set.name}"
    )
    for i, template in enumerate(expansion.templates):
        typer.echo(f"\n[{template.template_id}] {_origin_text(template)}")
        for row in rows[i * per_template : (i + 1) * per_template]:
            typer.echo(f"  {row.finding}\n    + {row.positive}\n    - {row.negative}")


@app.command("validate")
def validate(
    family: str = typer.Argument(..., help=FAMILY_HELP),
    augment: str = typer.Option(None, "--augment", help="Also check this augment spec."),
) -> None:
    """Check a family (and an augment spec): print "ok: N templates" or fail with one line."""
    loaded = load_family(family)
    total = len(loaded.templates)
    if augment:
        expansion = expand_family(loaded, augment)
        for note in expansion.notes:
            console.print(escape(note), soft_wrap=True)
        total = len(expansion.templates)
    typer.echo(f"ok: {_count(total)} ({loaded.family_id})")


@app.command("variables")
def variables(
    finding: str = typer.Option("Lung nodule", "--finding", help="Show values for this finding."),
    anatomy_set: str = typer.Option(
        "chest7", "--anatomy-set", help="Anatomy set for {{ anatomy }}."
    ),
) -> None:
    """List the variables templates may use, with their values for one finding."""
    values = context(vocab.finding(finding), vocab.anatomy_set(anatomy_set))
    table = Table("variable", "value", "meaning")
    for name, meaning in VARIABLES.items():
        table.add_row(name, escape(repr(values[name])), escape(meaning))
    stdout.print(table)


def _short(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def ls_prompts() -> None:
    """Table of the families on the search path: name, version, templates, description, path."""
    table = Table("name", "version", "templates", "description")
    table.add_column("path", overflow="fold")
    for name, path in sorted(family_files().items()):
        try:
            family = load_family(name)
        except UserError as exc:
            table.add_row(name, "-", "-", escape(f"invalid: {exc}"), _display_path(path))
            continue
        table.add_row(
            name,
            str(family.version),
            str(len(family.templates)),
            escape(_short(family.description)),
            _display_path(path),
        )
    stdout.print(table)


def ls_augmenters() -> None:
    """Table of the registered augmenters: name, parameters with defaults, what each does."""
    table = Table("name", "parameters", "description")
    for name in AUGMENTERS.names():
        try:
            augmenter = get_augmenter(name)
            extra = augmenter_params(name)
        except (UserError, ImportError, AttributeError) as exc:
            table.add_row(name, "-", escape(f"cannot load: {exc}"))
            continue
        params = {"n": DEFAULT_N, "seed": DEFAULT_SEED, **extra}
        table.add_row(
            name,
            ", ".join(f"{k}={v}" for k, v in params.items()),
            escape(getattr(augmenter, "summary", "")),
        )
    stdout.print(table)
