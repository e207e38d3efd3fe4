"""Every table of the report as a pandas frame, straight from the run documents.

Frames carry full-precision numbers (the CSV exports); formatting for the page and for Markdown
lives in :mod:`cabench.report.display`. Every frame has a ``run`` column so several runs sit side
by side. Optional parts of a document (bootstrap intervals, paired comparisons) give optional
columns, dropped when no run has them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from cabench.report import context
from cabench.report.frames import by_appearance, get, make_frame
from cabench.report.load import RunView
from cabench.report.provenance import provenance_table

ALL = "all"  # the pseudo-family of every template of a run

LEADERBOARD = [
    "run", "dataset", "model", "n_templates", "auc_mean", "auc_ci_low", "auc_ci_high", "ci_level",
    "auc_std", "sampling_floor", "auc_min", "worst_template", "worst_template_text", "auc_range",
    "auc_q05", "f1_mean", "baseline", "delta_mean", "delta_mean_low", "delta_mean_high",
    "delta_worst", "delta_worst_low", "delta_worst_high",
]  # fmt: skip
FAMILIES = [
    "run", "dataset", "model", "family", "n_templates", "auc_mean", "auc_std", "sampling_floor",
    "auc_min", "auc_q05", "auc_max", "auc_range", "auc_canonical", "drop_chance_normalised_worst",
    "f1_mean", "flip_rate", "prob_spread",
]  # fmt: skip
TEMPLATE_SCORES = [
    "run", "dataset", "model", "template_id", "family", "template_text", "auc", "auc_ci_low",
    "auc_ci_high", "f1", "accuracy",
]  # fmt: skip
PER_FINDING = [
    "run", "dataset", "model", "finding", "positives", "negatives", "auc_mean", "auc_std",
    "auc_min", "auc_max", "auc_range",
]  # fmt: skip
TABLE_NAMES = (
    "leaderboard",
    "families",
    "template_scores",
    "per_finding",
    "collapse",
    "cross_dataset",
    "rank_stability",
    "templates",
    "provenance",
)


def _results(views: Iterable[RunView]) -> Iterable[tuple[RunView, dict[str, Any]]]:
    for view in views:
        for entry in view.document.get("results") or []:
            yield view, entry


def leaderboard(views: list[RunView]) -> pd.DataFrame:
    """One row per (run, dataset, model): mean AUC with interval, spread, worst template, F1 and
    the paired difference to the run's baseline model."""
    rows = []
    for view, entry in _results(views):
        stats = get(entry, "families", ALL) or {}
        auc, ci = stats.get("auc") or {}, stats.get("auc_ci") or {}
        worst = auc.get("worst_template")
        row = {
            "run": view.run_id,
            "dataset": entry["dataset"],
            "model": entry["model"],
            "n_templates": stats.get("n_templates"),
            "auc_mean": auc.get("mean"),
            "auc_ci_low": get(ci, "mean", "low"),
            "auc_ci_high": get(ci, "mean", "high"),
            "ci_level": ci.get("level"),
            "auc_std": auc.get("std"),
            "sampling_floor": stats.get("sampling_floor"),
            "auc_min": auc.get("min"),
            "worst_template": worst,
            "worst_template_text": view.template_text(worst),
            "auc_range": auc.get("range"),
            "auc_q05": auc.get("q05"),
            "f1_mean": get(stats, "f1", "mean"),
        }
        comparison = get(view.document.get("comparisons"), entry["dataset"], entry["model"], ALL)
        if view.baseline is not None and (comparison or entry["model"] == view.baseline):
            row["baseline"] = view.baseline
        for stat in ("mean", "worst"):
            for part, key in (("point", ""), ("low", "_low"), ("high", "_high")):
                row[f"delta_{stat}{key}"] = get(comparison, stat, part)
        rows.append(row)
    frame = make_frame(rows, LEADERBOARD)
    if len(views) > 1:  # the same model of every run side by side
        return by_appearance(frame, ["dataset", "model", "run"])
    return by_appearance(frame, ["dataset"], descending="auc_mean")  # best first


