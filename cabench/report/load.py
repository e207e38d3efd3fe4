"""Stored runs -> what the report reads: the run documents, checked, plus template lookups.

Reads the results store only (no model, no torch). A run document is the one `cabench run`
writes (schema ``cabench.run/1``); optional parts (bootstrap intervals, comparisons, collapse,
cross-dataset rows, timings) may be missing and the report leaves their panels out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cabench.errors import UserError
from cabench.store import Store

SCHEMA_PREFIX = "cabench.run/"
REQUIRED = ("run_id", "results", "datasets", "models", "templates")


@dataclass(frozen=True)
class RunView:
    """One stored run as the report sees it."""

    run_id: str
    document: dict[str, Any]
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)  # template_id -> entry

    @property
    def baseline(self) -> str | None:
        return self.document.get("baseline_model")

    def template_text(self, template_id: str | None) -> str:
        """The template's positive source (e.g. ``{{ finding }} is present.``), or ''."""
        entry = self.templates.get(template_id or "")
        return "" if entry is None else str(entry.get("positive_source") or "")

    def template_example(self, template_id: str | None) -> str:
        """A rendered positive / negative pair for the template's first finding, or ''."""
        entry = self.templates.get(template_id or "")
        texts = (entry or {}).get("texts") or {}
        for finding, pair in texts.items():
            if isinstance(pair, list | tuple) and len(pair) == 2:
                return f"{finding}: {pair[0]!s} / {pair[1]!s}"
        return ""


def check_document(document: Any, where: str) -> dict[str, Any]:
    """The document if it is a cabench run document; a one-line UserError otherwise."""
    if not isinstance(document, dict):
        raise UserError(f"{where}: the stored run is not a JSON object; rerun `cabench run`")
    schema = str(document.get("schema", ""))
    if not schema.startswith(SCHEMA_PREFIX):
        raise UserError(
            f"{where}: run schema {schema or 'missing'!r} is not {SCHEMA_PREFIX}*; "
            "rerun `cabench run` with this version of cabench"
        )
    missing = [key for key in REQUIRED if key not in document]
    if missing:
        raise UserError(f"{where}: the run document lacks {', '.join(missing)}; rerun the run")
    return document


def view_of(document: dict[str, Any], where: str = "run document") -> RunView:
    """Wrap a run document (checked) into a :class:`RunView`."""
    document = check_document(document, where)
    templates = {
        str(t["template_id"]): t
        for t in document.get("templates") or []
        if isinstance(t, dict) and "template_id" in t
    }
    return RunView(str(document["run_id"]), document, templates)


def load_runs(store_path: Path | None, runs: list[str] | None) -> list[RunView]:
    """The runs named by ``runs`` (ids, unique prefixes or ``latest``; default the latest)."""
    store = Store(store_path)
    if not store.path.exists():
        raise UserError(
            f"--store {store.path}: no results store there; run `cabench run` first "
            "or pass --store PATH"
        )
    wanted = list(runs) if runs else ["latest"]
    resolved: list[str] = []
    for name in wanted:
        run_id = store.resolve(name)
        if run_id in resolved:
            raise UserError(f"--runs: run {run_id} is listed twice; list each run once")
        resolved.append(run_id)
    return [view_of(store.load_run(r), f"--store {store.path} run {r}") for r in resolved]
