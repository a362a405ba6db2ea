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
closes its connection: its state is unknown. Every failure is an `OSError` (`HTTPError` or one of asyncio's) or a
`TimeoutError`; no message ever contains a header's value.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import urllib.parse
import zlib
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass

import httptools

from .. import __version__

Answer = tuple[int, bytes, dict[str, str]]  # status, body, headers (names in lower case)
USER_AGENT = f"promptops/{__version__}"
_DECODE = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_BAD_VALUE = frozenset("\r\n\0")


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
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise HTTPError(f"not an http(s) URL with a host: {parts.scheme}://{parts.hostname or ''}")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise HTTPError(f"the port of {parts.scheme}://{parts.hostname} is not a number") from exc
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    if port != (443 if scheme == "https" else 80):
        shown = f"{shown}:{port}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    head = f"POST {path} HTTP/1.1\r\nHost: {shown}\r\nUser-Agent: {USER_AGENT}\r\n"
    return Target(host, port, scheme == "https", _ascii(head, "the URL"))


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
            raise HTTPError(f"{name!r} is not a valid header name")
        if any(c in _BAD_VALUE for c in value):
            raise HTTPError(f"the value of header {name} has a line break or NUL")
        lines.append(f"{name}: {value}\r\n")
    return _ascii("".join(lines), "a header")


class Connection(asyncio.Protocol):
    """One keep-alive connection: one request at a time, its answer read by httptools' parser."""

    def __init__(self, idle: list[Connection]) -> None:
        self.idle = idle  # where this connection waits between calls
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Answer] | None = None
        self.closed = False
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.chunks: list[bytes] = []
        self.headers_done = False

    # ------------------------------------------------------------------ one call

    async def exchange(self, payload: bytes, deadline: float) -> Answer:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Answer] = loop.create_future()
        self.waiter = waiter
        timer = loop.call_at(deadline, self._expire, waiter)
        assert self.transport is not None
        try:
            self.transport.write(payload)
            status, body, headers = await waiter
        except BaseException:  # a failure, the deadline or a cancellation: the connection's state is unknown
            self.close()
            raise
        finally:
            timer.cancel()
        if not self.closed:
            self.idle.append(self)
        encoding = headers.get("content-encoding", "identity").strip().lower()
        return status, body if encoding == "identity" else _decoded(body, encoding), headers

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

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # bytes nobody asked for: this connection cannot be trusted with the next call
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:  # also raised for an upgrade, which no call asks for
            self._fail(HTTPError(f"the server's answer is not valid HTTP/1.1 ({exc})"))

    def eof_received(self) -> bool | None:
        return None  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._drop_idle()
        if self.waiter is None:
            return
        if self.headers_done and "content-length" not in self.headers and not self._chunked():
            self._complete()  # a body that ends when the connection does
        else:
            why = "before answering" if not self.headers_done else "in the middle of its answer"
            self._fail(HTTPError(f"the server closed the connection {why}"))

    # ------------------------------------------------------------------ httptools' callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
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


def _decoded(body: bytes, encoding: str) -> bytes:
    wbits = _DECODE.get(encoding)
    if wbits is None:
        raise HTTPError(f"the server's answer is encoded as {encoding!r}, which promptops cannot read")
    try:
        return zlib.decompress(body, wbits)
    except zlib.error:
        if encoding == "deflate":  # some servers send raw deflate without the zlib wrapper
            try:
                return zlib.decompress(body, -zlib.MAX_WBITS)
            except zlib.error:
                pass
        raise HTTPError(f"the server's {encoding} answer does not decompress") from None


class Pool:
    """The connections of one event loop, by (host, port, TLS)."""

    def __init__(self, tls: Callable[[], ssl.SSLContext]) -> None:
        self.tls = tls
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
        idle = self._idle.setdefault((where.host, where.port, where.tls), [])  # never holds a closed connection
        connection = idle.pop() if idle else await self._connect(loop, where, idle, deadline)
        return await connection.exchange(payload, deadline)

    async def _connect(
        self, loop: asyncio.AbstractEventLoop, where: Target, idle: list[Connection], deadline: float
    ) -> Connection:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise TimeoutError()
        tls = self.tls() if where.tls else None
        opening = loop.create_connection(
            lambda: Connection(idle), where.host, where.port, ssl=tls, server_hostname=where.host if tls else None
        )
        _, connection = await asyncio.wait_for(opening, remaining)
        return connection

    def close(self) -> None:
        for idle in self._idle.values():
            for connection in list(idle):
                connection.close()
        self._idle.clear()


class Client:
    """One `Pool` per event loop (a pool's connections belong to the loop that opened them), closed when the
    loop's `asyncio.run` ends or by `aclose()`. `tls` makes the TLS context of https URLs."""

    def __init__(self, tls: Callable[[], ssl.SSLContext] = ssl.create_default_context) -> None:
        self._make_tls = tls
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
        pool = Pool(self.tls)
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
