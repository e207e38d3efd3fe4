"""Reading a dataset's CSV tables strictly: every problem becomes one DataError line naming the
file, the row and the column, and what to do about it.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

import ast
import difflib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

from cabench.errors import DataError

NOT_GIVEN = "Not given."


def display(path: Path, base: Path | None = None) -> str:
    """``path`` relative to ``base`` where possible, for short error messages."""
    if base is not None:
        try:
            return str(path.relative_to(base))
        except ValueError:
            pass
    return str(path)


def row_number(index: int) -> int:
    """Spreadsheet row of the data row at 0-based ``index`` (the header is row 1)."""
    return index + 2


def require_file(path: Path, what: str, todo: str) -> Path:
    """``path`` if it is a file, else a DataError saying which file is missing and what to do."""
    if not path.is_file():
        raise DataError(f"{path}: {what} not found ({todo})")
    return path


def read_csv(
    path: Path, required: Sequence[str], label: str | None = None, dtype: object = str
) -> pd.DataFrame:
    """Cells as ``dtype`` (strings by default, "" where empty), with ``required`` columns present.

    A misspelt column gets the closest header in the message, so the user can rename it.
    """
    label = label or str(path)
    try:
        frame = pd.read_csv(path, dtype=dtype, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DataError(f"{label}: the file is empty (re-download or rewrite it)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{label}: not a readable CSV ({first}); re-download or fix it") from None
    columns = [str(c) for c in frame.columns]
    for name in required:
        if name not in columns:
            spare = [c for c in columns if c not in required]
            close = difflib.get_close_matches(name, spare, n=1, cutoff=0.6)
            if not close:
                close = [c for c in spare if c.strip().lower() == name.lower()]
            if close:
                hint = f"found {close[0]!r}: rename that column to {name!r}"
            else:
                hint = f"add it; the header must contain {name!r}"
            raise DataError(f"{label}: missing column {name!r} ({hint})")
    return frame


def check_unique(frame: pd.DataFrame, column: str, label: str) -> None:
    """No value of ``column`` appears twice (the first duplicate is named with both rows)."""
    duplicated = frame[column].duplicated(keep=False)
    if duplicated.any():
        value = frame.loc[duplicated, column].iloc[0]
        rows = [row_number(i) for i in frame.index[frame[column] == value]]
        raise DataError(
            f"{label}: {column} {value!r} appears in rows {rows[0]} and {rows[1]} "
            f"(keep one row per volume)"
        )


def binary_labels(
    frame: pd.DataFrame, columns: Sequence[str], key: str, label: str
) -> pd.DataFrame:
    """The ``columns`` as int8 0/1; any other value (blank, 2, 0.5, 'yes') is named with its cell.

    Vectorised: Rad-ChestCT label files have thousands of columns.
    """
    columns = list(columns)
    values = frame[columns]
    text = [c for c, d in zip(columns, values.dtypes, strict=True) if not is_numeric_dtype(d)]
    if text:  # CT-RATE reads as strings; a blank or a word turns a Rad-ChestCT column to text
        values = values.copy()
        for column in text:
            values[column] = pd.to_numeric(values[column].astype(str).str.strip(), errors="coerce")
    matrix = values.to_numpy(dtype=np.float64, na_value=np.nan).reshape(len(frame), len(columns))
    bad = ~((matrix == 0.0) | (matrix == 1.0))
    if bad.any():
        r, c = (int(v[0]) for v in np.nonzero(bad))
        i, column = frame.index[r], columns[c]
        raise DataError(
            f"{label} row {row_number(i)} ({key} {frame.at[i, key]!r}), column {column!r}: "
            f"label {str(frame.at[i, column])!r} is not 0 or 1 (labels must be 0 or 1)"
        )
    return pd.DataFrame(matrix.astype(np.int8), index=frame.index, columns=columns)


def clean_text(value: str) -> str:
    """A report section with CT-RATE's "Not given." placeholder read as empty."""
    value = value.strip()
    return "" if value == NOT_GIVEN else value


def parse_number(value: str, where: str) -> float:
    """A float from a CSV cell; ``where`` names the cell in the error."""
    try:
        return float(value)
    except ValueError:
        raise DataError(f"{where}: {value!r} is not a number (fix the cell)") from None


def parse_number_list(value: str, length: int, where: str) -> list[float]:
    """A list string such as ``"[0.341796875, 0.341796875]"`` parsed properly, not by slicing."""
    try:
        parsed = json.loads(value)
    except (json.JSONDecodeError, TypeError):
        try:
            parsed = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            parsed = None
    if isinstance(parsed, (int, float)):
        parsed = [parsed]
    if (
        not isinstance(parsed, (list, tuple))
        or len(parsed) != length
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in parsed)
    ):
        raise DataError(
            f"{where}: {value!r} is not a list of {length} numbers "
            f"(expected e.g. {[0.75] * length!r}; fix the cell)"
        )
    return [float(v) for v in parsed]
