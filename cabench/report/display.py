"""Frames -> display tables (formatted cells with hover titles) shared by the HTML page and the
Markdown export. Cells hold plain text; escaping is the renderer's job (Jinja2 autoescape for
HTML, :func:`cabench.report.markdown.escape` for Markdown).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

MISSING = ""


@dataclass(frozen=True)
class Cell:
    text: str
    title: str = ""
    kind: str = ""  # "num" (right-aligned), "id" (no wrapping), "long" (wide text) or ""
    style: str = ""  # computed here (heatmap colours), never from user text

    @property
    def numeric(self) -> bool:
        return self.kind == "num"


@dataclass
class Table:
    name: str  # export name (the CSV file stem)
    caption: str
    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    header_titles: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Column:
    """How one frame column shows: ``fmt`` is text, id, long (wide text), num, int, ci or delta
    (``low``/``high`` columns give the interval shown after the point)."""

    key: str
    label: str
    fmt: str = "num"
    low: str | None = None
    high: str | None = None
    title: str = ""


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def number(value: Any, digits: int = 3) -> str:
    """A float as the page shows it: fixed decimals, scientific when tiny or huge."""
    if is_missing(value):
        return MISSING
    value = float(value) + 0.0  # no "-0.000"
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) < 10**-digits or abs(value) >= 1e5):
        return f"{value:.{max(digits - 1, 1)}e}"
    return f"{value:.{digits}f}"


def integer(value: Any) -> str:
    return MISSING if is_missing(value) else str(int(value))


def interval(point: Any, low: Any, high: Any, signed: bool = False) -> str:
    """``point [low, high]``; ``signed`` (differences) shows the sign and one more decimal."""
    digits = 4 if signed else 3
    text = number(point, digits)
    if signed and text and not text.startswith("-"):
        text = "+" + text
    if text and not is_missing(low) and not is_missing(high):
        text += f" [{number(low, digits)}, {number(high, digits)}]"
    return text


def cell(row: pd.Series, column: Column) -> Cell:
    value = row.get(column.key)
    if column.fmt in ("text", "id", "long"):
        kind = "" if column.fmt == "text" else column.fmt
        return Cell(MISSING if is_missing(value) else str(value), kind=kind)
    if column.fmt == "int":
        return Cell(integer(value), kind="num")
    if column.fmt in ("ci", "delta"):
        low = row.get(column.low) if column.low else None
        high = row.get(column.high) if column.high else None
        return Cell(interval(value, low, high, signed=column.fmt == "delta"), kind="num")
    return Cell(number(value), kind="num")


def present(frame: pd.DataFrame, columns: list[Column], multi_run: bool) -> list[Column]:
    """The columns a frame can fill (optional ones dropped with their data), ``run`` only when
    several runs are shown."""
    keep = [c for c in columns if c.key in frame.columns]
    if multi_run and "run" in frame.columns and all(c.key != "run" for c in keep):
        keep.insert(0, Column("run", "run", "id"))
    return keep


def display_table(
    name: str,
    caption: str,
    frame: pd.DataFrame,
    columns: list[Column],
    multi_run: bool,
    titles: dict[str, Any] | None = None,
) -> Table:
    """A display table of ``frame`` (one row per frame row). ``titles`` maps a column key to a
    function of the row giving that cell's hover text."""
    shown = present(frame, columns, multi_run)
    table = Table(name, caption, [c.label for c in shown], header_titles=[c.title for c in shown])
    for _, row in frame.iterrows():
        cells = []
        for column in shown:
            value = cell(row, column)
            if titles and column.key in titles:
                value = Cell(value.text, str(titles[column.key](row)), value.kind, value.style)
            cells.append(value)
        table.rows.append(cells)
    return table


def side_by_side(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """The (run, model) pairs of a frame, each model's runs next to each other."""
    pairs = list(dict.fromkeys(zip(frame["run"], frame["model"], strict=True)))
    models = list(dict.fromkeys(model for _, model in pairs))
    runs = list(dict.fromkeys(run for run, _ in pairs))
    return sorted(pairs, key=lambda pair: (models.index(pair[1]), runs.index(pair[0])))


def colour(value: Any, low: float, high: float, centre: float = 0.5) -> str:
    """An inline background/foreground style for a heatmap cell (diverging around ``centre``)."""
    if is_missing(value):
        return ""
    from matplotlib import colormaps
    from matplotlib.colors import TwoSlopeNorm, to_hex

    low, high = min(low, centre - 1e-6), max(high, centre + 1e-6)
    rgba = colormaps["RdYlBu"](TwoSlopeNorm(centre, low, high)(float(value)))
    luminance = 0.2126 * rgba[0] + 0.7152 * rgba[1] + 0.0722 * rgba[2]
    text = "#000" if luminance > 0.5 else "#fff"
    return f"background:{to_hex(rgba)};color:{text}"
