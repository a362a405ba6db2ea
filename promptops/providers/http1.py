"""The native route's HTTP client: JSON POSTs over keep-alive HTTP/1.1 connections, one pool per event loop.

An eval makes thousands of identical-looking calls with tens in flight; once the server answers in milliseconds,
the client's CPU per call sets the wall time. aiohttp costs about 0.3 s of CPU to import and about 0.2 ms per call
here; this client does only what the native route needs, on asyncio's own transports, with httptools (llhttp,
Node.js's HTTP parser) reading the answers: framing by Content-Length, chunked or connection close, and keep-alive
as the server allows. benchmarks/eval_throughput.py measures both.

What it does, as aiohttp did for these calls: one request at a time per connection, idle connections reused
(last used first) and dropped as soon as the server closes them, no limit on connections (the engine bounds the
calls in flight), a total timeout per call (connecting, sending and reading), TLS with the context it is given,
no proxy, no redirect, no cookie. A gzip or deflate answer is decoded. A failed, timed-out or cancelled call
closes its connection: its state is unknown. So does a second answer to one request, or an upgrade. An idle
connection is reused only when nothing from the server waits on it (a close that came right behind the last
answer). A close-delimited answer ends with a close, not a reset. Closing the pool closes the connections of
calls in flight too. Every failure is an `OSError` (`HTTPError` or one of asyncio's) or a `TimeoutError`; no
message ever contains a header's value, nor a URL that cannot be read. A URL's path is percent-encoded where it
needs to be, and its host written in DNS form (IDNA).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import select
import ssl
import sys
import urllib.parse
import zlib
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httptools

from .. import __version__

Answer = tuple[int, bytes, dict[str, str]]  # status, body, headers (names in lower case)
USER_AGENT = f"promptops/{__version__}"
MAX_ANSWER = 64 * 1024 * 1024  # bytes of an answer, as sent and decoded: more is an error, not a full memory
_DECODE = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_BAD_VALUE = frozenset("\r\n\0")
_SAFE = "/%:@!$&'()*+,;=-._~"  # kept as written in a path (escapes included); anything else is percent-encoded


class HTTPError(ConnectionError):
    """The server's bytes are not an HTTP answer, or the connection ended before one was whole."""


@dataclass(frozen=True)
class Target:
    """Where a URL's requests go, and the start of each request's head."""

    host: str
    port: int
    tls: bool
    head: bytes  # "POST <path> HTTP/1.1\r\nHost: ...\r\n"


