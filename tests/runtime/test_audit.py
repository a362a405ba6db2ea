"""The audit log: a hash chain per instance that survives threads, processes, rotation and kill -9, and whose
verification finds every edit, deletion, reordering and cut, telling a crash apart from tampering."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import audit_records

from promptops.errors import InputError, UnavailableError
from promptops.model import AuditSettings
from promptops.runtime.audit import (
    DEFAULT_ROTATE_BYTES,
    GENESIS,
    AuditLog,
    canonical,
    default_instance,
    sanitise_instance,
)
from promptops.runtime.audit_verify import parse_time, read, verify

properties = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def call_record(n: int, env: str = "production", prompt: str = "support/refund_answer") -> dict[str, object]:
    """What the runtime logs for one call (already redacted)."""
    return {
        "environment": env,
        "release": "v1.2.0",
        "digest": "sha256:" + "ab" * 32,
        "prompt": prompt,
        "model": "careful",
        "answered_by": "primary",
        "latency_ms": 812.5,
        "tokens": {"input": 412, "output": 96},
        "cost": 0.00131,
        "error": None,
        "inputs": {"customer_question": f"Can I return order {n}? Déjà vu."},
        "output": f"answer {n}",
    }


def segments(directory: Path, instance: str | None = None) -> list[Path]:
    return sorted(p for p in directory.glob("*.jsonl") if instance is None or p.name.startswith(f"{instance}-"))


def lines_of(directory: Path, instance: str | None = None) -> list[bytes]:
    return [line for p in segments(directory, instance) for line in p.read_bytes().splitlines()]


def records_of(directory: Path, instance: str | None = None) -> list[dict[str, object]]:
    return [json.loads(line) for line in lines_of(directory, instance)]


def write_log(directory: Path, count: int, *, instance: str = "host-a", rotate_bytes: int = 1500) -> list[str]:
    with AuditLog(directory, instance=instance, rotate_bytes=rotate_bytes) as log:
        return [log.append(call_record(n)) for n in range(count)]


# -- the format ------------------------------------------------------------------------------------------------


def test_records_are_canonical_lines_chained_by_hash(tmp_path: Path) -> None:
    with AuditLog(tmp_path, instance="host-a") as log:
        ids = [log.append(call_record(1)), log.append({**call_record(2), "time": "2026-11-30T06:00:00Z"})]
    lines = lines_of(tmp_path)
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == ids
    assert [r["seq"] for r in records] == [1, 2]
    assert records[0]["prev"] == GENESIS and records[1]["prev"] == records[0]["hash"]
    for line, record in zip(lines, records, strict=True):
        assert line == canonical(record).encode()  # sorted keys, compact, ASCII
        body = {k: v for k, v in record.items() if k != "hash"}
        assert record["hash"] == hashlib.sha256(canonical(body).encode()).hexdigest()
        assert record["instance"] == "host-a"
    assert records[0]["inputs"] == call_record(1)["inputs"]  # the caller's fields, as given
    assert datetime.fromisoformat(records[0]["time"].replace("Z", "+00:00")).tzinfo is not None
    assert records[1]["time"] == "2026-11-30T06:00:00Z"  # a time the caller gives is kept
    assert [p.name for p in segments(tmp_path)] == ["host-a-000001.jsonl"]


@settings(properties, max_examples=80)
@given(audit_records)
def test_any_json_record_reads_back_as_written(record: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with AuditLog(tmp, instance="x") as log:
            log.append(record)
            log.append(record)
        assert verify(tmp).ok
        for got in read(tmp):
            assert {k: v for k, v in got.items() if k not in ("seq", "id", "instance", "prev", "hash")} == {
                "time": got["time"],
                **record,
            }


@pytest.mark.parametrize(
    "record",
    [{"seq": 4}, {"hash": "x", "prev": "y"}, {"cost": float("nan")}, {"when": datetime.now()}, {1: "a"}],
    ids=["seq", "hash-prev", "nan", "not-json", "int-key"],
)
def test_records_the_log_cannot_hold_are_refused_and_nothing_is_written(tmp_path: Path, record: dict) -> None:
    with AuditLog(tmp_path, instance="host-a") as log, pytest.raises((ValueError, TypeError)):
        log.append(record)
    assert lines_of(tmp_path) == []


def test_an_unwritable_directory_is_an_error_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "audit"
    blocker.write_text("a file, not a directory")
    with pytest.raises(UnavailableError) as caught:
        AuditLog(blocker, instance="host-a").append(call_record(1))
    assert str(blocker) in str(caught.value) and caught.value.exit_code == 3


def test_instance_ids_are_stable_per_host_and_safe_as_file_names(tmp_path: Path) -> None:
    here = default_instance()
    other_process = subprocess.run(
        [sys.executable, "-c", "from promptops.runtime.audit import default_instance; print(default_instance())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert here == other_process  # every process on the host writes the same chain
    assert AuditLog(tmp_path).instance == here
    assert sanitise_instance("../../etc/passwd") == "_.._etc_passwd"  # no separator left: it stays a file name
    assert sanitise_instance("web 1/a:b") == "web_1_a_b"
    assert sanitise_instance("") == "instance"
    AuditLog(tmp_path, instance="../escape").append(call_record(1))
    assert [p.parent for p in segments(tmp_path)] == [tmp_path]


def test_config_defaults_match_the_log_defaults() -> None:
    assert AuditSettings().rotate_bytes == DEFAULT_ROTATE_BYTES
    assert AuditSettings().fsync == AuditLog(".", instance="x").fsync


# -- chains: rotation, instances, threads, processes ------------------------------------------------------------


def test_rotation_continues_the_chain_across_segments(tmp_path: Path) -> None:
    write_log(tmp_path, 40, rotate_bytes=1500)
    files = segments(tmp_path)
    assert len(files) >= 5
    assert [p.name for p in files] == [f"host-a-{n:06d}.jsonl" for n in range(1, len(files) + 1)]
    for before, after in itertools.pairwise(files):
        last = json.loads(before.read_bytes().splitlines()[-1])
        first = json.loads(after.read_bytes().splitlines()[0])
        assert first["prev"] == last["hash"] and first["seq"] == last["seq"] + 1
        assert before.stat().st_size >= 1500  # a segment rotates only once it reached the size
    report = verify(tmp_path)
    assert report.ok and report.crashes == ()
    (chain,) = report.chains
    assert (chain.records, chain.head_seq, len(chain.segments)) == (40, 40, len(files))
    assert chain.head_hash == records_of(tmp_path)[-1]["hash"]


def test_two_instances_keep_two_chains_and_both_verify(tmp_path: Path) -> None:
    a = AuditLog(tmp_path, instance="host-a", rotate_bytes=2000)
    b = AuditLog(tmp_path, instance="host-b", rotate_bytes=2000)
    for n in range(15):
        a.append(call_record(n))
        if n % 3 == 0:
            b.append(call_record(n))
    a.close()
    b.close()
    assert [r["seq"] for r in records_of(tmp_path, "host-b")] == [1, 2, 3, 4, 5]
    report = verify(tmp_path)
    assert [(c.instance, c.records, c.ok) for c in report.chains] == [("host-a", 15, True), ("host-b", 5, True)]


def test_threads_sharing_logs_never_interleave_or_break_the_chain(tmp_path: Path) -> None:
    logs = [AuditLog(tmp_path, instance="host-a", rotate_bytes=20_000) for _ in range(2)]

    def work(k: int) -> None:
        for n in range(250):
            logs[k % 2].append({"writer": k, "n": n, "output": "y" * (n % 7 * 50)})

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = verify(tmp_path)
    assert report.ok and report.chains[0].records == 2000
    assert sorted((r["writer"], r["n"]) for r in records_of(tmp_path)) == [(k, n) for k in range(8) for n in range(250)]


WRITER = """
import sys
from promptops.runtime.audit import AuditLog
log = AuditLog(sys.argv[1], instance="host-a", rotate_bytes=200_000)
sys.stdin.readline()  # start together
for n in range(int(sys.argv[3])):
    log.append({"writer": int(sys.argv[2]), "n": n, "output": "z" * (n % 5 * 40)})
