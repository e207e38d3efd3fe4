"""The provenance table: what a run's numbers came from (settings, code, hashes, seeds, timings).

One row per (section, key), one column per run, so two runs compare line by line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from cabench.report.load import RunView

RUN_KEYS = (
    "run_id",
    "schema",
    "created_at",
    "finished_at",
    "command",
    "seed",
    "threshold_policy",
    "anatomy_set",
    "calcification",
    "augment",
    "baseline_model",
)
MODEL_KEYS = (
    "family",
    "identity",
    "checkpoint",
    "weights_sha256",
    "config_hash",
    "train_seed",
    "anatomy_set",
    "logit_scale",
)
DATASET_KEYS = ("fingerprint", "split", "n_cases", "root")
FAMILY_KEYS = ("family_id", "version", "content_hash", "n_templates", "path")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _items(document: dict[str, Any]) -> Iterable[tuple[str, str, Any]]:
    """(section, key, value) of one run document, in reading order."""
    for key in RUN_KEYS:
        yield "run", key, document.get(key)
    for key, value in (document.get("bootstrap") or {}).items():
        yield "run", f"bootstrap {key}", value
    provenance = document.get("provenance") or {}
    yield "code", "git_commit", provenance.get("git_commit")
    for key, value in (provenance.get("versions") or {}).items():
        yield "code", f"version {key}", value
    for key, value in (provenance.get("host") or {}).items():
        yield "code", f"host {key}", value
    for family in document.get("families") or []:
        for key in FAMILY_KEYS:
            yield "prompt family", f"{family.get('name')} {key}", family.get(key)
    for dataset in document.get("datasets") or []:
        for key in DATASET_KEYS:
            yield "dataset", f"{dataset.get('name')} {key}", dataset.get(key)
        for merged, sources in (dataset.get("merged_findings") or {}).items():
            yield "dataset", f"{dataset.get('name')} merged {merged}", sources
    for model in document.get("models") or []:
        for key in MODEL_KEYS:
            yield "model", f"{model.get('name')} {key}", model.get(key)
        trained = model.get("trained_on") or {}
        yield "model", f"{model.get('name')} trained_on", trained.get("dataset")
        yield "model", f"{model.get('name')} trained_on fingerprint", trained.get("fingerprint")
    for key, seconds in (document.get("timings") or {}).items():
        yield "timing (s)", key, seconds
    for i, note in enumerate(document.get("notes") or []):
        yield "note", str(i + 1), note


def provenance_table(views: list[RunView]) -> pd.DataFrame:
    """Columns section, key and one per run id (text values, '' where a run lacks the key)."""
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for view in views:
        for section, key, value in _items(view.document):
            rows.setdefault((section, key), {})[view.run_id] = _text(value)
    run_ids = [view.run_id for view in views]
    records = [
        {"section": section, "key": key, **{run: values.get(run, "") for run in run_ids}}
        for (section, key), values in rows.items()
    ]
    return pd.DataFrame(records, columns=["section", "key", *run_ids], dtype=object)
