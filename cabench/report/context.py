"""The tables that explain the results: collapse moments, cross-dataset transfer, rank
stability of models, and the templates used."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from cabench.report.frames import make_frame
from cabench.report.load import RunView

COLLAPSE = [
    "run", "model", "source", "dataset", "pairs", "n", "mean", "std", "skewness", "kurtosis",
    "q05", "q50", "q95",
]  # fmt: skip
CROSS_DATASET = [
    "run", "model", "trained_on", "dataset", "site", "mean_auc", "std_auc", "worst_auc",
]  # fmt: skip
RANK_STABILITY = ["run", "dataset", "family", "kendall_tau"]
TEMPLATES = [
    "run", "template_id", "family", "canonical", "augmenter", "parent", "params", "seed",
    "positive_source", "negative_source",
]  # fmt: skip


def collapse_sources(view: RunView) -> Iterable[tuple[str, str, str | None, dict[str, Any]]]:
    """(model, source, dataset, {pairs: summary}) for every similarity distribution of a run."""
    for model, diag in (view.document.get("collapse") or {}).items():
        prompts = (diag or {}).get("prompts") or {}
        for group in ("anatomy", "finding"):
            if isinstance(prompts.get(f"by_{group}"), dict):
                yield model, f"prompts by {group}", None, prompts[f"by_{group}"]
        reports = (diag or {}).get("reports")
        if isinstance(reports, dict):
            yield model, "reports by anatomy", reports.get("dataset"), reports
        for dataset, image in ((diag or {}).get("image") or {}).items():
            if isinstance(image, dict):
                yield model, f"image ({image.get('kind', 'embeddings')})", dataset, image


def collapse(views: list[RunView]) -> pd.DataFrame:
    """Moments of the cosine-similarity distributions (cross- and within-group pairs)."""
    rows = []
    for view in views:
        for model, source, dataset, summary in collapse_sources(view):
            for pairs in ("cross", "within"):
                stats = summary.get(pairs)
                if not isinstance(stats, dict):
                    continue
                rows.append(
                    {
                        "run": view.run_id,
                        "model": model,
                        "source": source,
                        "dataset": dataset,
                        "pairs": pairs,
                        **{k: stats.get(k) for k in COLLAPSE[5:]},
                    }
                )
    return make_frame(rows, COLLAPSE)


def cross_dataset(views: list[RunView]) -> pd.DataFrame:
    """Each model on each dataset, marked internal (its training site) or external."""
    rows = [
        {"run": view.run_id, **{k: row.get(k) for k in CROSS_DATASET[1:]}}
        for view in views
        for row in view.document.get("cross_dataset") or []
    ]
    return make_frame(rows, CROSS_DATASET)


def rank_stability(views: list[RunView]) -> pd.DataFrame:
    """Kendall tau of the models' ranking between templates (needs two models or more)."""
    rows = [
        {"run": view.run_id, "dataset": dataset, "family": family, "kendall_tau": tau}
        for view in views
        for dataset, taus in (view.document.get("rank_stability") or {}).items()
        for family, tau in (taus or {}).items()
    ]
    return make_frame(rows, RANK_STABILITY)


def templates(views: list[RunView]) -> pd.DataFrame:
    """The templates used: family, origin (augmenter, parent, params, seed) and sources."""
    rows = []
    for view in views:
        for entry in view.document.get("templates") or []:
            origin = entry.get("origin") or {}
            params = origin.get("params")
            rows.append(
                {
                    "run": view.run_id,
                    "template_id": entry.get("template_id"),
                    "family": entry.get("family"),
                    "canonical": "yes" if entry.get("canonical") else "",
                    "augmenter": origin.get("augmenter"),
                    "parent": origin.get("parent"),
                    "params": json.dumps(params, sort_keys=True) if params else None,
                    "seed": origin.get("seed"),
                    "positive_source": entry.get("positive_source"),
                    "negative_source": entry.get("negative_source"),
                }
            )
    return make_frame(rows, TEMPLATES)
