"""The report's sections in page order: a title, a short reading guide, plots and display tables.

The HTML page and the Markdown export render the same sections (Markdown leaves the plots out).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from cabench.report import layout, plots
from cabench.report.display import Cell, Column, Table, display_table
from cabench.report.heatmap import heatmaps
from cabench.report.load import RunView


@dataclass
class Section:
    key: str  # HTML anchor
    title: str
    intro: str
    tables: list[Table] = field(default_factory=list)
    images: list[tuple[str, str]] = field(default_factory=list)  # (data URI, alt text)
    folded: bool = False  # long reference tables: collapsed in the page and in Markdown


def _caption(views: list[RunView]) -> Callable[[str], str]:
    """Caption of a dataset's table: its name with split and cases (of each run)."""

    def caption(dataset: str) -> str:
        facts = [
            f"{entry.get('split', '?')} split, {entry.get('n_cases', '?')} cases"
            for view in views
            for entry in view.document.get("datasets") or []
            if entry.get("name") == dataset
        ]
        return f"{dataset} ({'; '.join(dict.fromkeys(facts))})" if facts else dataset

    return caption


def _template_title(views: list[RunView], key: str) -> Callable[[pd.Series], str]:
    """Hover text for a cell naming a template (column ``key``): its id and a rendered pair."""
    by_run = {view.run_id: view for view in views}

    def title(row: pd.Series) -> str:
        template = row.get(key)
        example = by_run[row["run"]].template_example(template)
        return f"{template}: {example}" if example else str(template or "")

    return title


def per_dataset(
    name: str,
    views: list[RunView],
    frame: pd.DataFrame,
    columns: list[Column],
    multi: bool,
    titles: dict[str, Callable[[pd.Series], str]] | None = None,
) -> list[Table]:
    """One display table per dataset of ``frame``."""
    caption = _caption(views)
    return [
        display_table(name, caption(d), frame[frame["dataset"] == d], columns, multi, titles)
        for d in dict.fromkeys(frame["dataset"])
    ]


def leaderboard(views: list[RunView], frame: pd.DataFrame, multi: bool) -> list[Table]:
    """Leaderboard tables per dataset; the baseline model's own difference cells say so."""
    level = frame["ci_level"].dropna() if "ci_level" in frame.columns else pd.Series([])
    ci = f" [{level.iloc[0]:.0%} CI]" if len(level) else ""
    baselines = sorted(frame["baseline"].dropna().unique()) if "baseline" in frame.columns else []
    versus = f" vs {', '.join(baselines)}" if baselines else ""
    columns = layout.leaderboard_columns(ci, versus)
    titles = {"worst_template_text": _template_title(views, "worst_template")}
    tables = per_dataset("leaderboard", views, frame, columns, multi, titles)
    for table, dataset in zip(tables, dict.fromkeys(frame["dataset"]), strict=True):
        _mark_baseline(table, frame[frame["dataset"] == dataset])
    return tables


def _mark_baseline(table: Table, part: pd.DataFrame) -> None:
    if "baseline" not in part.columns:
        return
    delta = [i for i, header in enumerate(table.headers) if header.startswith("Δ")]
    for cells, (_, row) in zip(table.rows, part.iterrows(), strict=True):
        if row["model"] == row.get("baseline"):
            for i in delta:
                cells[i] = Cell("baseline", kind="num")


def _plot(section: Section, uri: str | None, alt: str) -> None:
    if uri:
        section.images.append((uri, alt))


def build_sections(
    views: list[RunView], frames: dict[str, pd.DataFrame], with_plots: bool
) -> list[Section]:
    """Every section that has data, in page order (plots only when ``with_plots``)."""
    multi = len(views) > 1
    intro = layout.INTRO
    out: list[Section] = []
    if "leaderboard" in frames:
        tables = leaderboard(views, frames["leaderboard"], multi)
        out.append(Section("leaderboard", "Leaderboard", intro["leaderboard"], tables))
    if "template_scores" in frames:
        scores = frames["template_scores"]
        tables = heatmaps(views, scores, multi, _caption(views))
        section = Section("templates-x-models", "AUC across templates", intro["template_scores"],
                          tables)  # fmt: skip
        if with_plots:
            _plot(section, plots.auc_across_templates(scores, multi),
                  "macro AUC of every template, per model (dots coloured by family)")  # fmt: skip
        out.append(section)
    if "families" in frames:
        tables = per_dataset("families", views, frames["families"], layout.FAMILIES, multi)
        out.append(Section("families", "Spread per prompt family", intro["families"], tables))
    if "per_finding" in frames:
        tables = per_dataset("per_finding", views, frames["per_finding"], layout.PER_FINDING,
                             multi)  # fmt: skip
        section = Section("per-finding", "Per-finding spread across templates",
                          intro["per_finding"], tables, folded=True)  # fmt: skip
        if with_plots:
            _plot(section, plots.per_finding_spread(frames["per_finding"], multi),
                  "AUC across templates per finding: range (line) and mean (dot)")  # fmt: skip
        out.append(section)
    if "collapse" in frames:
        table = display_table("collapse", "", frames["collapse"], layout.COLLAPSE, multi)
        section = Section("collapse", "Text-embedding collapse", intro["collapse"], [table])
        if with_plots:
            _plot(section, plots.collapse_histograms(views, multi),
                  "cosine similarity of text embeddings across and within anatomies")  # fmt: skip
        out.append(section)
    simple = (
        ("cross_dataset", "Cross-dataset transfer", layout.CROSS_DATASET, None, False),
        ("rank_stability", "Rank stability of models", layout.RANK_STABILITY, None, False),
        ("templates", "Templates used", layout.TEMPLATES, "template_id", True),
    )
    for name, title, columns, template_key, folded in simple:
        if name in frames:
            titles = {template_key: _template_title(views, template_key)} if template_key else None
            table = display_table(name, "", frames[name], columns, multi, titles)
            out.append(Section(name.replace("_", "-"), title, intro[name], [table], folded=folded))
    if "provenance" in frames:
        frame = frames["provenance"]
        columns = [Column(c, c, "text") for c in frame.columns]
        table = display_table("provenance", "", frame, columns, False)
        out.append(Section("provenance", "Provenance", intro["provenance"], [table], folded=True))
    return out