def families(views: list[RunView]) -> pd.DataFrame:
    """Spread across templates per family (and over all templates) beside the sampling floor."""
    rows = []
    for view, entry in _results(views):
        stats_by_family = entry.get("families") or {}
        ordered = sorted(stats_by_family, key=lambda name: name != ALL)  # "all" first
        for family in ordered:
            stats = stats_by_family[family] or {}
            auc = stats.get("auc") or {}
            rows.append(
                {
                    "run": view.run_id,
                    "dataset": entry["dataset"],
                    "model": entry["model"],
                    "family": family,
                    "n_templates": stats.get("n_templates"),
                    "auc_mean": auc.get("mean"),
                    "auc_std": auc.get("std"),
                    "sampling_floor": stats.get("sampling_floor"),
                    "auc_min": auc.get("min"),
                    "auc_q05": auc.get("q05"),
                    "auc_max": auc.get("max"),
                    "auc_range": auc.get("range"),
                    "auc_canonical": auc.get("canonical"),
                    "drop_chance_normalised_worst": auc.get("drop_chance_normalised_worst"),
                    "f1_mean": get(stats, "f1", "mean"),
                    "flip_rate": stats.get("flip_rate"),
                    "prob_spread": stats.get("prob_spread"),
                }
            )
    frame = make_frame(rows, FAMILIES)
    return by_appearance(frame, ["dataset", "model", "family", "run"]) if len(views) > 1 else frame


def template_scores(views: list[RunView]) -> pd.DataFrame:
    """Macro AUC (with its bootstrap interval), F1 and accuracy of every template."""
    rows = []
    for view, entry in _results(views):
        ci = get(entry, "families", ALL, "auc_ci", "per_template") or {}
        low, high = ci.get("low") or [], ci.get("high") or []
        for t, template in enumerate(entry.get("per_template") or []):
            macro = template.get("macro") or {}
            template_id = template.get("template_id")
            rows.append(
                {
                    "run": view.run_id,
                    "dataset": entry["dataset"],
                    "model": entry["model"],
                    "template_id": template_id,
                    "family": template.get("family"),
                    "template_text": view.template_text(template_id),
                    "auc": macro.get("auc"),
                    "auc_ci_low": low[t] if t < len(low) else None,
                    "auc_ci_high": high[t] if t < len(high) else None,
                    "f1": macro.get("f1"),
                    "accuracy": macro.get("accuracy"),
                }
            )
    return make_frame(rows, TEMPLATE_SCORES)


def per_finding(views: list[RunView]) -> pd.DataFrame:
    """AUC spread across templates for each finding."""
    rows = []
    for view, entry in _results(views):
        spread = entry.get("per_finding") or {}
        order = [f for f in entry.get("findings") or [] if f in spread]  # the vocabulary's order
        for finding in order + [f for f in spread if f not in order]:
            stats = spread[finding] or {}
            low, high = stats.get("auc_min"), stats.get("auc_max")
            rows.append(
                {
                    "run": view.run_id,
                    "dataset": entry["dataset"],
                    "model": entry["model"],
                    "finding": finding,
                    "positives": stats.get("positives"),
                    "negatives": stats.get("negatives"),
                    "auc_mean": stats.get("auc_mean"),
                    "auc_std": stats.get("auc_std"),
                    "auc_min": low,
                    "auc_max": high,
                    "auc_range": None if low is None or high is None else high - low,
                }
            )
    frame = make_frame(rows, PER_FINDING)
    return by_appearance(frame, ["dataset", "finding", "model", "run"]) if len(views) > 1 else frame


def build_tables(views: list[RunView]) -> dict[str, pd.DataFrame]:
    """Every non-empty table of the report, in page order, keyed by its export name."""
    builders = {
        "leaderboard": leaderboard,
        "families": families,
        "template_scores": template_scores,
        "per_finding": per_finding,
        "collapse": context.collapse,
        "cross_dataset": context.cross_dataset,
        "rank_stability": context.rank_stability,
        "templates": context.templates,
        "provenance": provenance_table,
    }
    tables = {name: build(views) for name, build in builders.items()}
    return {name: frame for name, frame in tables.items() if len(frame)}
