"""SQLite under .promptops/: the content-addressed response cache and the results of every run.

Writes are batched: results and cached answers wait in memory and are written in one transaction once
`BATCH_SIZE` results (each with the answer its call brought) are pending or the oldest has waited
`BATCH_SECONDS` (the runner flushes on that clock even when no new result arrives). A result answered from the
cache counts as a fraction of one (a batch holds up to `CACHED_PER_ROW` times as many of them): a resumed run
remakes it from the cache without a call, and a warm re-run of 10,000 cases no longer commits 200 transactions.
A batch is written by the store's own thread while the run goes on (SQLite does the work of a transaction
without holding the interpreter's lock, on the core the run's event loop leaves free), one at a time: a batch
due while the one before is still being written waits for it. A run killed with kill -9 loses at most the batch
being written and the one filling, whose tasks a resumed run makes again; everything written before is kept and
not repeated. Reading from the store waits for the writes handed over before; reading the results of a run,
finishing it and closing the store write what is pending first, so Ctrl-C loses nothing.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import operator
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from .. import digest
from ..errors import InputError, PromptopsError, UnavailableError
from ..model import CheckResult, Override, TaskResult
from ..providers import Completion

STATE_DIR = ".promptops"  # under the project root; never released (see release.releasing.check_clean)
STATE_FILE = f"{STATE_DIR}/promptops.sqlite"  # the response cache and the results of every run
_T = TypeVar("_T")
BATCH_SIZE = 100  # results (with their answers) written per transaction, at most
BATCH_SECONDS = 0.25  # the longest a finished result waits in memory before it is written
CACHED_PER_ROW = 20  # results answered from the cache that fill a batch as much as one result that made a call
READ_CHUNK = 500  # keys per `IN (...)` query when the cache is read in bulk (SQLite's variable limit is 999+)
MAX_VARIABLES = 999  # parameters of one statement: the limit of SQLite before 3.32 (32,766 since)
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


TABLES = {
    "responses": {"key", "model", "completion", "created"},
    "runs": {"run_id", "plan", "label", "started", "finished", "report"},
    "results": {"run_id", "key", "suite", "case_id", "result"},
}
LOCK_HINT = "another promptops run (or a program reading .promptops/) holds it: let that finish, then run again"


class _Foreign(sqlite3.DatabaseError):
    """The file is an SQLite database, but not ours (or from a promptops that wrote another layout)."""


def _is_locked(exc: sqlite3.Error) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if not isinstance(version, int) or not 0 <= version <= len(MIGRATIONS):
            raise _Foreign(f"schema version {version} is not one this promptops knows")
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            db.executescript(script)
            db.execute(f"PRAGMA user_version={number}")
        for table, columns in TABLES.items():
            found = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            if not columns <= found:
                raise _Foreign(f"table {table!r} lacks {', '.join(sorted(columns - found))}")
        return db
    except BaseException:
        db.close()
        raise


def _move_aside(path: Path) -> Path:
    """Keep a broken database for inspection, out of the way of a fresh one."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.broken-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            os.replace(part, aside.with_name(aside.name + suffix))
    return aside


