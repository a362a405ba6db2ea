"""The results store writes in batches: what a crash can lose is bounded, and nothing is lost on a clean stop."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict, replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptops.evaluate.store import Store
from promptops.model import CheckResult, Override, TaskResult
from promptops.providers import Completion


def result(n: int) -> TaskResult:
    return TaskResult(
        suite="s",
        case=f"c{n}",
        repeat=0,
        model="m",
        variant="primary",
        key=f"k{n}",
        status="pass",
        output=f"out {n}",
        checks=(CheckResult(type="contains", passed=True, score=1.0, reason="found"),),
        score=1.0,
    )


def on_disk(path: Path, store: Store | None = None) -> tuple[int, int]:
    """(results, cached answers) another process would see now, once `store`'s writer has written what it was
    given (the rows still pending in memory are not written by waiting)."""
    if store is not None:
        store.written()
    with sqlite3.connect(path) as db:
        return (
            db.execute("SELECT count(*) FROM results").fetchone()[0],
            db.execute("SELECT count(*) FROM responses").fetchone()[0],
        )


def test_results_and_answers_are_written_one_batch_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "promptops.sqlite"
    store = Store(path, batch_size=4, batch_seconds=3600)
    store.start("r", "plan", "label", "2026-01-01T00:00:00Z")
    for n in range(3):
        store.record("r", f"u{n}", result(n))
    assert on_disk(path, store) == (0, 0)  # a kill -9 now loses these three, and the run that resumes makes them again
    store.put("k0", Completion(text="out 0", model="m"))  # an answer rides with the result of its call
    assert on_disk(path, store) == (0, 0)
    store.record("r", "u3", result(3))
    assert on_disk(path, store) == (4, 1)  # the fourth result filled the batch: all written in one transaction
    for n in range(4, 9):  # answers alone (a judge's, before its task ends) fill a batch too
        store.put(f"k{n}", Completion(text=f"out {n}", model="m"))
    assert on_disk(path, store) == (4, 5)
    store.record("r", "u9", result(9))
    assert store.results("r").keys() == {"u0", "u1", "u2", "u3", "u9"}  # reading a run writes what is pending
    store.record("r", "u10", result(10))
    store.close()  # so does closing the store
    assert on_disk(path) == (6, 6)


def test_results_answered_from_the_cache_fill_a_batch_more_slowly(tmp_path: Path) -> None:
    """A lost cached result costs no call to remake (its answer is in the cache), so a warm re-run writes its
    results in fewer, larger transactions; a result that made a call still counts as a whole row."""
    from promptops.evaluate.store import CACHED_PER_ROW

    path = tmp_path / "promptops.sqlite"
    store = Store(path, batch_size=4, batch_seconds=3600)
    store.start("r", "plan", "label", "2026-01-01T00:00:00Z")
    cached = 4 * CACHED_PER_ROW
    for n in range(cached - 1):
        store.record("r", f"u{n}", replace(result(n), cached=True))
    assert on_disk(path, store) == (0, 0)  # a kill -9 now costs no call: the resumed run answers these from the cache
    store.record("r", f"u{cached - 1}", replace(result(cached - 1), cached=True))
    assert on_disk(path, store) == (cached, 0)  # as full as four results that made calls
    for n in range(3):
        store.record("r", f"fresh{n}", result(n))
    store.record("r", "one-more-cached", replace(result(0), cached=True))
    assert on_disk(path, store) == (cached, 0)
    store.record("r", "fresh3", result(3))  # three fresh, one cached: 3 + 1/20 rows, then the fourth fresh one
    assert on_disk(path, store) == (cached + 5, 0)
    store.close()


def test_a_result_waits_in_memory_at_most_the_batch_time(tmp_path: Path) -> None:
    path = tmp_path / "promptops.sqlite"
    store = Store(path, batch_size=1000, batch_seconds=0.05)
    store.record("r", "u0", result(0))
    store.flush_due()
    assert on_disk(path, store) == (0, 0)
    time.sleep(0.06)
    store.flush_due()
    assert on_disk(path, store) == (1, 0)
    store.close()


def test_a_batch_is_written_while_the_run_goes_on(tmp_path: Path) -> None:
    """The writer thread writes a full batch: the run is not held while SQLite waits for a lock another program
    holds (up to 5 s), and the batch is on disk once the lock is let go."""
    path = tmp_path / "promptops.sqlite"
    store = Store(path, batch_size=2, batch_seconds=3600)
    store.start("r", "plan", "label", "2026-01-01T00:00:00Z")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program writing to the database
    started = time.monotonic()
    store.record("r", "u0", result(0))
    store.record("r", "u1", result(1))  # the batch is full: handed to the writer, which waits for the lock
    assert time.monotonic() - started < 0.5
    assert store.get("k9") is None  # answers kept in memory need no database, even while it is locked
    time.sleep(0.2)
    other.execute("COMMIT")
    other.close()
    assert on_disk(path, store) == (2, 0)
    assert store.results("r").keys() == {"u0", "u1"}
    store.close()


def test_a_write_that_fails_on_the_writer_thread_stops_the_run_with_what_to_do(tmp_path: Path) -> None:
    """A batch the writer could not write (a full disk, a broken file) is an UnavailableError at the next step of
    the run that touches the store, as a failed write was when the run wrote it itself; the store still closes."""
    from promptops.errors import UnavailableError

    path = tmp_path / "promptops.sqlite"
    store = Store(path, batch_size=2, batch_seconds=3600)
    store.start("r", "plan", "label", "2026-01-01T00:00:00Z")
    with sqlite3.connect(path) as db:  # every insert of a result now fails, as on a full disk
        db.execute("CREATE TRIGGER full BEFORE INSERT ON results BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
    store.record("r", "u0", result(0))
    store.record("r", "u1", result(1))
    with pytest.raises(UnavailableError, match="disk I/O error") as failed:
        store.record("r", "u2", result(2))
        store.record("r", "u3", result(3))  # the next batch waits for the one before, and learns of its failure
    assert "move .promptops/promptops.sqlite aside" in str(failed.value.hint)
    with pytest.raises(UnavailableError, match="disk I/O error"):
        store.close()  # the batch that waited is tried when the store closes, and fails the same way
    assert on_disk(path) == (0, 0)


def test_a_stored_result_reads_back_equal_and_its_json_keeps_the_dataclass_layout(tmp_path: Path) -> None:
    path = tmp_path / "promptops.sqlite"
    store = Store(path)
    store.record("r", "u0", result(0))
    assert store.results("r") == {"u0": result(0)}
    store.close()
    with sqlite3.connect(path) as db:
        text = db.execute("SELECT result FROM results").fetchone()[0]
    data = json.loads(text)
    expected = asdict(result(0))  # what the store wrote before it built plain dicts itself
    assert list(data) == list(expected)
    assert data == json.loads(json.dumps(expected))


def test_a_warm_cache_is_read_in_bulk(tmp_path: Path) -> None:
    path = tmp_path / "promptops.sqlite"
    writer = Store(path)
    for n in range(1200):  # more keys than one query takes
        writer.put(f"k{n}", Completion(text=f"answer {n}", model="m", prompt_tokens=n))
    writer.close()
    reader = Store(path)
    assert reader.preload([f"k{n}" for n in range(1300)]) == 1200
    reader.db.close()  # every answer preloaded is served from memory from now on
    assert reader.get("k1199") == Completion(text="answer 1199", model="m", prompt_tokens=1199)
    assert reader.get("k1250") is None  # a key the bulk read did not find is not looked up again


TEXT = st.text(max_size=12)
NUMBER = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-5, 5).map(float)
CHECKS = st.builds(CheckResult, type=TEXT, passed=st.booleans(), score=NUMBER, reason=TEXT, metric=TEXT)
OVERRIDES = st.builds(
    Override,
    suite=TEXT,
    case=TEXT,
    verdict=st.sampled_from(["pass", "fail"]),
    reason=TEXT,
    author=TEXT,
    time=TEXT,
    output_hash=TEXT,
)
RESULTS = st.builds(
    TaskResult,
    suite=TEXT,
    case=TEXT,
    repeat=st.integers(0, 3),
    model=TEXT,
    variant=TEXT,
    key=TEXT,
    status=st.sampled_from(["pass", "fail", "error", "unchecked"]),
    output=st.none() | st.text(),
    error=st.none() | TEXT,
    checks=st.lists(CHECKS, max_size=3).map(tuple),
    score=NUMBER,
    latency_ms=NUMBER,
    prompt_tokens=st.integers(0, 10**6),
    cost=st.none() | NUMBER,
    cached=st.booleans(),
    override=st.none() | OVERRIDES,
    error_kind=st.none() | TEXT,
)


@given(RESULTS, st.builds(Completion, text=st.text(), cost=st.none() | NUMBER, latency_ms=NUMBER, model=TEXT))
@settings(max_examples=200, deadline=None)
def test_what_the_store_writes_is_the_json_of_the_dataclass(found: TaskResult, answer: Completion) -> None:
    """Results and cached answers are stored as `json.dumps(asdict(...))` writes them, whatever their values
    (unicode, floats of any size, nested checks and overrides), so that a store written by any version reads
    back equal."""
    from promptops.evaluate.store import task_result, to_json

    assert to_json(found) == json.dumps(asdict(found))
    assert to_json(answer) == json.dumps(asdict(answer))
    assert task_result(json.loads(to_json(found))) == found


def test_a_new_store_answers_what_it_was_given_and_an_old_one_what_it_holds(tmp_path: Path) -> None:
    """A new store (an empty cache) looks no answer up in the database, yet finds every answer written since, in
    this process; a store opened on a cache that holds answers finds them, written by an earlier process."""
    path = tmp_path / "promptops.sqlite"
    answer = Completion(text="yes", prompt_tokens=1, completion_tokens=1, model="m")
    first = Store(path, batch_size=1)
    assert first.get("k1") is None
    first.put("k1", answer)
    assert first.get("k1") == answer and first.get("k2") is None
    first.close()
    with sqlite3.connect(path) as db:  # another process's answer, written while no store of ours is open
        db.execute(
            "INSERT INTO responses (key, model, completion) VALUES (?, ?, ?)",
            ("k2", "m", json.dumps(asdict(replace(answer, text="no")))),
        )
    second = Store(path)
    assert second.get("k1") == answer and second.get("k2") == replace(answer, text="no")
    assert second.get("k3") is None
    second.close()
