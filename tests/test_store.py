import json
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from cabench.errors import UserError
from cabench.store import MetricRow, Store


def _document(run_id, value=0.5):
    return {"run_id": run_id, "created_at": "t0", "finished_at": run_id, "command": "test",
            "seed": 0, "threshold_policy": "youden", "value": value}  # fmt: skip


def test_write_and_read_back(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    digest = store.put_arrays(
        {"probs": np.ones((2, 3, 4), np.float32), "ids": np.array(["a", "b"])}
    )
    rows = [MetricRow("m", "d", "fam", "t1", "Emphysema", "auc", 0.7),
            MetricRow("m", "d", "fam", "t1", "Atelectasis", "auc", float("nan"))]  # fmt: skip
    store.write_run(_document("run-1"), rows, [("m", "d", "score_cube", digest)])
    assert store.resolve("latest") == "run-1" == store.resolve("run")
    assert store.load_run("run-1")["value"] == 0.5
    back = store.metric_rows("run-1")
    assert back[0].value == 0.7 and back[1].value is None
    arrays = store.get_arrays(digest)
    assert arrays["probs"].shape == (2, 3, 4) and arrays["ids"].tolist() == ["a", "b"]


def test_failed_write_leaves_nothing(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    store.write_run(_document("run-1"), [], [])
    with pytest.raises(sqlite3.IntegrityError):
        store.write_run(_document("run-2"), [MetricRow("m", "d", "f", "t", "x", "auc", 1.0)],
                        [("m", "d", "cube", "h"), (None, None, None, None)])  # fmt: skip
    assert store.run_ids() == ["run-1"]
    assert store.metric_rows("run-1") == []


def test_unknown_and_empty(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    with pytest.raises(UserError, match="no runs stored yet"):
        store.resolve("latest")
    store.write_run(_document("run-1"), [], [])
    with pytest.raises(UserError, match="matches no run"):
        store.resolve("zzz")


def test_tampered_artifact_is_refused(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    digest = store.put_arrays({"x": np.arange(10)})
    path = store.artifact_path(digest)
    path.write_bytes(path.read_bytes()[:-3] + b"abc")
    with pytest.raises(UserError, match="does not match its hash"):
        store.get_arrays(digest)


WRITER = """
import sys
from cabench.store import MetricRow, Store
document = {"run_id": sys.argv[2], "created_at": "t0", "finished_at": sys.argv[2],
            "command": "test", "seed": 0, "threshold_policy": "youden"}
Store(sys.argv[1]).write_run(document, [MetricRow("m", "d", "f", "t", "x", "auc", 0.1)] * 200, [])
"""


def test_two_writers_both_complete(tmp_path):
    path = tmp_path / "r.sqlite"
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"run-{i}"]) for i in range(2)
    ]
    assert [p.wait(120) for p in procs] == [0, 0]
    store = Store(path)
    assert sorted(store.run_ids()) == ["run-0", "run-1"]
    assert all(len(store.metric_rows(r)) == 200 for r in store.run_ids())
    assert json.loads(json.dumps(store.load_run("run-0")))["seed"] == 0