def _connect(path: Path, warn: Callable[[str], None]) -> sqlite3.Connection:
    """Open (and migrate) the database. A broken or foreign one is moved aside, with a warning, and rebuilt:
    a cache is never worth a failed run, and is never silently reused."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create the state directory: {exc.strerror or exc}",
            file=str(path.parent),
            hint=f"promptops keeps its cache in {path.parent.name}/, a directory: move the file of that name aside",
        ) from None
    try:
        try:
            return _open(path)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and _is_locked(exc):
                raise
            aside = _move_aside(path)
            warn(f"warning: {path} was unusable ({exc}); moved it to {aside.name} and started a new cache")
            return _open(path)
    except sqlite3.Error as exc:
        raise _failure(exc, path) from None
    except OSError as exc:
        raise InputError(
            f"cannot open the results database: {exc.strerror or exc}",
            file=str(path),
            hint="check that .promptops/ is writable",
        ) from None


def _failure(exc: sqlite3.Error, path: Path) -> PromptopsError:
    if _is_locked(exc):
        return UnavailableError(f"{path}: the results database stayed locked for more than 5 s", hint=LOCK_HINT)
    return UnavailableError(
        f"{path}: the results database failed: {exc}",
        hint="move .promptops/promptops.sqlite aside (it holds only the cache and past results) and run again",
    )


def _guarded(method: Callable[..., _T]) -> Callable[..., _T]:
    """SQLite errors during a run (a lock held too long, a disk that fills) become exit 3 with the fix."""

    @functools.wraps(method)
    def run(self: Store, *args: Any, **kwargs: Any) -> _T:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise _failure(exc, self.path) from None

    return run


class Store:
    """The response cache and the results store, in one SQLite file."""

    def __init__(
        self,
        path: Path,
        warn: Callable[[str], None] | None = None,
        *,
        batch_size: int = BATCH_SIZE,
        batch_seconds: float = BATCH_SECONDS,
    ) -> None:
        from . import refuse_committed_state

        refuse_committed_state(path.parent)
        self.path = path
        self.db = _connect(path, warn or (lambda _: None))
        self.batch_size = max(1, batch_size)
        self.batch_seconds = batch_seconds
        self._answers: dict[str, tuple[str, str, str]] = {}  # key -> row of `responses` not yet written
        self._results: dict[tuple[str, str], tuple[str, str, str, str, str]] = {}  # likewise for `results`
        self._oldest: float | None = None  # when the oldest pending row arrived (time.monotonic)
        self._cached = 0  # pending results answered from the cache (remade without a call if lost)
        self._known: dict[str, Completion] = {}  # answers read in bulk or written by this process
        self._absent: set[str] = set()  # keys a bulk read found no answer for (until this process writes one)
        # An empty cache (a new store) holds no answer but those this process writes: none is looked up.
        self._empty = self._holds_no_answer()
        self._writer: ThreadPoolExecutor | None = None  # the thread that writes the batches, made with the first
        self._writing: Future[None] | None = None  # the write handed to it last, until it is known to be done

    @_guarded
    def _holds_no_answer(self) -> bool:
        return self.db.execute("SELECT 1 FROM responses LIMIT 1").fetchone() is None

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._writer is not None:  # a write still going on (Ctrl-C while waiting for it) ends first
                self._writer.shutdown(wait=True)
            self.db.close()

    # -- batched writes --------------------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        return len(self._answers) + len(self._results)

    @property
    def _fill(self) -> float:
        """How full the batch is, in calls that a lost batch would cost to make again: its results (those answered
        from the cache at a fraction), or its answers when more are pending (a judge's)."""
        results = len(self._results) - self._cached + self._cached / CACHED_PER_ROW
        return max(results, len(self._answers))

    @_guarded
    def flush(self) -> None:
        """Write every pending row in one transaction, and wait until every write handed over is done."""
        self._hand_over()
        self._wait()

    @_guarded
    def flush_due(self) -> None:
        """Hand the pending rows to the writer when the batch is full or its oldest row has waited long enough."""
        if self._oldest is not None and (
            self._fill >= self.batch_size or time.monotonic() - self._oldest >= self.batch_seconds
        ):
            self._hand_over()

    def _hand_over(self) -> None:
        if not self.pending:
            return
        self._wait()  # the batch before first: if it failed, this one stays pending, and its failure is raised
        answers, results = list(self._answers.values()), list(self._results.values())
        self._answers.clear()
        self._results.clear()
        self._oldest = None
        self._cached = 0
        self._submit(functools.partial(self._write, answers, results))

    def _write(self, answers: Sequence[tuple[str, ...]], results: Sequence[tuple[str, ...]]) -> None:
        with _transaction(self.db):
            _insert(self.db, "INSERT OR REPLACE INTO responses (key, model, completion) VALUES ", answers)
            _insert(self.db, "INSERT OR REPLACE INTO results (run_id, key, suite, case_id, result) VALUES ", results)

    def _submit(self, write: Callable[[], object]) -> None:
        """Give a write to the writer thread once the one before is done (its failure raises here)."""
        self._wait()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="promptops-store")
        self._writing = self._writer.submit(write)  # type: ignore[arg-type]

    @_guarded
    def written(self) -> None:
        """Wait until the rows handed to the writer are on disk (not those still pending in memory)."""
        self._wait()

    def _wait(self) -> None:
        """Wait for the write handed over last; its SQLite error, if it failed, is raised here. Interrupted (Ctrl-C),
        the write is still awaited by the next wait, and by `close`, before the connection is used again."""
        writing = self._writing
        if writing is None:
            return
        try:
            writing.result()
        finally:
            if writing.done():
                self._writing = None

    def _queued(self) -> None:
        if self._oldest is None:
            self._oldest = time.monotonic()
        self.flush_due()

    # -- response cache --------------------------------------------------------------------------------------
    @_guarded
    def get(self, key: str) -> Completion | None:
        known = self._known.get(key)
        if known is not None or self._empty or key in self._absent:
            return known
        self._wait()
        row = self.db.execute("SELECT completion FROM responses WHERE key = ?", (key,)).fetchone()
        return Completion(**json.loads(row[0])) if row else None

    @_guarded
    def preload(self, keys: Iterable[str]) -> int:
        """Read the cached answers of `keys` in a few queries (a warm re-run makes one lookup per chunk, not
        one per task); later `get`s of them are answered from memory. Returns how many were found."""
        self._wait()
        wanted = sorted(set(keys) - self._known.keys())
        for start in range(0, len(wanted), READ_CHUNK):
            chunk = wanted[start : start + READ_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(f"SELECT key, completion FROM responses WHERE key IN ({marks})", chunk).fetchall()
            answers = json.loads(f"[{','.join(text for _, text in rows)}]")  # one decoder call for the chunk
            self._known.update((key, Completion(**data)) for (key, _), data in zip(rows, answers, strict=True))
        self._absent.update(k for k in wanted if k not in self._known)  # a cold run asks again for none of them
        return sum(1 for k in set(keys) if k in self._known)

    def put(self, key: str, completion: Completion) -> None:
        self._known[key] = completion
        self._answers[key] = (key, completion.model, to_json(completion))
        self._queued()

    # -- runs and results ------------------------------------------------------------------------------------
    @_guarded
    def resumable(self, plan: str) -> str | None:
        """The unfinished run with the same plan, whose finished tasks a new run may reuse."""
        self._wait()
        row = self.db.execute(
            "SELECT run_id FROM runs WHERE plan = ? AND finished IS NULL ORDER BY started DESC LIMIT 1", (plan,)
        ).fetchone()
        return str(row[0]) if row else None

    @_guarded
    def start(self, run_id: str, plan: str, label: str, started: str) -> None:
        self._wait()
        self.db.execute(
            "INSERT OR IGNORE INTO runs (run_id, plan, label, started) VALUES (?, ?, ?, ?)",
            (run_id, plan, label, started),
        )

    @_guarded
    def plan(self, run_id: str, plan: str) -> None:
        """Keep the plan of a run started before its last case was planned (`start` with an empty plan): from
        then on, an interrupted run with the same plan resumes it. Written in turn with the batches."""
        self._submit(functools.partial(self.db.execute, "UPDATE runs SET plan = ? WHERE run_id = ?", (plan, run_id)))

    def record(self, run_id: str, uid: str, result: TaskResult, encoded: str | None = None) -> None:
        """Keep one task's result; `uid` identifies the task (two cases may send the same request). `encoded` is
        `to_json(result)` when the caller has made that text already."""
        if result.cached and (run_id, uid) not in self._results:
            self._cached += 1
        self._results[(run_id, uid)] = (run_id, uid, result.suite, result.case, encoded or to_json(result))
        self._queued()

    @_guarded
    def results(self, run_id: str) -> dict[str, TaskResult]:
        self.flush()
        rows = self.db.execute("SELECT key, result FROM results WHERE run_id = ?", (run_id,)).fetchall()
        return {key: task_result(json.loads(text)) for key, text in rows}

    @_guarded
    def finish(self, run_id: str, finished: str) -> None:
        """Mark the run finished (it is no longer resumable). `runs.report`, which older versions filled with
        the whole results document and nothing read, stays NULL: the column is kept for existing databases."""
        self.flush()
        self.db.execute("UPDATE runs SET finished = ? WHERE run_id = ?", (finished, run_id))

    @_guarded
    def latest_output(self, suite: str, case: str) -> TaskResult | None:
        """The most recent result for a case at the evaluated tree, across runs (for overrides), its primary
        model's first. A `--baseline` run's results for the base revision (task ids starting "base\x1f") are
        never it: the reviewer judges the current output."""
        self.flush()
        row = self.db.execute(
            "SELECT r.result FROM results r JOIN runs u ON u.run_id = r.run_id WHERE r.suite = ? AND r.case_id = ? "
            "AND substr(r.key, 1, 5) != 'base' || char(31) "
            "ORDER BY u.started DESC, json_extract(r.result, '$.variant') = 'primary' DESC, r.rowid DESC LIMIT 1",
            (suite, case),
        ).fetchone()
        return task_result(json.loads(row[0])) if row else None


def _insert(db: sqlite3.Connection, head: str, rows: Sequence[tuple[str, ...]]) -> None:
    """Insert `rows` with as few statements as SQLite's parameter limit allows: each is one step of SQLite's,
    which runs without the interpreter's lock (a statement per row would take it back for every row)."""
    if not rows:
        return
    width = len(rows[0])
    per = MAX_VARIABLES // width
    marks = "(" + ",".join("?" * width) + ")"
    for start in range(0, len(rows), per):
        chunk = rows[start : start + per]
        db.execute(head + ",".join([marks] * len(chunk)), list(itertools.chain.from_iterable(chunk)))


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


@functools.cache
def _reader(cls: type) -> Callable[[Any], dict[str, Any]]:
    """The function that reads a dataclass's fields into a dict, in declaration order."""
    names = tuple(f.name for f in fields(cls))
    if len(names) < 2:  # attrgetter gives a tuple for two names or more
        return lambda obj: {name: getattr(obj, name) for name in names}
    values = operator.attrgetter(*names)
    return lambda obj: dict(zip(names, values(obj), strict=True))


def _fields_of(obj: Any) -> dict[str, Any]:
    """A result's, check's, override's or completion's fields in declaration order, for the JSON encoder, which
    asks again for each dataclass inside. Not a copy: these objects are frozen and never mutated."""
    if not hasattr(obj, "__dataclass_fields__"):
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")
    return _reader(type(obj))(obj)  # type: ignore[arg-type]


def to_json(obj: Any) -> str:
    """`json.dumps(dataclasses.asdict(obj))`, the same text (keys in field order, tuples as lists), made by the
    C encoder in one call, with no deep copy and no dict built first."""
    return _ENCODE(obj)


_ENCODE = digest.encoding(json.JSONEncoder(default=_fields_of))


def task_result(data: dict[str, Any]) -> TaskResult:
    checks = tuple(CheckResult(**c) for c in data.pop("checks", ()))
    override = data.pop("override", None)
    return TaskResult(**data, checks=checks, override=Override(**override) if override else None)
