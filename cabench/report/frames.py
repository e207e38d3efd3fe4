"""Shared helpers of the report's tables: safe nested lookups and typed frames."""

from __future__ import annotations

from typing import Any

import pandas as pd

OPTIONAL = {
    "auc_ci_low", "auc_ci_high", "ci_level", "sampling_floor", "baseline", "delta_mean",
    "delta_mean_low", "delta_mean_high", "delta_worst", "delta_worst_low", "delta_worst_high",
}  # fmt: skip
TEXT = {
    "run", "dataset", "model", "family", "template_id", "worst_template", "worst_template_text",
    "baseline", "template_text", "finding", "source", "pairs", "trained_on", "site", "augmenter",
    "parent", "params", "positive_source", "negative_source", "section", "key", "canonical",
}  # fmt: skip


def get(value: Any, *keys: str) -> Any:
    """``value[k1][k2]...`` or None where a level is missing or not a dict."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def make_frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Rows into a frame: numbers as float (NaN for None), text as object, optional columns
    dropped when every row lacks them."""
    frame = pd.DataFrame(rows, columns=columns)
    for column in columns:
        if column in TEXT:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
        else:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    empty = [c for c in columns if c in OPTIONAL and frame[c].isna().all()]
    return frame.drop(columns=empty).reset_index(drop=True)


def by_appearance(
    frame: pd.DataFrame, columns: list[str], descending: str | None = None
) -> pd.DataFrame:
    """``frame`` sorted by ``columns``, each value ranked by its first appearance (so the
    documents' order is kept while rows that belong together become adjacent), then by the
    numeric column ``descending`` from high to low (missing values last)."""
    keys = {
        f"_{c}": frame[c].map({v: i for i, v in enumerate(dict.fromkeys(frame[c]))})
        for c in columns
    }
    if descending is not None:
        keys["_descending"] = -frame[descending]
    ordered = frame.assign(**keys).sort_values(list(keys), kind="stable", na_position="last")
    return ordered.drop(columns=list(keys)).reset_index(drop=True)
