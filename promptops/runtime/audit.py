"""The tamper-evident audit log: append-only JSON Lines segments, one hash chain per instance.

Layout: a directory of segments named `<instance>-<NNNNNN>.jsonl` (numbered from 000001) and one hidden lock file
per chain, `.<instance>.lock`. Every line is one record in canonical JSON (sorted keys, compact separators, ASCII,
no NaN) carrying `seq` (1, 2, ... across segments), `id`, `instance`, `prev` (the `hash` of the record before it
in the chain, GENESIS for the first) and `hash` (sha256 of the canonical record without `hash`).

Writers on one host serialise on an exclusive `flock` of the chain's lock file, re-read the tail under it and
append the whole line with one `write` on an O_APPEND descriptor. Instances on other hosts write chains of their
own (their instance id is in the file names), so no lock ever has to work across hosts; give every host its own
instance id. A writer killed mid-append can leave at most a truncated last line: the next append ends it with a
newline and continues the chain from the last complete record, and `verify` reports it as a crash.

Standard library only: applications import this module.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import re
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from .. import digest
from ..errors import UnavailableError

GENESIS = "0" * 64
CHAIN_FIELDS = frozenset({"seq", "id", "instance", "prev", "hash"})
SEGMENT = re.compile(r"^(?P<instance>[A-Za-z0-9._-]+)-(?P<number>\d{6,})\.jsonl$")
FsyncPolicy = Literal["always", "batch"]
FSYNC_POLICIES = ("always", "batch")
DEFAULT_ROTATE_BYTES = 64 * 1024 * 1024
DEFAULT_BATCH_RECORDS = 100
DEFAULT_BATCH_MS = 200.0
_MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")


_ENCODER = digest.encoder(ascii=True)


def canonical(value: Any) -> str:
    """The one JSON text of a value (promptops.digest's canonical form, ASCII only): sorted keys, no spaces."""
    return digest.canonical_json(value, ascii=True)


def record_hash(record: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical record without its `hash` field."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return digest.hex_of(canonical(body))


def utc_now() -> str:
    """Now in UTC, ISO 8601 with milliseconds and a Z: the `time` of a record that has none."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sanitise_instance(text: str) -> str:
    """An instance id usable in a file name: letters, digits, `.`, `_`, `-`; at most 64 characters."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).lstrip(".")[:64]
    return cleaned or "instance"


def default_instance() -> str:
    """The host name plus a short id that is stable on this host (from its machine id, when there is one).

    Every process on the host gets the same id, so they share one chain; two hosts that happen to have the
    same name but different machine ids get different chains."""
    host = socket.gethostname() or "host"
    machine = ""
    for candidate in _MACHINE_ID_FILES:
        with contextlib.suppress(OSError):
            machine = Path(candidate).read_text(encoding="ascii", errors="replace").strip()
            break
    short = hashlib.sha256(f"{host}\0{machine}".encode()).hexdigest()[:8]
    return sanitise_instance(f"{host.split('.')[0]}-{short}")


def _encoded(fields: Mapping[str, Any]) -> dict[str, str]:
    """{key: `"key":value` in canonical JSON}: the members of a canonical object, to be joined in key order."""
    if not all(isinstance(k, str) for k in fields):
        raise ValueError("the keys of an audit record must be strings")
    encode = _ENCODER.encode
    return {k: f"{encode(k)}:{encode(v)}" for k, v in fields.items()}


def _joined(parts: Mapping[str, str]) -> str:
    """The canonical JSON object of encoded members: the same text `canonical` gives for the whole record."""
    return "{" + ",".join(parts[k] for k in sorted(parts)) + "}"


def segment_name(instance: str, number: int) -> str:
    return f"{instance}-{number:06d}.jsonl"


def chain_point(line: bytes) -> tuple[int, str] | None:
    """(seq, hash) of a line that parses as a record, else None (a line cut short by a crash, or garbage)."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if isinstance(data, dict) and type(data.get("seq")) is int and isinstance(data.get("hash"), str):
        return data["seq"], data["hash"]
    return None


def lines_backwards(fd: int, size: int, chunk: int = 16384) -> Iterator[bytes]:
    """The lines of the first `size` bytes of a file, last first, without their newlines.

    The first line yielded is what follows the last newline: empty when the file ends with one."""
    pieces: list[bytes] = []
    end = size
    while end > 0:
        start = max(0, end - chunk)
        block = os.pread(fd, end - start, start)
        end = start
        cut = block.rfind(b"\n")
        while cut >= 0:
            pieces.append(block[cut + 1 :])
            yield b"".join(reversed(pieces))
            pieces = []
            block = block[:cut]
            cut = block.rfind(b"\n")
        pieces.append(block)
    yield b"".join(reversed(pieces))


class AuditLog:
    """Appends records to this host's hash chain in `directory`. Thread-safe; safe across processes on a host.

    fsync policy: "always" fsyncs every record before `append` returns, so a power loss or OS crash loses
    nothing that was appended. "batch" fsyncs once `batch_records` records are waiting, or `batch_ms` after the
    first unsynced record (a background timer), whichever comes first: an OS crash or power loss can lose at
    most that many records or that much time. A killed process loses nothing in either mode once `append`
    has returned: the record is in the operating system's cache. Segments rotate once they reach
    `rotate_bytes`.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        instance: str | None = None,
        rotate_bytes: int = DEFAULT_ROTATE_BYTES,
        fsync: FsyncPolicy = "batch",
        batch_records: int = DEFAULT_BATCH_RECORDS,
        batch_ms: float = DEFAULT_BATCH_MS,
    ) -> None:
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {', '.join(FSYNC_POLICIES)}, not {fsync!r}")
        if rotate_bytes < 1 or batch_records < 1 or batch_ms <= 0:
            raise ValueError("rotate_bytes, batch_records and batch_ms must be positive")
        self.directory = Path(directory)
        self.instance = sanitise_instance(instance) if instance is not None else default_instance()
        self.rotate_bytes = rotate_bytes
        self.fsync = fsync
        self.batch_records = batch_records
        self.batch_ms = batch_ms
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._lock_fd: int | None = None
        self._seg_fd: int | None = None
        self._seg_no = 0
        self._tail: tuple[int, int, int, str] | None = None  # (segment, size, seq, hash) after our last write
        self._unsynced = 0
        self._timer: threading.Timer | None = None
        self._at_exit = self.flush  # registered while the log has files open, so a batch is synced at exit

    # -- public ------------------------------------------------------------------------------------------------

    def append(self, record: Mapping[str, Any]) -> str:
        """Append one (already redacted) record to the chain and return its id. Adds `time` when absent."""
        reserved = sorted(CHAIN_FIELDS & set(record))
        if reserved:
            raise ValueError(f"the audit log sets {', '.join(reserved)} itself; leave them out of the record")
        record_id = uuid.uuid4().hex
        fields = {"time": utc_now(), **record, "id": record_id, "instance": self.instance}
        parts = _encoded(fields)  # outside the lock: the lock only covers seq, prev, hash and the write
        if os.getpid() != self._pid:
            self._after_fork()
        with self._lock:
            lock_fd = self._open_lock()
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
            except OSError as exc:  # e.g. ENOLCK on a file system without locks
                raise self._unwritable(exc, self.directory / f".{self.instance}.lock") from None
            try:
                self._write(parts)
            except OSError as exc:
                self._tail = None
                raise self._unwritable(exc) from None
            finally:
                fcntl.flock(lock_fd, fcntl.LOCK_UN)
            self._synced_by_policy()
        return record_id

    def pending(self) -> int:
        """Records appended by this log that are not yet fsynced (always 0 with the "always" policy)."""
        return self._unsynced

    def flush(self) -> None:
        """fsync what this log appended."""
        with self._lock:
            if self._unsynced and os.getpid() == self._pid:
                self._sync()

    def close(self) -> None:
        """fsync and release the files. The log reopens them if it is appended to again."""
        self.flush()
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            for fd in (self._seg_fd, self._lock_fd):
                if fd is not None:
                    os.close(fd)
            self._seg_fd = self._lock_fd = None
            self._tail = None
        atexit.unregister(self._at_exit)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- under the lock ----------------------------------------------------------------------------------------

    def _write(self, parts: dict[str, str]) -> None:
        seg_fd, size, seq, prev, cut_short = self._tail_state()
        if size >= self.rotate_bytes and not cut_short:
            seg_fd = self._rotate()
            size = 0
        parts.update(_encoded({"seq": seq + 1, "prev": prev}))
        chained = digest.hex_of(_joined(parts))
        parts.update(_encoded({"hash": chained}))
        data = (b"\n" if cut_short else b"") + _joined(parts).encode("ascii") + b"\n"
        self._tail = None
        view = memoryview(data)
        while view:  # a short write (a full disk) goes on where it stopped, still under the lock
            view = view[os.write(seg_fd, view) :]
        self._tail = (self._seg_no, size + len(data), seq + 1, chained)

    def _tail_state(self) -> tuple[int, int, int, str, bool]:
        """(segment fd, its size, seq and hash of the chain's last record, whether the file ends mid-line)."""
        if self._seg_fd is None:
            self._open_segment(self._last_segment_number())
        while os.path.exists(self._path(self._seg_no + 1)):  # another writer rotated
            self._open_segment(self._seg_no + 1)
        assert self._seg_fd is not None
        size = os.fstat(self._seg_fd).st_size
        if self._tail is not None and self._tail[:2] == (self._seg_no, size):
            return self._seg_fd, size, self._tail[2], self._tail[3], False
        lines = lines_backwards(self._seg_fd, size)
        last = next(lines)
        point = chain_point(last) if last else None  # a record whose newline alone was cut still counts
        for line in lines:
            if point is not None:
                break
            point = chain_point(line)
        seq, digest = point if point is not None else self._earlier_tail()
        return self._seg_fd, size, seq, digest, bool(last)

    def _path(self, number: int) -> str:
        return os.path.join(self.directory, segment_name(self.instance, number))

    def _earlier_tail(self) -> tuple[int, str]:
        """The last record of the segments before the current one, or the chain's genesis."""
        for number in range(self._seg_no - 1, 0, -1):
            path = self.directory / segment_name(self.instance, number)
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                for line in lines_backwards(fd, os.fstat(fd).st_size):
                    point = chain_point(line)
                    if point is not None:
                        return point
            finally:
                os.close(fd)
        return 0, GENESIS

    def _last_segment_number(self) -> int:
        numbers = [
            int(m["number"])
            for m in map(SEGMENT.match, os.listdir(self.directory))
            if m is not None and m["instance"] == self.instance
        ]
        return max(numbers, default=1)

    def _rotate(self) -> int:
        if self._unsynced:
            self._sync()
        self._open_segment(self._seg_no + 1)
        assert self._seg_fd is not None
        return self._seg_fd

    def _open_segment(self, number: int) -> None:
        path = self.directory / segment_name(self.instance, number)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        try:
            try:
                fd = os.open(path, flags | os.O_EXCL, 0o640)
                created = True
            except FileExistsError:
                fd = os.open(path, flags, 0o640)
                created = False
            if created:
                self._sync_directory()
        except OSError as exc:
            raise self._unwritable(exc, path) from None
        if self._seg_fd is not None:
            os.close(self._seg_fd)
        self._seg_fd, self._seg_no = fd, number

    def _open_lock(self) -> int:
        if self._lock_fd is None:
            path = self.directory / f".{self.instance}.lock"
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._lock_fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o640)
            except OSError as exc:
                raise self._unwritable(exc, path) from None
            atexit.unregister(self._at_exit)
            atexit.register(self._at_exit)
        return self._lock_fd

    # -- durability --------------------------------------------------------------------------------------------

    def _synced_by_policy(self) -> None:
        self._unsynced += 1
        if self.fsync == "always" or self._unsynced >= self.batch_records:
            self._sync()
        elif self._timer is None:
            self._timer = threading.Timer(self.batch_ms / 1000, self._timed_sync)
            self._timer.daemon = True
            self._timer.start()

    def _timed_sync(self) -> None:
        with self._lock:
            self._timer = None
            if self._unsynced and os.getpid() == self._pid:
                with contextlib.suppress(UnavailableError):  # the next append or flush tries again
                    self._sync()

    def _sync(self) -> None:
        if self._seg_fd is not None:
            try:
                os.fsync(self._seg_fd)
            except OSError as exc:
                raise self._unwritable(exc) from None
        self._unsynced = 0

    def _sync_directory(self) -> None:
        """A new segment's directory entry must survive a crash too."""
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _after_fork(self) -> None:
        """A forked child shares the parent's open files (and their flock): it must open its own."""
        self._lock = threading.Lock()
        self._pid = os.getpid()
        for fd in (self._seg_fd, self._lock_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._seg_fd = self._lock_fd = None
        self._tail = None
        self._unsynced = 0
        self._timer = None

    def _unwritable(self, exc: OSError, path: Path | None = None) -> UnavailableError:
        where = path or self.directory / segment_name(self.instance, self._seg_no)
        return UnavailableError(
            f"cannot write the audit log {where}: {exc.strerror or exc}",
            hint="check that the audit directory (audit.dir in promptops.yaml) is writable and has free space",
        )