log.close()
"""


def test_eight_processes_appending_a_thousand_records_each_leave_one_valid_chain(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(k), "1000"], stdin=subprocess.PIPE)
        for k in range(8)
    ]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
    assert [proc.wait(timeout=120) for proc in procs] == [0] * 8
    report = verify(tmp_path)
    assert report.ok and report.crashes == ()
    assert report.chains[0].records == 8000 and len(report.chains) == 1
    assert len(segments(tmp_path)) > 1  # rotation happened while eight writers raced
    assert sorted((r["writer"], r["n"]) for r in records_of(tmp_path)) == [
        (k, n) for k in range(8) for n in range(1000)
    ]


LOOPER = """
import sys, time
from promptops.runtime.audit import AuditLog
log = AuditLog(sys.argv[1], instance="host-a", rotate_bytes=500_000)
end = time.monotonic() + float(sys.argv[2])
n = 0
while time.monotonic() < end:
    n += 1
    log.append({"n": n, "output": "w" * (n % 9 * 4_000)})
"""


def test_verify_while_writers_append_sees_neither_breaks_nor_crashes(tmp_path: Path) -> None:
    write_log(tmp_path, 1)
    procs = [subprocess.Popen([sys.executable, "-c", LOOPER, str(tmp_path), "1.5"]) for _ in range(3)]
    checks = 0
    try:
        while any(proc.poll() is None for proc in procs):
            report = verify(tmp_path)
            assert report.ok and report.crashes == (), (report.chains[0].broken, report.crashes)
            checks += 1
    finally:
        assert [proc.wait(timeout=30) for proc in procs] == [0, 0, 0]
    assert checks >= 3 and verify(tmp_path).ok


def test_a_forked_child_appends_safely_with_its_parents_log(tmp_path: Path) -> None:
    log = AuditLog(tmp_path, instance="host-a")
    log.append({"who": "parent", "n": -1})
    pid = os.fork()
    if pid == 0:  # the child: same log object, inherited descriptors
        try:
            for n in range(300):
                log.append({"who": "child", "n": n})
        finally:
            os._exit(0)
    for n in range(300):
        log.append({"who": "parent", "n": n})
    os.waitpid(pid, 0)
    log.close()
    report = verify(tmp_path)
    assert report.ok and report.chains[0].records == 601


# -- kill -9 and crashes -------------------------------------------------------------------------------------------

VICTIM = """
import sys
from promptops.runtime.audit import AuditLog
log = AuditLog(sys.argv[1], instance="host-a", rotate_bytes=1 << 30)
big = "x" * (4 * 1024 * 1024)
n = 0
while True:
    n += 1
    print(log.append({"n": n, "attempt": int(sys.argv[2]), "output": big}), flush=True)
