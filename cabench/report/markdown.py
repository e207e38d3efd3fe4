"""The Markdown export: every table of the report, sized for a pull-request comment (long
reference tables folded in ``<details>``). Text is escaped so names and template texts never
become markup or break a table row."""

from __future__ import annotations

from cabench.report.display import Table
from cabench.report.load import RunView
from cabench.report.sections import Section

_ESCAPES = {"\\": "\\\\", "|": "\\|", "*": "\\*", "`": "\\`"}
_ESCAPES.update({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape(text: str) -> str:
    """Plain text safe inside a Markdown table cell (one line, no markup, no HTML)."""
    out = "".join(_ESCAPES.get(ch, ch) for ch in str(text))
    return " ".join(out.split())


def table_markdown(table: Table) -> str:
    """One GitHub-flavoured Markdown table (numeric columns right-aligned)."""
    numeric = [
        bool(table.rows) and all(row[i].numeric for row in table.rows)
        for i in range(len(table.headers))
    ]
    lines = [
        "| " + " | ".join(escape(h) for h in table.headers) + " |",
        "|" + "|".join("---:" if n else "---" for n in numeric) + "|",
    ]
    lines += ["| " + " | ".join(escape(c.text) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def report_markdown(views: list[RunView], sections: list[Section]) -> str:
    """The whole Markdown document: a title naming the runs, then each section's tables."""
    runs = ", ".join(escape(v.run_id) for v in views)
    parts = [f"# cabench report: {runs}", ""]
    for section in sections:
        body: list[str] = [escape(section.intro), ""]
        for table in section.tables:
            if table.caption:
                body += [f"**{escape(table.caption)}**", ""]
            body += [table_markdown(table), ""]
        if section.folded:
            parts += [
                f"<details><summary>{escape(section.title)}</summary>",
                "",
                *body,
                "</details>",
                "",
            ]
        else:
            parts += [f"## {escape(section.title)}", "", *body]
    return "\n".join(parts).rstrip() + "\n"
