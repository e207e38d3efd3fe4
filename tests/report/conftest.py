"""Real stored runs for the report tests, made without trained models.

Both synthetic sites (tiny volumes from the real generator, in the real layouts), the
chance-level ``dummy`` adapter plus a global-embedding variant whose card says it was trained on
synth-ct-rate (so the cross-dataset table has an internal and an external site), scored by the
real run orchestration into a real store. Built once per session (about ten seconds).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cabench.models.dummy import DummyModel
from cabench.models.registry import ADAPTERS
from cabench.store import Store

HOSTILE_MODEL = "<script>alert(1)</script>\"model'"
HOSTILE_DATASET = "<b>site</b>\"&'<img src=x onerror=alert(2)>"
HOSTILE_TEXT = "<script>alert(3)</script> \"{{ finding }}\" is <i>present</i> & 'quoted'"


class GlobalDummy(DummyModel):
    """A global-embedding dummy whose model card says it was trained on synth-ct-rate."""

    name = "dummy-global"

    def __init__(self) -> None:
        super().__init__(anatomy_level=False)
        self.card = {"family": "clip", "dataset": {"name": "synth-ct-rate"}, "seed": 7}


@dataclass(frozen=True)
class StoredRuns:
    store: Path
    full: str  # two models x two datasets, bootstrap 50
    small: str  # one model, one dataset, no bootstrap
    documents: dict[str, dict]


def _write_datasets(root: Path) -> dict[str, Path]:
    from cabench.data.synth import generate

    sizes = {"synth-ct-rate": 16, "synth-rad-chestct": 12}
    return {
        name: generate(name, root / name, cases=n, shape=(16, 32, 32), seed=0, workers=1)
        for name, n in sizes.items()
    }


@pytest.fixture(scope="session")
def stored_runs(tmp_path_factory) -> StoredRuns:
    from cabench.eval.run import RunOptions, run

    base = tmp_path_factory.mktemp("report_runs")
    roots = _write_datasets(base / "data")
    store = base / "results.sqlite"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CABENCH_HOME", str(base / "home"))
        patch.setitem(ADAPTERS._entries, "dummy-global", lambda checkpoint, device: GlobalDummy())
        full = run(
            RunOptions(
                models=["dummy", "dummy-global"],
                datasets=list(roots),
                roots=roots,
                bootstrap=50,
                store=store,
                splits={"synth-ct-rate": "all"},
                command="cabench run (report fixture)",
            )
        )
        small = run(
            RunOptions(
                models=["dummy"],
                datasets=["synth-ct-rate"],
                roots=roots,
                bootstrap=0,
                store=store,
                prompts=["ctclip", "fvlm"],
                splits={"synth-ct-rate": "all"},
            )
        )
    documents = {d["run_id"]: d for d in (full, small)}
    return StoredRuns(store, full["run_id"], small["run_id"], documents)


def _rename(value: Any, names: dict[str, str]) -> Any:
    """Replace exact strings (values and dict keys) throughout a document."""
    if isinstance(value, dict):
        return {names.get(k, k): _rename(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, names) for v in value]
    return names.get(value, value) if isinstance(value, str) else value


def hostile_document(document: dict) -> dict:
    """The document with markup in a model name, a dataset name and every template's text."""
    names = {"dummy": HOSTILE_MODEL, "synth-ct-rate": HOSTILE_DATASET}
    doc = _rename(copy.deepcopy(document), names)
    for template in doc["templates"]:
        template["positive_source"] = HOSTILE_TEXT
        template["texts"] = {f: [HOSTILE_TEXT, f"not {HOSTILE_TEXT}"] for f in template["texts"]}
    doc["notes"] = [*doc.get("notes", []), HOSTILE_TEXT]
    doc["run_id"] = "hostile-run"
    return doc


@pytest.fixture(scope="session")
def hostile() -> dict[str, str]:
    """The markup put into a model name, a dataset name and the template texts."""
    return {"model": HOSTILE_MODEL, "dataset": HOSTILE_DATASET, "text": HOSTILE_TEXT}


@pytest.fixture(scope="session")
def hostile_store(stored_runs, tmp_path_factory) -> Path:
    """A store holding one run whose names and texts contain markup."""
    path = tmp_path_factory.mktemp("hostile") / "results.sqlite"
    document = hostile_document(stored_runs.documents[stored_runs.full])
    Store(path).write_run(json.loads(json.dumps(document)), [], [])
    return path


@pytest.fixture(scope="session")
def rendered(stored_runs, tmp_path_factory) -> tuple[Path, list[Path], dict]:
    """The full run rendered once in every format: (folder, paths written, stored document)."""
    from cabench.report import render_report

    out = tmp_path_factory.mktemp("report") / "one"
    paths = render_report(stored_runs.store, [stored_runs.full], out, ("html", "csv", "md"))
    return out, paths, Store(stored_runs.store).load_run(stored_runs.full)
