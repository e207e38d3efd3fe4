"""Markup in model names, dataset names and template texts shows as text, never as markup."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from cabench.report import render_report
from cabench.report.markdown import escape


class Page(HTMLParser):
    """Every element and the text the browser would show (attributes and data, unescaped)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def hostile_report(hostile_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("hostile_report")
    paths = render_report(hostile_store, None, out, ("html", "csv", "md"))
    page = Page()
    page.feed(paths[0].read_text())
    return out, page


def test_no_markup_from_names_or_texts(hostile_report):
    _, page = hostile_report
    tags = [tag for tag, _ in page.tags]
    assert "script" not in tags  # none of the page's own either
    assert "b" not in tags and "i" not in tags
    assert [a["src"][:22] for t, a in page.tags if t == "img"] == ["data:image/png;base64,"] * 3
    handlers = [k for _, attrs in page.tags for k in attrs if k.startswith("on")]
    assert handlers == []


def test_hostile_strings_appear_as_text(hostile_report, hostile):
    _, page = hostile_report
    text = "".join(page.text)
    titles = " ".join(str(a.get("title")) for _, a in page.tags if a.get("title"))
    for value in hostile.values():
        assert value in text, value
    assert hostile["text"] in titles  # hover texts carry the template text (escaped attribute)


def test_attributes_are_quoted_and_escaped(hostile_report):
    out, _ = hostile_report
    html = (out / "report.html").read_text()
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert re.search(r"title=\"[^\"]*&#34;[^\"]*\"", html)  # a quote inside a title attribute


def test_markdown_and_csv_keep_the_text_inert(hostile_report, hostile):
    out, _ = hostile_report
    markdown = (out / "report.md").read_text()
    assert "<script" not in markdown and "<img" not in markdown
    assert escape(hostile["model"]) in markdown
    assert escape("a|b<c>") == "a\\|b&lt;c&gt;"
    csv = (out / "leaderboard.csv").read_text()
    assert hostile["dataset"].replace('"', '""') in csv  # CSV quoting, the text unchanged
