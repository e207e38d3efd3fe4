"""`cabench report`: stored runs rendered as one self-contained HTML page plus CSV and Markdown
tables, without a model or a GPU (this package reads the store and imports no model code).

>>> from cabench.report import render_report
>>> render_report(None, ["latest"], None, ("html", "csv", "md"))  # doctest: +SKIP
[PosixPath('reports/<run_id>/report.html'), ...]
"""

from cabench.report.load import RunView, load_runs
from cabench.report.render import FORMATS, parse_formats, render_report, write_report
from cabench.report.tables import build_tables

__all__ = [
    "FORMATS",
    "RunView",
    "build_tables",
    "load_runs",
    "parse_formats",
    "render_report",
    "write_report",
]
