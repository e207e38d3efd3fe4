"""The templates x models heatmap: one table per dataset, a row per template (its family, id and
text, with a rendered example on hover), a column per model (and run), cells coloured by macro
AUC around chance (0.5) with the model, template and interval on hover."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from cabench.report.display import Cell, Table, colour, number, side_by_side
from cabench.report.load import RunView


def _score_cell(score: object, model: str, text: str, low: float, high: float) -> Cell:
    if score is None:
        return Cell("", kind="num")
    auc = getattr(score, "auc", None)
    interval = ""
    ci_low, ci_high = getattr(score, "auc_ci_low", None), getattr(score, "auc_ci_high", None)
    if ci_low is not None and pd.notna(ci_low):
        interval = f" [{number(ci_low)}, {number(ci_high)}]"
    title = f"{model} | {text} | AUC {number(auc)}{interval}"
    return Cell(number(auc), title, "num", colour(auc, low, high))


def heatmaps(
    views: list[RunView], scores: pd.DataFrame, multi: bool, caption: Callable[[str], str]
) -> list[Table]:
    """One heatmap table per dataset of the ``template_scores`` frame."""
    by_run = {view.run_id: view for view in views}
    tables = []
    for dataset in dict.fromkeys(scores["dataset"]):
        part = scores[scores["dataset"] == dataset]
        pairs = side_by_side(part)
        cells = {(r.run, r.model, r.template_id): r for r in part.itertuples()}
        low, high = part["auc"].min(), part["auc"].max()
        headers = ["family", "template", "positive template"]
        headers += [f"{model} ({run})" if multi else model for run, model in pairs]
        table = Table("template_scores", caption(dataset), headers)
        first_run = dict(zip(part["template_id"], part["run"], strict=False))
        for template_id in dict.fromkeys(part["template_id"]):
            view = by_run[first_run[template_id]]
            text = view.template_text(template_id)
            family = str(view.templates.get(template_id, {}).get("family", ""))
            row = [
                Cell(family),
                Cell(str(template_id), kind="id"),
                Cell(text, title=view.template_example(template_id), kind="long"),
            ]
            row += [
                _score_cell(cells.get((run, model, template_id)), model, text, low, high)
                for run, model in pairs
            ]
            table.rows.append(row)
        tables.append(table)
    return tables
