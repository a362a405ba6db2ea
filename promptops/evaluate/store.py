"""SQLite under .promptops/: the content-addressed response cache and the results of every run.

Every write is its own transaction, so a run killed at any moment keeps everything it had reported.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..model import CheckResult, Override, TaskResult
from ..providers import Completion

SCHEMA_VERSION = 1
MIGRATIONS = (
    """
    CREATE TABLE IF NOT EXISTS responses (
        key TEXT PRIMARY KEY,
        model TEXT NOT NULL,
        completion TEXT NOT NULL,
        created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
    );
    CREATE TABLE IF NOT EXISTS runs (
        run_id TEXT PRIMARY KEY,
        plan TEXT NOT NULL,
        label TEXT NOT NULL,
        started TEXT NOT NULL,
        finished TEXT,
        report TEXT
    );
    CREATE INDEX IF NOT EXISTS runs_by_plan ON runs (plan, started);
    CREATE TABLE IF NOT EXISTS results (
        run_id TEXT NOT NULL,
        key TEXT NOT NULL,
        suite TEXT NOT NULL,
        case_id TEXT NOT NULL,
        result TEXT NOT NULL,
        PRIMARY KEY (run_id, key)
    );
    """,
)


def _connect(path: Path) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            db.executescript(script)
            db.execute(f"PRAGMA user_version={number}")
        return db
    except sqlite3.DatabaseError as exc:
        raise InputError(
            f"cannot open the results database: {exc}",
            file=str(path),
            hint="delete the .promptops/ directory to start afresh",
        ) from None


class Store:
    """The response cache and the results store, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = _connect(path)

    def close(self) -> None:
        self.db.close()

    # -- response cache --------------------------------------------------------------------------------------
    def get(self, key: str) -> Completion | None:
        row = self.db.execute("SELECT completion FROM responses WHERE key = ?", (key,)).fetchone()
        return Completion(**json.loads(row[0])) if row else None

    def put(self, key: str, completion: Completion) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO responses (key, model, completion) VALUES (?, ?, ?)",
            (key, completion.model, json.dumps(asdict(completion))),
        )

    # -- runs and results ------------------------------------------------------------------------------------
    def resumable(self, plan: str) -> str | None:
        """The unfinished run with the same plan, whose finished tasks a new run may reuse."""
        row = self.db.execute(
            "SELECT run_id FROM runs WHERE plan = ? AND finished IS NULL ORDER BY started DESC LIMIT 1", (plan,)
        ).fetchone()
        return str(row[0]) if row else None

    def start(self, run_id: str, plan: str, label: str, started: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO runs (run_id, plan, label, started) VALUES (?, ?, ?, ?)",
            (run_id, plan, label, started),
        )

    def record(self, run_id: str, uid: str, result: TaskResult) -> None:
        """Keep one task's result; `uid` identifies the task (two cases may send the same request)."""
        self.db.execute(
            "INSERT OR REPLACE INTO results (run_id, key, suite, case_id, result) VALUES (?, ?, ?, ?, ?)",
            (run_id, uid, result.suite, result.case, json.dumps(asdict(result))),
        )

    def results(self, run_id: str) -> dict[str, TaskResult]:
        rows = self.db.execute("SELECT key, result FROM results WHERE run_id = ?", (run_id,)).fetchall()
        return {key: task_result(json.loads(text)) for key, text in rows}

    def finish(self, run_id: str, finished: str, report: str | None) -> None:
        self.db.execute("UPDATE runs SET finished = ?, report = ? WHERE run_id = ?", (finished, report, run_id))

    def latest_output(self, suite: str, case: str) -> TaskResult | None:
        """The most recent result for a case, across runs (for overrides)."""
        row = self.db.execute(
            "SELECT r.result FROM results r JOIN runs u ON u.run_id = r.run_id WHERE r.suite = ? AND r.case_id = ? "
            "ORDER BY u.started DESC, r.rowid DESC LIMIT 1",
            (suite, case),
        ).fetchone()
        return task_result(json.loads(row[0])) if row else None


def task_result(data: dict[str, Any]) -> TaskResult:
    checks = tuple(CheckResult(**c) for c in data.pop("checks", ()))
    override = data.pop("override", None)
    return TaskResult(**data, checks=checks, override=Override(**override) if override else None)