"""


def _kill_mid_append(directory: Path, attempt: int) -> list[str]:
    """Start a writer of 4 MiB records, kill -9 it while a write is in progress; return the ids it acknowledged."""
    proc = subprocess.Popen([sys.executable, "-c", VICTIM, str(directory), str(attempt)], stdout=subprocess.PIPE)
    acked: list[str] = []
    reader = threading.Thread(target=lambda: acked.extend(line.decode().strip() for line in proc.stdout or ()))
    reader.start()
    segment = directory / "host-a-000001.jsonl"
    deadline = time.monotonic() + 20
    try:
        while len(acked) < 2 and time.monotonic() < deadline:  # recovered any earlier crash, appended twice
            time.sleep(0.005)
        while time.monotonic() < deadline:
            with open(segment, "rb") as handle:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":  # a write is under way
                    break
            time.sleep(0.0002)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        reader.join()
    return acked


def test_kill_9_mid_append_loses_at_most_that_record_and_verify_calls_it_a_crash(tmp_path: Path) -> None:
    cuts = 0
    for attempt in range(8):
        acked = _kill_mid_append(tmp_path, attempt)
        data = (tmp_path / "host-a-000001.jsonl").read_bytes()
        cut = not data.endswith(b"\n")
        cuts += cut
        report = verify(tmp_path)
        assert report.ok, report.chains[0].broken  # a crash is never reported as tampering
        stored = [r["id"] for r in read(tmp_path) if r.get("attempt") == attempt]
        assert set(acked) <= set(stored)  # nothing acknowledged is lost
        assert len(stored) - len(acked) <= 1  # at most the record being written when the kill came
        assert report.chains[0].records == len(list(read(tmp_path)))
        if cut:
            last = report.crashes[-1]
            assert last.kind == "crash" and last.line == data.count(b"\n") + 1
            assert "truncated last record" in last.message
        if cuts >= 2:
            break
    assert cuts >= 1, "no kill landed inside a write"
    AuditLog(tmp_path, instance="host-a").append({"n": "after"})  # the next writer recovers and continues
    report = verify(tmp_path)
    assert report.ok and all("later append continued" in p.message for p in report.crashes)
    records = list(read(tmp_path))
    assert records[-1]["n"] == "after" and records[-1]["seq"] == len(records)


def test_the_next_append_after_a_cut_line_continues_from_the_last_complete_record(tmp_path: Path) -> None:
    write_log(tmp_path, 4, rotate_bytes=1 << 20)
    segment = segments(tmp_path)[-1]
    data = segment.read_bytes()
    segment.write_bytes(data[:-40])  # what a writer killed mid-append leaves
    report = verify(tmp_path)
    assert report.ok and [p.kind for p in report.crashes] == ["crash"] and report.chains[0].records == 3
    assert report.crashes[0].where == f"{segment}:4"
    write_log(tmp_path, 2, rotate_bytes=1 << 20)
    lines = segment.read_bytes().split(b"\n")
    assert lines[3] == data[:-40].split(b"\n")[3]  # the cut line stays, ended by a newline
    records = [json.loads(line) for line in lines[:3] + lines[4:6]]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    assert records[3]["prev"] == records[2]["hash"]
    report = verify(tmp_path)
    assert report.ok and report.chains[0].records == 5
    assert [p.where for p in report.crashes] == [f"{segment}:4"]


def test_a_record_whose_newline_alone_was_cut_is_kept(tmp_path: Path) -> None:
    write_log(tmp_path, 3, rotate_bytes=1 << 20)
    segment = segments(tmp_path)[-1]
    segment.write_bytes(segment.read_bytes()[:-1])
    report = verify(tmp_path)
    assert report.ok and report.chains[0].records == 3 and "lacks its newline" in report.crashes[0].message
    write_log(tmp_path, 1, rotate_bytes=1 << 20)
    report = verify(tmp_path)
    assert report.ok and report.chains[0].records == 4 and report.crashes == ()


# -- verification: every kind of tampering -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 records in 4-5 segments of one chain; copied by each example before it tampers with it."""
    directory = tmp_path_factory.mktemp("audit")
    write_log(directory, 12, rotate_bytes=1500)
    assert len(segments(directory)) >= 4 and verify(directory).ok
    return directory


