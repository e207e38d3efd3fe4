"""render_report end to end: the files written, CSV and Markdown that parse and match the stored
run, several runs side by side, user errors without partial output, and the dependency rule."""

from __future__ import annotations

import ast
import math
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

import cabench.report
from cabench.errors import UserError
from cabench.report import parse_formats, render_report
from cabench.report.display import number
from cabench.report.tables import TABLE_NAMES


def markdown_tables(text: str) -> list[pd.DataFrame]:
    """Every pipe table of a Markdown document as a frame of strings."""
    tables, block = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append(line)
            continue
        if len(block) >= 2:
            cells = [[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in block]
            tables.append(pd.DataFrame(cells[2:], columns=cells[0]))
        block = []
    return tables


def test_writes_html_csv_and_markdown(rendered):
    out, paths, document = rendered
    assert paths[0] == out / "report.html"
    names = {p.name for p in paths}
    assert {"report.html", "report.md"} <= names
    expected = {f"{n}.csv" for n in TABLE_NAMES}
    assert expected <= names  # two models: every table has data, rank stability included
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*"))
    html = (out / "report.html").read_text()
    assert document["run_id"] in html
    mask = os.umask(0)
    os.umask(mask)
    for path in paths:
        assert path.stat().st_size > 0
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's private 0600


def test_csv_tables_parse_and_match_the_document(rendered):
    out, _, document = rendered
    board = pd.read_csv(out / "leaderboard.csv")
    for entry in document["results"]:
        row = board[(board["model"] == entry["model"]) & (board["dataset"] == entry["dataset"])]
        stats = entry["families"]["all"]
        assert row["auc_mean"].item() == stats["auc"]["mean"]  # full precision round trip
        assert row["auc_ci_high"].item() == stats["auc_ci"]["mean"]["high"]
        assert row["worst_template"].item() == stats["auc"]["worst_template"]
    scores = pd.read_csv(out / "template_scores.csv")
    entry = document["results"][1]
    mine = scores[(scores["model"] == entry["model"]) & (scores["dataset"] == entry["dataset"])]
    expected = [t["macro"]["auc"] for t in entry["per_template"]]
    assert [None if math.isnan(v) else v for v in mine["auc"]] == expected
    for name in TABLE_NAMES:
        frame = pd.read_csv(out / f"{name}.csv")
        assert len(frame) > 0, name
    provenance = pd.read_csv(out / "provenance.csv", dtype=str, keep_default_na=False)
    assert list(provenance.columns) == ["section", "key", document["run_id"]]


def test_markdown_tables_parse_and_match_the_document(rendered):
    out, _, document = rendered
    text = (out / "report.md").read_text()
    assert text.startswith(f"# cabench report: {document['run_id']}")
    tables = markdown_tables(text)
    boards = [t for t in tables if "mean AUC [95% CI]" in t.columns]
    assert len(boards) == len(document["datasets"])
    column = "mean AUC [95% CI]"
    shown = {(b.loc[i, "model"], b.loc[i, column], b.loc[i, "worst AUC"])
             for b in boards for i in b.index}  # fmt: skip
    for entry in document["results"]:
        stats = entry["families"]["all"]
        ci = stats["auc_ci"]["mean"]
        mean = f"{number(stats['auc']['mean'])} [{number(ci['low'])}, {number(ci['high'])}]"
        assert (entry["model"], mean, number(stats["auc"]["min"])) in shown
    assert text.count("<details>") == text.count("</details>") >= 2
    n_tables = len(document["datasets"]) * 4 + 4  # 4 per dataset; collapse, cross, rank, templates
    assert len(tables) == n_tables + 1


def test_html_embeds_plots_and_no_external_resources(rendered):
    out, _, _ = rendered
    html = (out / "report.html").read_text()

    class Collect(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[tuple[str, dict]] = []

        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, dict(attrs)))

    parser = Collect()
    parser.feed(html)
    images = [a["src"] for t, a in parser.tags if t == "img"]
    assert len(images) == 3
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert not [t for t, _ in parser.tags if t in ("script", "link", "iframe", "object")]
    links = [a.get("href", "") for t, a in parser.tags if t == "a"]
    assert not [h for h in links if h.startswith(("http:", "https:", "//"))]
    heat = [a for t, a in parser.tags if t == "td" and "background:" in a.get("style", "")]
    assert heat and all(a.get("title") for a in heat)  # every heatmap cell explains itself


def test_several_runs_render_side_by_side(stored_runs, tmp_path):
    runs = [stored_runs.full, stored_runs.small]
    paths = render_report(stored_runs.store, runs, tmp_path / "two", ("html", "md"))
    assert [p.name for p in paths] == ["report.html", "report.md"]
    text = paths[1].read_text()
    board = next(t for t in markdown_tables(text) if "worst AUC" in t.columns and "run" in t)
    assert set(runs) <= set(board["run"])
    html = paths[0].read_text()
    assert all(html.count(run) >= 2 for run in runs)


def test_default_out_folder_and_stale_tables(stored_runs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = render_report(stored_runs.store, [stored_runs.full[:-1]], None, ("csv",))
    assert paths[0].parent == Path("reports") / stored_runs.full
    folder = Path("reports") / stored_runs.small
    folder.mkdir(parents=True)
    (folder / "rank_stability.csv").write_text("stale\n")
    render_report(stored_runs.store, [stored_runs.small], None, ("csv",))
    assert not (folder / "rank_stability.csv").exists()  # one model: no rank stability now
    assert (folder / "leaderboard.csv").exists()


def test_user_errors_leave_nothing_behind(stored_runs, tmp_path):
    with pytest.raises(UserError, match="--format pdf"):
        parse_formats("html,pdf")
    with pytest.raises(UserError, match="--format"):
        parse_formats(" , ")
    assert parse_formats("md, HTML,md") == ("md", "html")
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        render_report(stored_runs.store, None, target, ("html",))
    with pytest.raises(UserError, match="matches no run"):
        render_report(stored_runs.store, ["zzz"], tmp_path / "out", ("html",))
    assert not (tmp_path / "out").exists()


def test_report_modules_import_only_the_store_and_stats():
    allowed = ("cabench.report", "cabench.store", "cabench.stats", "cabench.errors", "cabench")
    package = Path(cabench.report.__file__).parent
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                assert name.split(".")[0] not in ("torch", "monai", "transformers"), path
                if name.startswith("cabench"):
                    assert name in allowed or name.startswith(allowed[:3]), (path, name)


def test_report_package_imports_no_model_code(stored_runs, tmp_path):
    code = (
        "import sys\n"
        "from cabench.report import render_report\n"
        f"render_report({str(stored_runs.store)!r}, None, {str(tmp_path / 'r')!r}, ('html',))\n"
        "bad = [m for m in sys.modules if m == 'torch' or m.startswith(('torch.', "
        "'cabench.models', 'cabench.eval', 'monai', 'transformers'))]\n"
        "print('LOADED', bad)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)  # fmt: skip
    assert "LOADED []" in result.stdout
    assert (tmp_path / "r" / "report.html").exists()
