"""Checking and reading the audit log: every chain under a directory, or one segment file.

`verify` walks each chain in order and reports its FIRST broken record with why: `edited` (the content no longer
matches its hash, or a line that is not a record where a record was), `deleted` (a gap in `seq`, or a record that
links to one that is not there), `reordered` (a record out of place), `truncated` (a segment cut short before the
last one), `missing-segment`. A line cut short by a writer that was killed mid-append is a `crash`, reported
apart from tampering: at the end of a chain (not yet followed by anything), or in the middle when the next record
links straight past it (a later append recovered). The chain alone cannot tell a clean cut of whole records at
its very end from a log that simply stopped there: keep the head (last seq and hash) somewhere else to detect it.

Standard library only, like the writer.
"""

from __future__ import annotations

import contextlib
import fcntl
import heapq
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from ..errors import InputError
from .audit import GENESIS, SEGMENT, canonical, chain_point, record_hash, segment_name

Kind = Literal["edited", "deleted", "reordered", "truncated", "missing-segment", "crash"]
Segment = tuple[int | None, Path, int]  # (number, path, size to read)


@dataclass(frozen=True)
class Problem:
    """One finding in a chain: where (file, 1-based line), what kind, and why."""

    kind: Kind
    file: str
    line: int
    message: str
    seq: int | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class ChainReport:
    """One instance's chain: how much of it holds, its head, its first break and any crash traces."""

    instance: str
    segments: tuple[str, ...]
    records: int
    head_seq: int
    head_hash: str
    broken: Problem | None = None
    crashes: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return self.broken is None


@dataclass(frozen=True)
class Report:
    path: str
    chains: tuple[ChainReport, ...]

    @property
    def ok(self) -> bool:
        """Every chain holds (crash traces allowed)."""
        return all(c.ok for c in self.chains)

    @property
    def crashes(self) -> tuple[Problem, ...]:
        return tuple(p for c in self.chains for p in c.crashes)


def verify(path: str | os.PathLike[str]) -> Report:
    """Check every chain under a directory, or the one segment file `path` names."""
    try:
        chains, single = discover(Path(path))
        reports = [_ChainCheck(instance, segments, single).run() for instance, segments in sorted(chains.items())]
    except OSError as exc:
        raise _unreadable(exc, path) from None
    return Report(str(path), tuple(reports))