@functools.lru_cache(maxsize=256)
def target(url: str) -> Target:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError:  # nothing of the URL is shown: it could hold anything
        raise HTTPError("the URL cannot be read (a bracketed host that is not an IP address, or a bad port)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        raise HTTPError(f"not an http(s) URL with a host: {parts.scheme}://{host or ''}")
    default = 443 if scheme == "https" else 80
    port = default if port is None else port
    try:
        host = host.encode("idna").decode("ascii")  # what DNS and the Host header take
    except UnicodeError:
        raise HTTPError("the URL's host name cannot be written in DNS form (IDNA)") from None
    shown = f"[{host}]" if ":" in host else host
    if port != default:
        shown = f"{shown}:{port}"
    path = urllib.parse.quote(parts.path or "/", safe=_SAFE)
    if parts.query:
        path += "?" + urllib.parse.quote(parts.query, safe=_SAFE + "?")
    head = f"POST {path} HTTP/1.1\r\nHost: {shown}\r\nUser-Agent: {USER_AGENT}\r\n"
    return Target(host, port, scheme == "https", head.encode("ascii"))


def _ascii(text: str, what: str) -> bytes:
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        raise HTTPError(f"{what} has characters outside ASCII; percent-encode them") from None


@functools.lru_cache(maxsize=64)
def header_block(headers: tuple[tuple[str, str], ...]) -> bytes:
    """The caller's headers as request lines; a name or value that would break the request is refused, by name."""
    lines = []
    for name, value in headers:
        if not name or not name.isascii() or any(c in name for c in " \t:\r\n\0"):
            raise HTTPError("a header name is empty, or holds a space, a colon, a line break or a NUL")
        if any(c in _BAD_VALUE for c in value):
            raise HTTPError(f"the value of header {name} has a line break or NUL")
        lines.append(f"{name}: {value}\r\n")
    return _ascii("".join(lines), "a header")


class Connection(asyncio.Protocol):
    """One keep-alive connection: one request at a time, its answer read by httptools' parser."""

    def __init__(self, pool: Pool, idle: list[Connection]) -> None:
        self.pool = pool
        self.idle = idle  # where this connection waits between calls
        self.transport: asyncio.Transport | None = None
        self.socket: Any = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Answer] | None = None
        self.closed = False
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.chunks: list[bytes] = []
        self.size = 0
        self.headers_done = False

    # ------------------------------------------------------------------ one call

    @property
    def shut(self) -> bool:
        """Closed, by either side, or never opened."""
        return self.closed or self.transport is None or self.transport.is_closing()

    def usable(self) -> bool:
        """Whether an idle connection can take a call: open, and nothing from the server waiting on it (a close
        that came with or just after the last answer, before the loop read it, or bytes nobody asked for)."""
        if self.shut:
            return False
        try:
            return not _waiting(self.socket)
        except (OSError, ValueError):
            return False

    async def exchange(self, payload: bytes, deadline: float) -> Answer:
        if self.shut:
            raise HTTPError("the server closed the connection before answering")
        assert self.transport is not None  # an open connection has one
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Answer] = loop.create_future()
        self.waiter = waiter
        timer = loop.call_at(deadline, self._expire, waiter)
        try:
            self.transport.write(payload)
            status, body, headers = await waiter
        except BaseException:  # a failure, the deadline or a cancellation: the connection's state is unknown
            self.close()
            raise
        finally:
            timer.cancel()
        if self.closed or self.pool.closed:
            self.close()
        else:
            self.idle.append(self)
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding == "identity" or not body:
            return status, body, headers
        return status, _decoded(body, encoding, self.pool.max_answer), headers

    def _expire(self, waiter: asyncio.Future[Answer]) -> None:
        if not waiter.done():
            waiter.set_exception(TimeoutError())

    def close(self) -> None:
        self._drop_idle()
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.abort()

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.socket = transport.get_extra_info("socket")
        self.pool.open.add(self)

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # bytes nobody asked for: this connection cannot be trusted with the next call
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # no call asks to switch protocols
            self._fail(HTTPError("the server switched protocols (an HTTP upgrade), which no call asks for"))
        except httptools.HttpParserError as exc:
            self._fail(HTTPError(f"the server's answer is not valid HTTP/1.1 ({exc})"))

    def eof_received(self) -> bool | None:
        return None  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._drop_idle()
        self.pool.open.discard(self)
        if self.waiter is None:
            return
        if exc is None and self.headers_done and "content-length" not in self.headers and not self._chunked():
            self._complete()  # a body that ends when the connection does (closed, not reset)
        else:
            why = "before answering" if not self.headers_done else "in the middle of its answer"
            self._fail(HTTPError(f"the server closed the connection {why}"))

    # ------------------------------------------------------------------ httptools' callbacks

    def on_message_begin(self) -> None:
        if self.waiter is None:  # a second answer to one request: the connection cannot be trusted any more
            self.close()

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        if self.waiter is None:  # failed already (too large), or a stray answer
            return
        self.size += len(body)
        if self.size > self.pool.max_answer:
            self._fail(HTTPError(f"the server's answer is larger than {_mib(self.pool.max_answer)}"))
            return
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:  # an interim answer (100 Continue, 103 Early Hints): the real one follows
            self._reset()
            return
        keep = self.parser.should_keep_alive()
        self._complete()
        if not keep:
            self.close()

    # ------------------------------------------------------------------ helpers

    def _chunked(self) -> bool:
        return "chunked" in self.headers.get("transfer-encoding", "").lower()

    def _complete(self) -> None:
        waiter, self.waiter = self.waiter, None
        answer = (self.status, b"".join(self.chunks), self.headers)
        self._reset()
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    def _fail(self, error: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        self.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def _drop_idle(self) -> None:
        if self in self.idle:
            self.idle.remove(self)


def _waiting(sock: Any) -> bool:
    """Whether anything (bytes, or the close) has arrived on a socket, without reading it. `poll` where there is
    one: `select` refuses descriptors past 1023, which a busy application process reaches."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])  # pragma: no cover - Windows


def _decoded(body: bytes, encoding: str, limit: int) -> bytes:
    """A gzip (of one or more members) or deflate body, decoded up to `limit` bytes."""
    wbits = _DECODE.get(encoding)
    if wbits is None:
        raise HTTPError(f"the server's answer is encoded as {encoding!r}, which promptops cannot read")
    try:
        return _inflate(body, wbits, limit)
    except zlib.error:
        if encoding == "deflate":  # some servers send raw deflate without the zlib wrapper
            with contextlib.suppress(zlib.error):
                return _inflate(body, -zlib.MAX_WBITS, limit)
        raise HTTPError(f"the server's {encoding} answer does not decompress") from None


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    out: list[bytes] = []
    size = 0
    while data:
        stream = zlib.decompressobj(wbits)
        piece = stream.decompress(data, limit + 1 - size)
        size += len(piece)
        if size > limit:
            raise HTTPError(f"the server's answer is larger than {_mib(limit)} once decompressed")
        if not stream.eof:
            raise zlib.error("truncated")
        out.append(piece)
        data = stream.unused_data.lstrip(b"\0") if wbits > zlib.MAX_WBITS else b""  # gzip: the next member
    return b"".join(out)


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:g} MiB"


class Pool:
    """The connections of one event loop, by (host, port, TLS)."""

    def __init__(self, tls: Callable[[], ssl.SSLContext], max_answer: int = MAX_ANSWER) -> None:
        self.tls = tls
        self.max_answer = max_answer
        self.closed = False
        self.open: set[Connection] = set()  # every connection not yet lost, idle or in a call
        self._idle: dict[tuple[str, int, bool], list[Connection]] = {}

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Answer:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        where = target(url)
        payload = b"".join(
            (
                where.head,
                header_block(tuple(headers.items())),
                b"Content-Length: %d\r\n\r\n" % len(body),
                body,
            )
        )
        if self.closed:
            raise HTTPError("the connection pool is closed")
        idle = self._idle.setdefault((where.host, where.port, where.tls), [])  # never holds a closed connection
        while idle:
            connection = idle.pop()
            if connection.usable():
                return await connection.exchange(payload, deadline)
            connection.close()
        connection = await self._connect(loop, where, idle, deadline)
        return await connection.exchange(payload, deadline)

    async def _connect(
        self, loop: asyncio.AbstractEventLoop, where: Target, idle: list[Connection], deadline: float
    ) -> Connection:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise TimeoutError()
        tls = self.tls() if where.tls else None
        opening = loop.create_connection(
            lambda: Connection(self, idle), where.host, where.port, ssl=tls, server_hostname=where.host if tls else None
        )
        try:
            if sys.version_info >= (3, 11):  # wait_for may let a cancellation that meets the connection pass
                async with asyncio.timeout_at(deadline):
                    _, connection = await opening
            else:  # pragma: no cover - Python 3.10
                _, connection = await asyncio.wait_for(opening, remaining)
        except (UnicodeError, ValueError) as exc:  # a host name the resolver refuses
            if isinstance(exc, OSError):  # a certificate that does not verify is both
                raise
            raise HTTPError(f"the URL's host name cannot be resolved as written ({type(exc).__name__})") from None
        return connection

    def close(self) -> None:
        """Close every connection, idle or in a call (which then fails): the pool takes no more calls."""
        self.closed = True
        for connection in list(self.open):
            connection.close()
        for idle in self._idle.values():
            for connection in list(idle):
                connection.close()
        self._idle.clear()


class Client:
    """One `Pool` per event loop (a pool's connections belong to the loop that opened them), closed when the
    loop's `asyncio.run` ends or by `aclose()`. `tls` makes the TLS context of https URLs; an answer longer than
    `max_answer` bytes, as sent or decoded, is an `HTTPError`."""

    def __init__(
        self, tls: Callable[[], ssl.SSLContext] = ssl.create_default_context, max_answer: int = MAX_ANSWER
    ) -> None:
        self._make_tls = tls
        self.max_answer = max_answer
        self._tls: ssl.SSLContext | None = None
        self._pools: dict[asyncio.AbstractEventLoop, tuple[Pool, AsyncGenerator[None, None]]] = {}

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Answer:
        entry = self._pools.get(asyncio.get_running_loop())
        pool = entry[0] if entry is not None else await self._open()
        return await pool.post(url, body, headers, timeout)

    async def aclose(self) -> None:
        entry = self._pools.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[1].aclose()

    def tls(self) -> ssl.SSLContext:
        """The TLS context, made when the first https URL needs it (loading a CA bundle takes tens of ms)."""
        if self._tls is None:
            self._tls = self._make_tls()
        return self._tls

    async def _open(self) -> Pool:
        pool = Pool(self.tls, self.max_answer)
        closer = _close_at_loop_end(pool)
        self._pools = {lp: en for lp, en in self._pools.items() if not lp.is_closed()}
        self._pools[asyncio.get_running_loop()] = (pool, closer)
        await closer.__anext__()  # started: asyncio.run finalizes it, and so closes the pool, at the end
        return pool


async def _close_at_loop_end(pool: Pool) -> AsyncGenerator[None, None]:
    """An async generator the loop knows: `asyncio.run` closes it at shutdown, which closes the pool."""
    try:
        yield
    finally:
        pool.close()
