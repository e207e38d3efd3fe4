"""The results store: an embedded, transactional SQLite database plus content-addressed array
files beside it.

A run is written in ONE transaction when it completes (its result document, its metric rows and
its artifact references), so a crash never leaves a partial run behind, and two runs writing at
once both complete (SQLite serialises the writers; WAL lets readers go on). Large arrays (score
cubes) live in ``<store>.artifacts/<sha256>.npz`` and are referenced by hash.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cabench import paths
from cabench.errors import UserError

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    command TEXT NOT NULL,
    seed INTEGER NOT NULL,
    threshold_policy TEXT NOT NULL,
    document TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    model TEXT NOT NULL, dataset TEXT NOT NULL, family TEXT NOT NULL,
    template_id TEXT NOT NULL, finding TEXT NOT NULL, metric TEXT NOT NULL, value REAL
);
CREATE INDEX IF NOT EXISTS metrics_run ON metrics(run_id, model, dataset);
CREATE TABLE IF NOT EXISTS artifacts (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    model TEXT NOT NULL, dataset TEXT NOT NULL, kind TEXT NOT NULL, sha256 TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class MetricRow:
    model: str
    dataset: str
    family: str
    template_id: str
    finding: str
    metric: str
    value: float | None


class Store:
    """Open (creating if needed) the store at ``path`` (default $CABENCH_HOME/results.sqlite)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else paths.default_store()
        self.artifact_dir = self.path.with_name(self.path.name + ".artifacts")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = sqlite3.connect(self.path, timeout=120, isolation_level=None)
        except sqlite3.Error as exc:
            raise UserError(f"--store {self.path}: cannot open the results store ({exc})") from None
        try:
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA busy_timeout=120000")
                connection.executescript(SCHEMA)
                connection.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            except sqlite3.DatabaseError as exc:
                raise UserError(
                    f"--store {self.path}: not a cabench results store ({exc})"
                ) from None
            yield connection
        finally:
            connection.close()

    # -- arrays -----------------------------------------------------------------------------
    def put_arrays(self, arrays: Mapping[str, np.ndarray]) -> str:
        """Store plain arrays (no objects, loadable without pickle); returns their sha256."""
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
        data = buffer.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        target = self.artifact_dir / f"{digest}.npz"
        if not target.exists():
            self.artifact_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.artifact_dir, suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        return digest

    def get_arrays(self, digest: str) -> dict[str, np.ndarray]:
        target = self.artifact_dir / f"{digest}.npz"
        if not target.exists():
            raise UserError(f"{target}: artifact missing from the store (was it moved?)")
        if hashlib.sha256(target.read_bytes()).hexdigest() != digest:
            raise UserError(f"{target}: content does not match its hash; the file was changed")
        with np.load(target, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def artifact_path(self, digest: str) -> Path:
        return self.artifact_dir / f"{digest}.npz"

    # -- runs -------------------------------------------------------------------------------
    def write_run(
        self,
        document: dict[str, Any],
        metric_rows: list[MetricRow],
        artifacts: list[tuple[str, str, str, str]],
    ) -> str:
        """Write a finished run atomically; returns its run id."""
        run_id = document["run_id"]
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        document["created_at"],
                        document["finished_at"],
                        document.get("command", ""),
                        int(document.get("seed", 0)),
                        document.get("threshold_policy", ""),
                        json.dumps(document, sort_keys=True, allow_nan=True),
                    ),
                )
                db.executemany(
                    "INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (run_id, r.model, r.dataset, r.family, r.template_id, r.finding, r.metric,
                         None if r.value is None or not np.isfinite(r.value) else float(r.value))
                        for r in metric_rows
                    ],
                )  # fmt: skip
                db.executemany(
                    "INSERT INTO artifacts VALUES (?, ?, ?, ?, ?)",
                    [(run_id, *a) for a in artifacts],
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return run_id

    def run_ids(self) -> list[str]:
        if not self.path.exists():
            return []
        with self._connect() as db:
            rows = db.execute("SELECT run_id FROM runs ORDER BY rowid").fetchall()
        return [r[0] for r in rows]

    def resolve(self, run: str | None) -> str:
        """A run id from ``ID``, a unique prefix of one, or ``latest`` (the default)."""
        ids = self.run_ids()
        if not ids:
            raise UserError(f"--store {self.path}: no runs stored yet; run `cabench run` first")
        if run in (None, "latest"):
            return ids[-1]
        matches = [i for i in ids if i == run] or [i for i in ids if i.startswith(str(run))]
        if len(matches) != 1:
            detail = "matches several runs" if matches else "matches no run"
            raise UserError(f"--run {run!r} {detail} in {self.path}; see `cabench runs`")
        return matches[0]

    def load_run(self, run: str | None = "latest") -> dict[str, Any]:
        run_id = self.resolve(run)
        with self._connect() as db:
            (text,) = db.execute("SELECT document FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return json.loads(text)

    def metric_rows(self, run: str | None = "latest") -> list[MetricRow]:
        run_id = self.resolve(run)
        with self._connect() as db:
            rows = db.execute(
                "SELECT model, dataset, family, template_id, finding, metric, value "
                "FROM metrics WHERE run_id = ?",
                (run_id,),
            ).fetchall()
        return [MetricRow(*row) for row in rows]

    def summaries(self) -> list[dict[str, Any]]:
        """One line per stored run (id, time, command)."""
        if not self.path.exists():
            return []
        with self._connect() as db:
            rows = db.execute(
                "SELECT run_id, finished_at, command FROM runs ORDER BY rowid"
            ).fetchall()
        return [{"run_id": r[0], "finished_at": r[1], "command": r[2]} for r in rows]


def new_run_id() -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{stamp}-{os.urandom(3).hex()}"
