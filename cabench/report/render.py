"""`cabench report`: stored runs -> one self-contained HTML page plus CSV and Markdown tables.

Everything is computed in memory first; each file is then written to a temporary name and
renamed, so a failure never leaves a half-written report. Jinja2 autoescapes every value.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import jinja2

from cabench import __version__
from cabench.errors import UserError
from cabench.report.load import RunView, load_runs
from cabench.report.markdown import report_markdown
from cabench.report.sections import Section, build_sections
from cabench.report.tables import TABLE_NAMES, build_tables

FORMATS = ("html", "csv", "md")
REPORTS_DIR = Path("reports")
HTML_NAME, MD_NAME = "report.html", "report.md"


def parse_formats(value: str | Iterable[str]) -> tuple[str, ...]:
    """``"html,csv"`` (or a sequence) -> ('html', 'csv'); unknown names are a UserError."""
    names = value.split(",") if isinstance(value, str) else list(value)
    names = [n.strip().lower() for n in names if n.strip()]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        shown = ", ".join(unknown) if unknown else "(none)"
        raise UserError(f"--format {shown}: choose one or more of {', '.join(FORMATS)}")
    return tuple(dict.fromkeys(names))


def default_out(views: list[RunView]) -> Path:
    """``reports/<run_id>`` (several runs: their ids joined by '+')."""
    return REPORTS_DIR / "+".join(view.run_id for view in views)


def _environment() -> jinja2.Environment:
    """Our own templates (not user input), so no sandbox; every value is HTML-escaped."""
    loader = jinja2.PackageLoader("cabench.report", "templates")
    return jinja2.Environment(autoescape=True, loader=loader, undefined=jinja2.StrictUndefined)


def _run_header(view: RunView) -> dict[str, str]:
    doc = view.document
    boot = doc.get("bootstrap") or {}
    replicates = boot.get("replicates")
    bootstrap = ""
    if replicates:
        paired = ", paired" if boot.get("paired") else ""
        bootstrap = f"{replicates} bootstrap replicates at {boot.get('level', 0.95):.0%}{paired}"
    return {
        "run_id": view.run_id,
        "finished_at": str(doc.get("finished_at", "")),
        "n_templates": str(len(view.templates)),
        "threshold_policy": str(doc.get("threshold_policy", "")),
        "bootstrap": bootstrap,
        "command": str(doc.get("command") or ""),
    }


def render_html(views: list[RunView], sections: list[Section], exports: list[str]) -> str:
    """The page as a string (autoescaped; plots inline)."""
    notes = list(dict.fromkeys(n for v in views for n in v.document.get("notes") or []))
    template = _environment().get_template("report.html.j2")
    return template.render(
        version=__version__,
        run_ids=[v.run_id for v in views],
        runs=[_run_header(v) for v in views],
        sections=sections,
        notes=[str(n) for n in notes],
        exports=exports,
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide the report from others
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render_report(
    store_path: Path | None,
    runs: list[str] | None,
    out: Path | None,
    formats: tuple[str, ...] = FORMATS,
) -> list[Path]:
    """Write the report of ``runs`` (ids, prefixes or ``latest``; default the latest run) to
    ``out`` (default ``reports/<run_id>/``); returns the paths written, the HTML page first."""
    formats = parse_formats(formats)
    views = load_runs(store_path, runs)
    return write_report(views, out if out is not None else default_out(views), formats)


def write_report(views: list[RunView], out: Path, formats: tuple[str, ...]) -> list[Path]:
    """Render ``views`` into ``out`` in ``formats``; returns the paths written."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder; pass a folder path")
    frames = build_tables(views)
    files: dict[str, str] = {}
    if "csv" in formats:
        for name, frame in frames.items():
            files[f"{name}.csv"] = frame.to_csv(index=False, lineterminator="\n")
    sections = build_sections(views, frames, with_plots="html" in formats)
    if "md" in formats:
        files[MD_NAME] = report_markdown(views, sections)
    if "html" in formats:
        exports = [name for name in files if name.endswith(".csv")] + (
            [MD_NAME] if MD_NAME in files else []
        )
        files = {HTML_NAME: render_html(views, sections, exports), **files}
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {out}: cannot create the folder ({exc.strerror})") from None
    written = []
    for name, text in files.items():
        _write(out / name, text)
        written.append(out / name)
    if "csv" in formats:  # a table that is empty now must not survive from an older report
        for name in TABLE_NAMES:
            if f"{name}.csv" not in files:
                (out / f"{name}.csv").unlink(missing_ok=True)
    return written
