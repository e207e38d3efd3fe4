"""The report in a real browser: headless Chromium renders it without console errors, every plot
decodes to a real image, and a screenshot is saved beside the test's files.

Skipped (with the reason) when no Chromium is installed; on Debian: `apt-get install -y chromium`.
Set CABENCH_CHROMIUM to use another binary.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.browser

WINDOW = (1400, 4000)
PROBE = (
    "<script>window.addEventListener('load', () => { document.body.dataset.images = "
    "[...document.images].map(i => i.naturalWidth + 'x' + i.naturalHeight).join(' '); });"
    "</script></body>"
)


def chromium() -> str | None:
    for candidate in (os.environ.get("CABENCH_CHROMIUM"), "chromium", "chromium-browser",
                      "google-chrome", "/usr/bin/chromium"):  # fmt: skip
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-default-apps", "--enable-logging=stderr", "--v=0",
        f"--user-data-dir={profile}", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def console_problems(stderr: str) -> list[str]:
    """Console messages (the page has no scripts of its own, so any is a problem)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.fixture(scope="module")
def browser() -> str:
    binary = chromium()
    if binary is None:
        pytest.skip("headless Chromium not found (install: apt-get install -y chromium)")
    return binary


def test_report_renders_in_chromium(browser, rendered, tmp_path):
    page = tmp_path / "report.html"
    shutil.copy(rendered[1][0], page)
    probe = tmp_path / "probe.html"  # the page plus a script that reads the image sizes
    probe.write_text(page.read_text().replace("</body>", PROBE))

    dumped = run_chromium(browser, tmp_path / "profile1", "--virtual-time-budget=5000",
                          "--dump-dom", probe.as_uri())  # fmt: skip
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert console_problems(dumped.stderr) == []
    dom = dumped.stdout
    sizes = re.search(r'data-images="([^"]*)"', dom)
    assert sizes, "the page did not finish loading"
    decoded = [tuple(map(int, s.split("x"))) for s in sizes.group(1).split()]
    assert len(decoded) == 3 and all(w > 100 and h > 100 for w, h in decoded), decoded
    for anchor in ("leaderboard", "templates-x-models", "collapse", "cross-dataset"):
        assert f'id="{anchor}"' in dom

    screenshot = tmp_path / "report.png"
    shot = run_chromium(browser, tmp_path / "profile2", f"--screenshot={screenshot}",
                        f"--window-size={WINDOW[0]},{WINDOW[1]}", page.as_uri())  # fmt: skip
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert console_problems(shot.stderr) == []
    with Image.open(screenshot) as image:
        assert image.size == WINDOW
        colours = image.convert("RGB").resize((350, 1000)).getcolors(maxcolors=1_000_000)
        assert len(colours) > 200  # text, tables, heatmap and plots: not a blank page