def read(
    path: str | os.PathLike[str],
    *,
    env: str | None = None,
    prompt: str | None = None,
    since: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """The records under `path`, oldest first (chains merged by `time`), filtered on `environment`, `prompt`
    and `time` >= since. Lines that are not complete records (a crash's cut line) are skipped; nothing is
    verified here."""
    try:
        chains, _ = discover(Path(path))
    except OSError as exc:
        raise _unreadable(exc, path) from None
    streams = [_records(segments) for _, segments in sorted(chains.items())]
    floor = since.timestamp() if since is not None else None
    for record in heapq.merge(*streams, key=_when):
        if env is not None and record.get("environment") != env:
            continue
        if prompt is not None and record.get("prompt") != prompt:
            continue
        if floor is not None and _when(record) < floor:
            continue
        yield record


def parse_time(text: str) -> datetime:
    """An ISO 8601 date or time (`2026-11-30`, `2026-11-30T06:00`, `...Z`, `...+02:00`); UTC when it has no zone."""
    parsed = _time_or_none(text)
    if parsed is None:
        raise InputError(
            f"{text!r} is not an ISO 8601 date or time",
            hint="write it as 2026-11-30, 2026-11-30T06:00 or 2026-11-30T06:00:00Z (UTC unless a zone is given)",
        )
    return parsed


def discover(path: Path) -> tuple[dict[str, list[Segment]], bool]:
    """{instance: segments in order} under a directory, or for one file; and whether `path` is one file."""
    if path.is_file():
        match = SEGMENT.match(path.name)
        instance = match["instance"] if match else path.stem
        number = int(match["number"]) if match else None
        return {instance: [(number, path, path.stat().st_size)]}, True
    if not path.is_dir():
        raise InputError(
            f"no audit log at {path}",
            hint="pass the audit directory or a segment file (audit.dir in promptops.yaml, default "
            ".promptops/audit); the log is created by the first audited call",
        )
    found: dict[str, list[int]] = {}
    for name in os.listdir(path):
        match = SEGMENT.match(name)
        if match is not None:
            found.setdefault(match["instance"], []).append(int(match["number"]))
    return {i: _sized(path, i, sorted(numbers)) for i, numbers in found.items()}, False


def _sized(directory: Path, instance: str, numbers: list[int]) -> list[Segment]:
    """The segments with their sizes taken at one moment under the chain's lock (shared, briefly), so a
    record being appended while we read is not mistaken for one cut short by a crash."""
    paths = [directory / segment_name(instance, n) for n in numbers]
    fd = None
    with contextlib.suppress(OSError):
        fd = os.open(directory / f".{instance}.lock", os.O_RDONLY)
    try:
        if fd is not None:
            _lock_shared(fd)
        return [(n, p, p.stat().st_size) for n, p in zip(numbers, paths, strict=True)]
    finally:
        if fd is not None:
            os.close(fd)  # closing releases the lock


def _lock_shared(fd: int, timeout: float = 1.0) -> None:
    """A writer holds the lock for microseconds; one that is stopped must not hang verify: give up after 1 s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.005)
        except OSError:
            return


def _records(segments: list[Segment]) -> Iterator[dict[str, Any]]:
    for _, path, _ in segments:
        try:
            handle = open(path, "rb")  # noqa: SIM115 (closed below; the error must name the file)
        except OSError as exc:
            raise _unreadable(exc, path) from None
        with handle:
            for raw in handle:
                record = _parse(raw[:-1]) if raw.endswith(b"\n") else None
                if record is not None:
                    yield record


def _unreadable(exc: OSError, path: str | os.PathLike[str]) -> InputError:
    return InputError(
        f"cannot read the audit log: {exc.strerror or exc}",
        file=str(exc.filename or path),
        hint="check that the path exists and that you may read it",
    )


def _time_or_none(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def _when(record: dict[str, Any]) -> float:
    parsed = _time_or_none(record.get("time"))
    return parsed.timestamp() if parsed is not None else float("-inf")


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _cut_short(raw: bytes) -> bool:
    """Could this line be the beginning of a record whose write was cut? Records are ASCII, start with `{"`,
    and a proper beginning of one holds no complete JSON value."""
    if not raw.isascii() or not (raw.startswith(b'{"') or raw == b"{"):
        return False
    try:
        json.JSONDecoder().raw_decode(raw.decode("ascii"))
    except ValueError:
        return True
    return False


def _integrity(record: dict[str, Any], raw: bytes) -> str | None:
    """Why a parsed line is not an intact record, or None."""
    seq = record.get("seq")
    if type(seq) is not int or seq < 1 or not all(isinstance(record.get(k), str) for k in ("prev", "hash", "id")):
        return "the line lacks the chain fields seq, id, prev and hash"
    if record_hash(record) != record["hash"]:
        return "its content does not match its hash: the record was changed after it was written"
    try:
        same = canonical(record).encode("ascii") == raw
    except ValueError:
        same = False
    if not same:
        return "it is not in the canonical form it was written in: the line was changed"
    return None


class _ChainCheck:
    """Walks one chain's segments in order and stops at its first broken record."""

    def __init__(self, instance: str, segments: list[Segment], single: bool) -> None:
        self.instance = instance
        self.segments = segments
        first = segments[0][0]
        self.expected: int | None = 1 if not single or first == 1 else None  # None: take the first record's
        self.prev = GENESIS
        self.records = 0
        self.head: tuple[int, str] = (0, GENESIS)
        self.crashes: list[Problem] = []
        self.pending: list[Problem] = []  # lines cut short, waiting for the next record to show they were crashes
        self.broken: Problem | None = None
        self.number: int | None = None if single else 0  # the segment number before the next one

    def run(self) -> ChainReport:
        for index, (number, path, size) in enumerate(self.segments):
            if not self._enter(number, path):
                break
            with open(path, "rb") as handle:
                lines = handle.read(size).split(b"\n")
            if not all(self._line(raw, str(path), n, index) for n, raw in enumerate(lines[:-1], 1)):
                break
            if not self._end(lines[-1], str(path), len(lines), index):
                break
        return ChainReport(
            self.instance,
            tuple(str(p) for _, p, _ in self.segments),
            self.records,
            self.head[0],
            self.head[1],
            self.broken,
            tuple(self.crashes),
        )

    def _enter(self, number: int | None, path: Path) -> bool:
        if self.number is None or number is None:
            return True
        wanted = self.number + 1
        self.number = number
        if number == wanted:
            return True
        missing = segment_name(self.instance, wanted)
        if number > wanted + 1:
            missing = f"{missing} to {segment_name(self.instance, number - 1)}"
        self.broken = Problem("missing-segment", str(path), 1, f"segment {missing} is missing before this one")
        return False

    def _line(self, raw: bytes, file: str, line: int, index: int) -> bool:
        record = _parse(raw)
        if record is None:
            if not _cut_short(raw):
                where = self.pending[0] if self.pending else Problem("edited", file, line, "")
                self.broken = Problem("edited", where.file, where.line, "the line is not a record: it was changed")
                return False
            self.pending.append(Problem("crash", file, line, _RECOVERED))
            return True
        return self._record(record, raw, file, line, index)

    def _record(self, record: dict[str, Any], raw: bytes, file: str, line: int, index: int) -> bool:
        seq = record.get("seq") if type(record.get("seq")) is int else None
        reason = _integrity(record, raw)
        if reason is not None:
            self.broken = Problem("edited", file, line, reason, seq)
            return False
        assert seq is not None
        if self.expected is not None and (seq != self.expected or record["prev"] != self.prev):
            if self.pending:
                first = self.pending[0]
                self.broken = Problem("edited", first.file, first.line, _NOT_A_CRASH)
            else:
                self.broken = self._unlinked(seq, file, line, index)
            return False
        self.expected, self.prev = seq + 1, record["hash"]
        self.records += 1
        self.head = (seq, record["hash"])
        self.crashes.extend(self.pending)
        self.pending = []
        return True

    def _unlinked(self, seq: int, file: str, line: int, index: int) -> Problem:
        wanted = self.expected
        assert wanted is not None
        if seq < wanted:
            why = f"record seq {seq} comes after seq {wanted - 1}: records were moved or copied"
            return Problem("reordered", file, line, why, seq)
        if seq > wanted and self._appears_later(wanted, index, line):
            why = f"record seq {seq} stands where seq {wanted} belongs: records were swapped or moved"
            return Problem("reordered", file, line, why, seq)
        if seq > wanted:
            gap = f"seq {wanted}" if seq == wanted + 1 else f"seq {wanted} to {seq - 1}"
            cut = " (the end of the segment before this one was cut off)" if line == 1 and index > 0 else ""
            return Problem("deleted", file, line, f"records are missing before this one: {gap}{cut}", seq)
        why = f"it does not link to the record before it (seq {wanted - 1}): a record was deleted or replaced"
        return Problem("deleted", file, line, why, seq)

    def _appears_later(self, seq: int, index: int, line: int) -> bool:
        for i, (_, path, size) in enumerate(self.segments[index:], index):
            with open(path, "rb") as handle:
                lines = handle.read(size).split(b"\n")
            for raw in lines[line:] if i == index else lines:
                point = chain_point(raw)
                if point is not None and point[0] == seq:
                    return True
        return False

    def _end(self, tail: bytes, file: str, line: int, index: int) -> bool:
        """The bytes after a segment's last newline: nothing, or a record cut short by a crash."""
        last = index == len(self.segments) - 1
        if tail and not last:
            self.broken = Problem("truncated", file, line, "the segment ends in the middle of a line: it was cut off")
            return False
        record = _parse(tail) if tail else None
        if record is not None:
            if not self._record(record, tail, file, line, index):
                return False
            self.crashes.append(Problem("crash", file, line, _NO_NEWLINE, record["seq"]))
        elif tail and not _cut_short(tail):
            self.broken = Problem("edited", file, line, "the last line is not a record: it was changed")
            return False
        elif tail:
            self.crashes.extend(self.pending)
            self.pending = []
            self.crashes.append(Problem("crash", file, line, _TRUNCATED.format(size=len(tail))))
        if self.pending:
            first = self.pending[0]
            self.broken = Problem("edited", first.file, first.line, _NOT_A_CRASH)
            return False
        return True


_TRUNCATED = (
    "truncated last record ({size} bytes): a writer stopped mid-append (killed or crashed); the records before "
    "it are intact and the next append continues the chain after it. A crash, not tampering"
)
_RECOVERED = "a record cut short by a crash; a later append continued the chain past it. A crash, not tampering"
_NO_NEWLINE = "the last record lacks its newline: a writer stopped just before it; the record is intact"
_NOT_A_CRASH = "the line is not a record, and the chain does not continue past it: a record was changed"
