"""The benchmark runner: discovery, selection, the closing target lines, and exit codes."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest

RUNNER_PATH = Path(__file__).resolve().parents[2] / "bench" / "__main__.py"


@pytest.fixture
def runner():
    spec = importlib.util.spec_from_file_location("bench_runner_under_test", RUNNER_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_module(monkeypatch, name: str, run) -> None:
    module = types.ModuleType(f"bench.bench_{name}")
    module.run = run
    monkeypatch.setitem(sys.modules, f"bench.bench_{name}", module)


def test_discovers_the_metrics_benchmark(runner):
    assert "metrics" in runner.available()


def test_unknown_name_exits_2_with_choices(runner, capsys):
    assert runner.main(["nope"]) == 2
    assert "unknown benchmark 'nope'" in capsys.readouterr().err


def test_summary_lines_mark_missed_targets_and_survive_errors(runner, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "bench", types.ModuleType("bench"))
    fake_module(monkeypatch, "good", lambda: [("speed", "120x", ">= 100x", True)])
    fake_module(monkeypatch, "slow", lambda: [("time", "75.0 s", "< 60 s", False)])
    fake_module(monkeypatch, "broken", lambda: 1 / 0)
    monkeypatch.setattr(runner, "available", lambda: ["broken", "good", "slow"])
    assert runner.main([]) == 0
    out = capsys.readouterr().out
    summary = out[out.index("== targets ==") :].splitlines()
    assert "speed: 120x (target >= 100x)" in summary
    assert "time: 75.0 s (target < 60 s)  MISSED" in summary
    assert any(line.startswith("broken: ERROR") and line.endswith("MISSED") for line in summary)
    assert summary[-1] == "1/3 targets met"


def test_selecting_names_runs_only_those(runner, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "bench", types.ModuleType("bench"))
    fake_module(monkeypatch, "good", lambda: [("speed", "120x", ">= 100x", True)])
    fake_module(monkeypatch, "slow", lambda: pytest.fail("should not run"))
    monkeypatch.setattr(runner, "available", lambda: ["good", "slow"])
    assert runner.main(["good"]) == 0
    assert "== bench slow ==" not in capsys.readouterr().out