@contextlib.contextmanager
def tampered(base: Path) -> Iterator[Path]:
    """A copy of the base log to tamper with."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "audit"
        shutil.copytree(base, target)
        yield target


@settings(properties, max_examples=300)
@given(data=st.data())
def test_every_single_byte_edit_is_found_at_the_line_it_changed(base_log: Path, data: st.DataObject) -> None:
    with tampered(base_log) as directory:
        files = segments(directory)
        path = data.draw(st.sampled_from(files))
        content = bytearray(path.read_bytes())
        at = data.draw(st.integers(0, len(content) - 1))
        content[at] = data.draw(st.integers(0, 255).filter(lambda b: b != content[at]))
        path.write_bytes(bytes(content))
        report = verify(directory)
        broken = report.chains[0].broken
        assert broken is not None, "an edit went unnoticed"
        assert broken.kind in ("edited", "truncated")
        assert (broken.file, broken.line) == (str(path), content[:at].count(b"\n") + 1)


@properties
@given(data=st.data())
def test_a_deleted_record_is_found(base_log: Path, data: st.DataObject) -> None:
    with tampered(base_log) as directory:
        where = [(p, i) for p in segments(directory) for i in range(len(p.read_bytes().splitlines()))]
        path, index = data.draw(st.sampled_from(where[:-1]))  # a clean cut of the very last one leaves no trace
        lines = path.read_bytes().splitlines(keepends=True)
        del lines[index]
        path.write_bytes(b"".join(lines))
        broken = verify(directory).chains[0].broken
        assert broken is not None and broken.kind == "deleted"


@properties
@given(data=st.data())
def test_two_swapped_records_are_found(base_log: Path, data: st.DataObject) -> None:
    with tampered(base_log) as directory:
        files = {p: p.read_bytes().splitlines(keepends=True) for p in segments(directory)}
        where = [(p, i) for p, lines in files.items() for i in range(len(lines))]
        first, second = sorted(data.draw(st.lists(st.sampled_from(where), min_size=2, max_size=2, unique=True)))
        (p1, i1), (p2, i2) = first, second
        files[p1][i1], files[p2][i2] = files[p2][i2], files[p1][i1]
        for path, lines in files.items():
            path.write_bytes(b"".join(lines))
        broken = verify(directory).chains[0].broken
        assert broken is not None and broken.kind == "reordered"
        assert (broken.file, broken.line) == (str(p1), i1 + 1)


@properties
@given(data=st.data())
def test_a_truncated_segment_before_the_last_is_found(base_log: Path, data: st.DataObject) -> None:
    with tampered(base_log) as directory:
        path = data.draw(st.sampled_from(segments(directory)[:-1]))
        content = path.read_bytes()
        path.write_bytes(content[: data.draw(st.integers(0, len(content) - 1))])
        broken = verify(directory).chains[0].broken
        assert broken is not None and broken.kind in ("truncated", "deleted")


@properties
@given(data=st.data())
def test_cutting_the_last_segment_anywhere_is_never_called_tampering(base_log: Path, data: st.DataObject) -> None:
    with tampered(base_log) as directory:
        path = segments(directory)[-1]
        content = path.read_bytes()
        size = data.draw(st.integers(0, len(content) - 1))
        path.write_bytes(content[:size])
        report = verify(directory)
        assert report.ok
        mid_line = size > 0 and content[size - 1 : size] != b"\n"
        newline_only = content[size : size + 1] == b"\n" and mid_line  # a whole record, only its newline cut
        kept = 12 - content.count(b"\n") + content[:size].count(b"\n") + newline_only
        assert len(report.crashes) == mid_line and report.chains[0].records == kept
        AuditLog(directory, instance="host-a", rotate_bytes=1500).append({"after": True})
        report = verify(directory)
        assert report.ok and report.chains[0].records == kept + 1


@pytest.mark.parametrize("gone", [0, 1], ids=["first", "middle"])
def test_a_missing_segment_is_named(base_log: Path, gone: int) -> None:
    with tampered(base_log) as directory:
        files = segments(directory)
        files[gone].unlink()
        broken = verify(directory).chains[0].broken
        assert broken is not None and broken.kind == "missing-segment"
        assert files[gone].name in broken.message and broken.file == str(files[gone + 1])


def test_one_segment_file_verifies_on_its_own(base_log: Path) -> None:
    middle = segments(base_log)[2]
    report = verify(middle)
    assert report.ok and report.chains[0].records == len(middle.read_bytes().splitlines())
    with tampered(base_log) as directory:
        path = segments(directory)[2]
        path.write_bytes(path.read_bytes().replace(b'"answer', b'"Answer', 1))
        assert verify(path).chains[0].broken is not None


def test_verify_of_a_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no audit log"):
        verify(tmp_path / "nowhere")


# -- reading -----------------------------------------------------------------------------------------------------


def test_read_filters_and_merges_chains_by_time(tmp_path: Path) -> None:
    a = AuditLog(tmp_path, instance="host-a")
    b = AuditLog(tmp_path, instance="host-b")
    a.append({**call_record(1, env="staging"), "time": "2026-11-30T06:00:00.000Z"})
    b.append({**call_record(2, prompt="triage/classify"), "time": "2026-11-30T06:00:01.000Z"})
    a.append({**call_record(3), "time": "2026-11-30T06:00:02.000Z"})
    b.append({**call_record(4), "time": "2026-11-30T08:00:03.000+02:00"})  # 06:00:03 UTC
    for log in (a, b):
        log.close()
    with open(segments(tmp_path, "host-a")[0], "ab") as handle:
        handle.write(b'{"environment":"production","inp')  # a cut line is skipped
    assert [r["output"] for r in read(tmp_path)] == ["answer 1", "answer 2", "answer 3", "answer 4"]
    assert [r["output"] for r in read(tmp_path, env="production")] == ["answer 2", "answer 3", "answer 4"]
    assert [r["output"] for r in read(tmp_path, prompt="triage/classify")] == ["answer 2"]
    since = parse_time("2026-11-30T06:00:02Z")
    assert [r["output"] for r in read(tmp_path, since=since)] == ["answer 3", "answer 4"]
    assert parse_time("2026-11-30") == datetime(2026, 11, 30, tzinfo=timezone.utc)
    with pytest.raises(InputError, match="not an ISO 8601"):
        parse_time("yesterday")


# -- durability policy ---------------------------------------------------------------------------------------------


def test_batch_fsync_bounds_what_waits_by_count_and_by_time(tmp_path: Path) -> None:
    with AuditLog(tmp_path, instance="a", fsync="batch", batch_records=5, batch_ms=50) as log:
        for n in range(3):
            log.append({"n": n})
        assert log.pending() == 3
        deadline = time.monotonic() + 5
        while log.pending() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert log.pending() == 0  # the timer synced them
    with AuditLog(tmp_path, instance="b", fsync="batch", batch_records=5, batch_ms=60_000) as log:
        for n in range(4):
            log.append({"n": n})
        assert log.pending() == 4
        log.append({"n": 4})
        assert log.pending() == 0  # the fifth record synced the batch
    with AuditLog(tmp_path, instance="c", fsync="always") as log:
        log.append({"n": 0})
        assert log.pending() == 0
    with pytest.raises(ValueError, match="fsync"):
        AuditLog(tmp_path, fsync="never")  # type: ignore[arg-type]


# -- what applications import --------------------------------------------------------------------------------------


def test_the_audit_modules_import_only_the_standard_library() -> None:
    probe = (
        "import sys, promptops.runtime.audit, promptops.runtime.audit_verify\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('typer', 'rich', 'click', 'git', 'litellm', 'jsonschema', 'jinja2', 'yaml')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
