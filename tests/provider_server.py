"""A small, real, deterministic OpenAI-compatible HTTP server for tests and benchmarks.

Standard library only.  It binds ``127.0.0.1`` on an ephemeral port, speaks HTTP/1.1 with
keep-alive (httpx, used by openai/litellm, reuses connections), serves every connection on one
asyncio event loop on a background thread (so 50+ concurrent slow requests are not serialised, and
each costs about 80 us of CPU rather than the 250-300 us of a thread per connection contending for
the interpreter's lock: the server shares the machine with the client it answers) and stops within
about a second, interrupting any request waiting out its latency or a hang.

Usage::

    with ProviderServer(latency=0.1) as srv:
        litellm.completion(model="openai/test-model", api_base=srv.base_url, api_key="sk-x", ...)
        assert srv.requests_succeeded == 1

or as a script (prints the base URL, serves until Ctrl-C)::

    python tests/provider_server.py --port 0 --latency 0.1 [--fault-rate 0.2 --fault-mix 500,429]

Endpoints
---------
* ``POST /v1/chat/completions`` (also ``POST /chat/completions``): an OpenAI chat completion.
  ``"stream": true`` is answered as a (non-incremental) server-sent-event stream.
* ``GET /v1/models`` (also ``GET /models``): the configured model list.

Answer rules (the answer is a pure function of the request)
-----------------------------------------------------------
"The last user message" is the content of the last message whose role is ``user`` (text parts
of a list content are joined with newlines; ``""`` when there is none).

1. If a ``responder`` callable ``(messages, request_json) -> str`` is set, its result is the
   answer, overriding every rule below.
2. Else if the last user message has a line starting with ``REPLY:``, the answer is the rest
   of the first such line, with surrounding whitespace stripped.
3. Else if ``response_format.type`` is ``json_object`` or ``json_schema``, the answer is the
   JSON text ``{"echo": <last user message>}``.
4. Else the answer is ``"echo: " + <last user message>``.

The response has ``created == CREATED`` (fixed), ``model`` echoing the request's model, an
``id`` derived from the request body, ``finish_reason == "stop"`` and ``usage`` computed as
whitespace word counts: ``prompt_tokens`` over the text of all request messages,
``completion_tokens`` over the answer.

Faults
------
Fault names (``FAULTS``):

* ``"429"``: status 429 with ``Retry-After: <retry_after>`` (and ``retry-after-ms``) headers.
* ``"500"``, ``"503"``: that status with an OpenAI-style JSON error body.
* ``"timeout"``: hold the connection ``hang`` seconds without answering, then close it.
* ``"malformed"``: status 200 with a body that is not valid JSON.
* ``"drop"``: close the connection without sending any response.

Which request gets which fault, in order of precedence:

1. A marker line ``FAULT: <name>`` in the last user message always applies that fault
   (an unknown name is answered with 400).
2. The ``faults`` policy, which is one of:

   * ``None``: no faults;
   * a fault name (``"500"``): every request gets it;
   * a schedule ``(request_index, request_json) -> fault name | None``; ``request_index``
     counts chat-completion requests from 0 in arrival order (``reset()`` restarts it);
   * ``FailFirst(k, fault)``: the first ``k`` attempts of each distinct request body
     (compared as canonical JSON) get ``fault``, later attempts succeed, so a client that
     retries eventually gets the fault-free answer;
   * ``FaultRate(p, mix, seed)``: a fraction ``p`` of requests fail with a fault drawn from
     ``mix``; the draw for the n-th attempt of a given body is a pure function of
     ``(seed, body, n)``, so it is reproducible whatever the arrival order of concurrent
     requests, and retries of a failed request get fresh draws;
   * a list/tuple of the above: the first one that yields a fault wins.

Structured output
-----------------
``refuse_json_schema`` (a status, e.g. 500 or 400; ``None``, the default, accepts it) makes the server
answer every request whose ``response_format.type`` is ``json_schema`` with that status and an OpenAI-style
error naming ``response_format``, as llama-cpp-python's OpenAI server and several gateways do;
``json_object`` is still answered. Refused requests count in ``rejected``.

``latency`` (seconds) is waited before every chat-completion answer or fault (a timer on the
event loop; the connection's next request is read once the answer is sent).  ``latency``, ``faults``, ``responder``, ``retry_after``, ``hang`` and
``api_key`` can be changed at run time (thread-safe), by assignment or ``configure()``.
The loop waits with epoll, whose timeouts are whole milliseconds rounded up: answers due at 20 ms
came at 20.9 ms on average in a 10,000-request run with 64 in flight. ``precise=True`` (for
benchmarks) waits with ``select()`` and its microsecond timeouts instead (20.6 ms in the same run),
which takes only descriptors below 1024 (``FD_SETSIZE``): fine for a benchmark's process, not for
a long test session.
If ``api_key`` is set, requests whose ``Authorization`` is not ``Bearer <api_key>`` get 401.
A ``responder`` or fault schedule runs on the event loop: it must not block.

Accounting
----------
``requests_received`` (chat-completion requests, including rejected ones),
``requests_succeeded`` (answered with a valid 200), ``fault_counts`` (per fault name),
``rejected`` (400/401/404 answers), ``request_bodies`` (parsed JSON of every well-formed
chat-completion request), ``auth_headers`` (the ``Authorization`` value, or ``None``, of every
HTTP request on any endpoint), ``raw_requests`` (method, path with query string, every header and
the body of every request, for checks that no secret reached the server), ``models_requests``, ``connections_opened`` and ``errors``
(exceptions raised by a responder or schedule; those requests are answered with 500).
``reset()`` clears all of them, plus the request index and per-body attempt counts.
Counters are updated before the response is written, so a client that has its answer sees it
counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import gc
import hashlib
import json
import random
import selectors
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, TypeAlias

__all__ = [
    "CREATED",
    "FAULTS",
    "FailFirst",
    "FaultPolicy",
    "FaultRate",
    "FaultSchedule",
    "ProviderServer",
    "Responder",
    "default_answer",
]

JSONDict: TypeAlias = dict[str, Any]
Responder: TypeAlias = Callable[[list[JSONDict], JSONDict], str]
FaultSchedule: TypeAlias = Callable[[int, JSONDict], str | int | None]

FAULTS: tuple[str, ...] = ("429", "500", "503", "timeout", "malformed", "drop")
CREATED = 1_700_000_000
HOST = "127.0.0.1"
CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
MODELS_PATHS = frozenset({"/v1/models", "/models"})
MALFORMED_BODY = b'{"id": "chatcmpl-malformed", "object": "chat.completion", "choices": [{"message": '


def _check_fault(name: str | int) -> str:
    text = str(name).strip()
    if text not in FAULTS:
        raise ValueError(f"unknown fault {name!r}; expected one of {', '.join(FAULTS)}")
    return text


@dataclass(frozen=True)
class RawRequest:
    """One request exactly as it arrived."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def text(self) -> str:
        """Everything the client sent, as one string to search."""
        lines = [f"{self.method} {self.path}", *(f"{k}: {v}" for k, v in self.headers)]
        return "\n".join(lines) + "\n\n" + self.body.decode("utf-8", "replace")


@dataclass(frozen=True)
class FailFirst:
    """Fail the first ``k`` attempts of every distinct request body with ``fault``."""

    k: int
    fault: str = "500"

    def __post_init__(self) -> None:
        if self.k < 0:
            raise ValueError("k must be >= 0")
        object.__setattr__(self, "fault", _check_fault(self.fault))


@dataclass(frozen=True)
class FaultRate:
    """Fail a fraction ``p`` of requests with a fault drawn (seeded) from ``mix``.

    ``mix`` is a sequence of fault names (equal weights) or a mapping name -> weight.
    """

    p: float
    mix: Mapping[str, float] | Sequence[str] = ("500",)
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise ValueError("p must be within [0, 1]")
        if isinstance(self.mix, str):
            raise TypeError("mix must be a sequence or mapping of fault names, not a string")
        pairs = (
            [(_check_fault(k), float(v)) for k, v in self.mix.items()]
            if isinstance(self.mix, Mapping)
            else [(_check_fault(k), 1.0) for k in self.mix]
        )
        if not pairs or sum(w for _, w in pairs) <= 0 or any(w < 0 for _, w in pairs):
            raise ValueError("mix must name at least one fault with a positive weight")
        object.__setattr__(self, "mix", dict(pairs))

    def decide(self, body_key: str, attempt: int) -> str | None:
        """The fault (or ``None``) for the ``attempt``-th (0-based) try of the body ``body_key``."""
        rng = random.Random(f"{self.seed}|{body_key}|{attempt}")
        if rng.random() >= self.p:
            return None
        assert isinstance(self.mix, Mapping)
        names = list(self.mix)
        return rng.choices(names, weights=[self.mix[n] for n in names])[0]


FaultPolicy: TypeAlias = "str | int | FailFirst | FaultRate | FaultSchedule | Sequence[FaultPolicy] | None"


def _validate_policy(policy: FaultPolicy) -> None:
    if policy is None or isinstance(policy, (FailFirst, FaultRate)):
        return
    if isinstance(policy, (str, int)):
        _check_fault(policy)
    elif isinstance(policy, Sequence):
        for item in policy:
            _validate_policy(item)
    elif not callable(policy):
        raise TypeError(f"unsupported fault policy {policy!r}")


@dataclass(frozen=True)
class _Attempt:
    index: int
    attempt: int
    body_key: str
    request: JSONDict


def _pick_fault(policy: FaultPolicy, att: _Attempt) -> str | None:
    if policy is None:
        return None
    if isinstance(policy, (str, int)):
        return _check_fault(policy)
    if isinstance(policy, FailFirst):
        return policy.fault if att.attempt < policy.k else None
    if isinstance(policy, FaultRate):
        return policy.decide(att.body_key, att.attempt)
    if isinstance(policy, Sequence):
        for item in policy:
            found = _pick_fault(item, att)
            if found is not None:
                return found
        return None
    result = policy(att.index, att.request)
    return None if result is None else _check_fault(result)


# --------------------------------------------------------------------------- answers


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)
    return json.dumps(content, sort_keys=True)


def _messages(request: JSONDict) -> list[JSONDict]:
    raw = request.get("messages")
    if not isinstance(raw, list):
        return []
    return [m for m in raw if isinstance(m, dict)]


def _last_user(messages: list[JSONDict]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def _marker(text: str, name: str) -> str | None:
    prefix = f"{name}:"
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(prefix):
            return stripped[len(prefix) :].strip()
    return None


def default_answer(request: JSONDict) -> str:
    """The answer given by rules 2-4 of the module docstring (no responder)."""
    last = _last_user(_messages(request))
    reply = _marker(last, "REPLY")
    if reply is not None:
        return reply
    fmt = request.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
        return json.dumps({"echo": last})
    return f"echo: {last}"


def _words(text: str) -> int:
    return len(text.split())


def _canonical(request: JSONDict) -> str:
    return json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _error_body(status: int, message: str, kind: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": str(status)}}).encode()


# --------------------------------------------------------------------------- HTTP plumbing

MAX_HEAD = 65_536  # bytes of request line and headers before the request is refused
SERVER_HEADER = "provider-server/1.0"


class _Headers:
    """A request's headers as sent (names in their case, in order), looked up case-insensitively."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items
        self._lower = {}
        for name, value in items:
            self._lower.setdefault(name.lower(), value)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._lower.get(name.lower(), default)

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)


class _Exchange:
    """One request on a connection and the means to answer it (once), now or after a delay on the loop."""

    def __init__(self, conn: _Connection, method: str, path: str, headers: _Headers, body: bytes, close: bool) -> None:
        self.conn, self.method, self.path, self.headers, self.body = conn, method, path, headers, body
        self.close_connection = close
        self.answered = False

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Headers and body in one write (with Nagle off, as asyncio sets it, a split answer would wait ~40 ms)."""
        if self.answered:
            return
        self.answered = True
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        lines = [
            f"HTTP/1.1 {status} {phrase}",
            f"Server: {SERVER_HEADER}",
            f"Date: {email.utils.formatdate(usegmt=True)}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in headers),
        ]
        if self.close_connection:
            lines.append("Connection: close")
        self.conn.answer(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body, self.close_connection)

    def close(self) -> None:
        """End the connection without an answer (a dropped or hung request)."""
        self.answered = True
        self.conn.close()

    def later(self, seconds: float, then: Callable[[], None]) -> None:
        """Run `then` after `seconds` on the loop, unless the server stops or the client goes away first."""
        self.conn.later(seconds, then)


class _Connection(asyncio.Protocol):
    """One client connection: requests read in turn (the next once the last is answered), answered by the owner."""

    def __init__(self, owner: ProviderServer) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.busy = False  # a request is being answered: the next waits in the buffer
        self.continued = False  # "100 Continue" sent for the request being read
        self.timers: set[asyncio.TimerHandle] = set()

    # asyncio's callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.owner._track(self)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()
        self.transport = None
        self.owner._untrack(self)

    # what the exchange does
    def answer(self, data: bytes, close: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(data)
        if close:
            self.close()
            return
        self.busy = False
        asyncio.get_running_loop().call_soon(self._next)  # a request that came in behind this one

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def later(self, seconds: float, then: Callable[[], None]) -> None:
        if self.transport is None:
            return

        def fire() -> None:
            self.timers.discard(timer)
            if self.transport is not None:
                self.owner._guard(then)

        timer = asyncio.get_running_loop().call_later(seconds, fire)
        self.timers.add(timer)

    # reading requests
    def _next(self) -> None:
        if self.busy or self.transport is None or self.transport.is_closing():
            return
        exchange = self._request()
        if exchange is None:
            return
        self.busy = True
        self.continued = False
        self.owner._guard(lambda: self.owner._handle(exchange, exchange.method), exchange)

    def _refuse(self, status: int, message: str) -> None:
        self.busy = True
        _Exchange(self, "", "", _Headers([]), b"", close=True).send(
            status, _error_body(status, message, "invalid_request_error")
        )

    def _request(self) -> _Exchange | None:
        """The next whole request in the buffer (taken out of it), or None while it is not all in."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEAD:
                self._refuse(431, "request headers too large")
            return None
        lines = self.buffer[:end].decode("latin-1").split("\r\n")
        words = lines[0].split()
        if len(words) != 3 or not words[2].startswith("HTTP/1."):
            self._refuse(400, f"bad request line {lines[0][:80]!r}")
            return None
        method, path, version = words
        items = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not name.strip():
                self._refuse(400, "bad header line")
                return None
            items.append((name.strip(), value.strip()))
        headers = _Headers(items)
        start = end + 4
        if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
            found = _chunked(self.buffer, start)
            if found is None:
                return None
            body, after = found
        else:
            try:
                length = int(headers.get("Content-Length") or 0)
            except ValueError:
                self._refuse(400, "bad Content-Length")
                return None
            if len(self.buffer) < start + length:
                expect = (headers.get("Expect") or "").lower()
                if expect == "100-continue" and not self.continued and self.transport is not None:
                    self.continued = True
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                return None
            body, after = self.buffer[start : start + max(0, length)], start + max(0, length)
        self.buffer = self.buffer[after:]
        connection = (headers.get("Connection") or "").lower()
        close = connection == "close" if version == "HTTP/1.1" else connection != "keep-alive"
        return _Exchange(self, method, path, headers, body, close)


def _chunked(data: bytes, start: int) -> tuple[bytes, int] | None:
    """A chunked body that starts at `start`: (body, where the request ends), or None while it is not all in."""
    chunks: list[bytes] = []
    at = start
    while True:
        line_end = data.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(data[at:line_end].split(b";", 1)[0].strip() or b"0", 16)
        at = line_end + 2
        if size == 0:
            while True:  # trailers, up to the empty line
                line_end = data.find(b"\r\n", at)
                if line_end < 0:
                    return None
                if line_end == at:
                    return b"".join(chunks), at + 2
                at = line_end + 2
        if len(data) < at + size + 2:
            return None
        chunks.append(data[at : at + size])
        at += size + 2


# --------------------------------------------------------------------------- the server


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """For a benchmark timing a client of this server from the server's own process: the process's cyclic
    garbage collector off while the timed run lasts (its objects frozen first, then thawed). A full collection
    of a harness's objects (the modules it imported, the requests the server keeps) stops the serving thread for
    50-70 ms, and every answer due meanwhile waits: on a 10,000-request run at 20 ms, 1 answer in 70 came over
    10 ms late, and answers were 0.5 ms later on average. A remote provider's pauses are not the client's work. Reference counting
    still frees what the server drops; only cycles wait for the end of the block."""
    gc.collect()
    gc.freeze()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.unfreeze()


class ProviderServer:
    """Deterministic OpenAI-compatible chat-completion server on ``127.0.0.1`` (see module doc)."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        faults: FaultPolicy = None,
        responder: Responder | None = None,
        retry_after: float = 0.05,
        hang: float = 5.0,
        api_key: str | None = None,
        models: Sequence[str] = ("test-model",),
        port: int = 0,
        refuse_json_schema: int | None = None,
        precise: bool = False,
    ) -> None:
        _validate_policy(faults)
        self._precise = precise
        self._lock = threading.Lock()
        self._latency = float(latency)
        self._faults: FaultPolicy = faults
        self._responder = responder
        self._retry_after = float(retry_after)
        self._hang = float(hang)
        self._api_key = api_key
        self._refuse_json_schema = refuse_json_schema
        self.models: tuple[str, ...] = tuple(models)
        self._requested_port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self._connections: set[_Connection] = set()
        self._clear()

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> ProviderServer:
        """Bind and serve on a background daemon thread; returns ``self`` (a bind error is raised here)."""
        if self._server is not None:
            return self
        # The loop runs on its own thread from the start: the caller's thread may run an event loop of its own.
        loop = asyncio.SelectorEventLoop(selectors.SelectSelector()) if self._precise else asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="provider-server", daemon=True)
        thread.start()
        serving = loop.create_server(
            lambda: _Connection(self), HOST, self._requested_port, backlog=512, reuse_address=True
        )
        try:
            server = asyncio.run_coroutine_threadsafe(serving, loop).result(10)
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(1)
            loop.close()
            raise
        self._loop, self._server, self._thread = loop, server, thread
        self._port = int(server.sockets[0].getsockname()[1])
        return self

    def stop(self, timeout: float = 1.0) -> None:
        """Stop serving, close every open connection (a request waiting out its latency or a hang ends unanswered)
        and join the server's thread (within ``timeout``)."""
        loop, server, thread = self._loop, self._server, self._thread
        if loop is None or server is None:
            return

        def shut() -> None:
            server.close()
            for conn in list(self._connections):
                conn.abort()
            loop.call_soon(loop.stop)  # after the connections' own callbacks

        loop.call_soon_threadsafe(shut)
        if thread is not None:
            thread.join(timeout)
        if not loop.is_running():
            loop.close()
        self._loop = self._server = self._thread = None

    close = stop

    def __enter__(self) -> ProviderServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server is not running")
        return self._port

    @property
    def host(self) -> str:
        return HOST

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no ``/v1``)."""
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: the OpenAI ``base_url`` / litellm ``api_base``."""
        return f"{self.root_url}/v1"

    # ----------------------------------------------------------------- run-time configuration
    @property
    def latency(self) -> float:
        with self._lock:
            return self._latency

    @latency.setter
    def latency(self, value: float) -> None:
        with self._lock:
            self._latency = float(value)

    @property
    def faults(self) -> FaultPolicy:
        with self._lock:
            return self._faults

    @faults.setter
    def faults(self, value: FaultPolicy) -> None:
        _validate_policy(value)
        with self._lock:
            self._faults = value

    @property
    def responder(self) -> Responder | None:
        with self._lock:
            return self._responder

    @responder.setter
    def responder(self, value: Responder | None) -> None:
        with self._lock:
            self._responder = value

    @property
    def retry_after(self) -> float:
        with self._lock:
            return self._retry_after

    @retry_after.setter
    def retry_after(self, value: float) -> None:
        with self._lock:
            self._retry_after = float(value)

    @property
    def hang(self) -> float:
        with self._lock:
            return self._hang

    @hang.setter
    def hang(self, value: float) -> None:
        with self._lock:
            self._hang = float(value)

    @property
    def api_key(self) -> str | None:
        with self._lock:
            return self._api_key

    @api_key.setter
    def api_key(self, value: str | None) -> None:
        with self._lock:
            self._api_key = value

    _UNSET: Any = object()

    def configure(
        self,
        *,
        latency: float | None = None,
        faults: FaultPolicy = _UNSET,
        responder: Responder | None = _UNSET,
        retry_after: float | None = None,
        hang: float | None = None,
        api_key: str | None = _UNSET,
        refuse_json_schema: int | None = _UNSET,
    ) -> None:
        """Change several settings atomically; omitted arguments keep their value."""
        if faults is not self._UNSET:
            _validate_policy(faults)
        with self._lock:
            if latency is not None:
                self._latency = float(latency)
            if faults is not self._UNSET:
                self._faults = faults
            if responder is not self._UNSET:
                self._responder = responder
            if retry_after is not None:
                self._retry_after = float(retry_after)
            if hang is not None:
                self._hang = float(hang)
            if api_key is not self._UNSET:
                self._api_key = api_key
            if refuse_json_schema is not self._UNSET:
                self._refuse_json_schema = refuse_json_schema

    # ----------------------------------------------------------------- accounting
    def _clear(self) -> None:
        self._requests_received = 0
        self._requests_succeeded = 0
        self._rejected = 0
        self._models_requests = 0
        self._connections_opened = 0
        self._fault_counts: dict[str, int] = dict.fromkeys(FAULTS, 0)
        self._request_bodies: list[JSONDict] = []
        self._auth_headers: list[str | None] = []
        self._raw_requests: list[RawRequest] = []
        self._errors: list[str] = []
        self._attempts: dict[str, int] = {}

    def reset(self) -> None:
        """Clear every counter and log, the request index and the per-body attempt counts."""
        with self._lock:
            self._clear()

    @property
    def requests_received(self) -> int:
        with self._lock:
            return self._requests_received

    @property
    def requests_succeeded(self) -> int:
        with self._lock:
            return self._requests_succeeded

    @property
    def rejected(self) -> int:
        with self._lock:
            return self._rejected

    @property
    def models_requests(self) -> int:
        with self._lock:
            return self._models_requests

    @property
    def connections_opened(self) -> int:
        with self._lock:
            return self._connections_opened

    @property
    def fault_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._fault_counts)

    @property
    def request_bodies(self) -> list[JSONDict]:
        with self._lock:
            return list(self._request_bodies)

    @property
    def auth_headers(self) -> list[str | None]:
        with self._lock:
            return list(self._auth_headers)

    @property
    def raw_requests(self) -> list[RawRequest]:
        """Every request as it arrived (method, path with query, all headers, body), for leak checks."""
        with self._lock:
            return list(self._raw_requests)

    @property
    def errors(self) -> list[str]:
        with self._lock:
            return list(self._errors)

    def stats(self) -> dict[str, Any]:
        """A consistent snapshot of every counter (not the logs)."""
        with self._lock:
            return {
                "requests_received": self._requests_received,
                "requests_succeeded": self._requests_succeeded,
                "rejected": self._rejected,
                "models_requests": self._models_requests,
                "connections_opened": self._connections_opened,
                "fault_counts": dict(self._fault_counts),
                "errors": len(self._errors),
            }

    # ----------------------------------------------------------------- internals
    def _track(self, conn: _Connection) -> None:
        with self._lock:
            self._connections.add(conn)
            self._connections_opened += 1

    def _untrack(self, conn: _Connection) -> None:
        with self._lock:
            self._connections.discard(conn)

    def _guard(self, step: Callable[[], None], exchange: _Exchange | None = None) -> None:
        """Run a step of answering; a failure of the server's own is recorded, and answered with 500 when it can."""
        try:
            step()
        except Exception as exc:
            self._record_error(f"connection handler: {exc!r}")
            if exchange is not None and not exchange.answered:
                exchange.close_connection = True
                exchange.send(500, _error_body(500, f"provider_server: {exc!r}", "server_error"))

    def _record_error(self, message: str) -> None:
        with self._lock:
            self._errors.append(message)

    def _handle(self, handler: _Exchange, method: str) -> None:
        path = handler.path.split("?", 1)[0].rstrip("/") or "/"
        auth = handler.headers.get("Authorization")
        body = handler.body if method == "POST" else b""
        if method not in ("GET", "POST"):
            handler.send(501, _error_body(501, f"unsupported method {method!r}", "not_found_error"))
            return
        with self._lock:
            self._auth_headers.append(auth)
            self._raw_requests.append(RawRequest(method, handler.path, tuple(handler.headers.items()), body))
            api_key = self._api_key
        if method == "GET" and path in MODELS_PATHS:
            self._answer_models(handler, auth, api_key)
        elif method == "POST" and path in CHAT_PATHS:
            self._answer_chat(handler, body, auth, api_key)
        else:
            with self._lock:
                self._rejected += 1
            handler.send(404, _error_body(404, f"no route for {method} {path}", "not_found_error"))

    def _authorised(self, handler: _Exchange, auth: str | None, api_key: str | None) -> bool:
        if api_key is None or auth == f"Bearer {api_key}":
            return True
        with self._lock:
            self._rejected += 1
        handler.send(401, _error_body(401, "Incorrect API key provided.", "invalid_request_error"))
        return False

    def _answer_models(self, handler: _Exchange, auth: str | None, api_key: str | None) -> None:
        with self._lock:
            self._models_requests += 1
        if not self._authorised(handler, auth, api_key):
            return
        data = [{"id": m, "object": "model", "created": CREATED, "owned_by": "provider-server"} for m in self.models]
        handler.send(200, json.dumps({"object": "list", "data": data}).encode())

    def _answer_chat(self, handler: _Exchange, raw: bytes, auth: str | None, api_key: str | None) -> None:
        try:
            parsed = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            parsed = None
        body_key, attempt = "", 0
        with self._lock:
            index = self._requests_received
            self._requests_received += 1
            if isinstance(parsed, dict):
                self._request_bodies.append(parsed)
                body_key = hashlib.sha256(_canonical(parsed).encode()).hexdigest()
                attempt = self._attempts.get(body_key, 0)
                self._attempts[body_key] = attempt + 1
            latency, policy, responder = self._latency, self._faults, self._responder
            retry_after, hang = self._retry_after, self._hang
        if not isinstance(parsed, dict):
            with self._lock:
                self._rejected += 1
            handler.send(400, _error_body(400, "request body is not a JSON object", "invalid_request_error"))
            return
        if not self._authorised(handler, auth, api_key):
            return
        if self._refuses_schema(handler, parsed):
            return

        marker = _marker(_last_user(_messages(parsed)), "FAULT")
        try:
            fault = (
                _check_fault(marker)
                if marker is not None
                else _pick_fault(policy, _Attempt(index, attempt, body_key, parsed))
            )
        except ValueError as exc:
            if marker is None:  # a bad schedule result: a server-side bug, made visible
                self._record_error(f"fault schedule: {exc}")
                handler.send(500, _error_body(500, f"provider_server: {exc}", "server_error"))
                return
            with self._lock:
                self._rejected += 1
            handler.send(400, _error_body(400, str(exc), "invalid_request_error"))
            return
        except Exception as exc:
            self._record_error(f"fault schedule: {exc!r}")
            handler.send(500, _error_body(500, f"provider_server: {exc!r}", "server_error"))
            return

        def answer() -> None:  # once the latency is over
            self._answer(handler, parsed, body_key, fault, responder, retry_after, hang)

        if latency > 0:
            handler.later(latency, answer)
        else:
            answer()

    def _answer(
        self,
        handler: _Exchange,
        parsed: JSONDict,
        body_key: str,
        fault: str | None,
        responder: Responder | None,
        retry_after: float,
        hang: float,
    ) -> None:
        if fault is not None:
            with self._lock:
                self._fault_counts[fault] += 1
            self._send_fault(handler, fault, retry_after, hang)
            return

        try:
            answer = responder(_messages(parsed), parsed) if responder is not None else default_answer(parsed)
            if not isinstance(answer, str):
                raise TypeError(f"responder returned {type(answer).__name__}, not str")
        except Exception as exc:
            self._record_error(f"responder: {exc!r}")
            handler.send(500, _error_body(500, f"provider_server responder: {exc!r}", "server_error"))
            return

        self._send_completion(handler, parsed, body_key, answer)

    def _refuses_schema(self, handler: _Exchange, request: JSONDict) -> bool:
        with self._lock:
            status = self._refuse_json_schema
        form = request.get("response_format")
        if status is None or not isinstance(form, dict) or form.get("type") != "json_schema":
            return False
        with self._lock:
            self._rejected += 1
        message = (
            "Unsupported response_format type 'json_schema': this server accepts only "
            "{'type': 'json_object'} or 'text'.\nDetails: response_format.json_schema is not implemented"
        )
        handler.send(status, _error_body(status, message, "invalid_request_error" if status < 500 else "server_error"))
        return True

    def _send_fault(self, handler: _Exchange, fault: str, retry_after: float, hang: float) -> None:
        if fault == "429":
            seconds = f"{retry_after:g}"
            headers = [("Retry-After", seconds), ("retry-after-ms", f"{retry_after * 1000:g}")]
            body = _error_body(429, "Rate limit reached (injected fault).", "rate_limit_error")
            handler.send(429, body, headers=headers)
        elif fault in ("500", "503"):
            status = int(fault)
            handler.send(status, _error_body(status, f"Injected {status} fault.", "server_error"))
        elif fault == "malformed":
            handler.send(200, MALFORMED_BODY)
        elif fault == "timeout":
            handler.later(hang, handler.close)
        else:  # "drop"
            handler.close()

    def _send_completion(self, handler: _Exchange, request: JSONDict, body_key: str, answer: str) -> None:
        model = request.get("model")
        model = model if isinstance(model, str) else "unknown"
        prompt_tokens = sum(_words(_content_text(m.get("content"))) for m in _messages(request))
        completion_tokens = _words(answer)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        ident = f"chatcmpl-{body_key[:24]}"
        if request.get("stream") is True:
            base = {"id": ident, "object": "chat.completion.chunk", "created": CREATED, "model": model}
            events = [
                {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": answer}}]},
                {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            ]
            options = request.get("stream_options")
            if isinstance(options, dict) and options.get("include_usage"):
                events.append({**base, "choices": [], "usage": usage})
            text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
            self._count_success()  # before sending: a client that got the answer sees it counted
            handler.send(200, text.encode(), content_type="text/event-stream")
            return
        completion = {
            "id": ident,
            "object": "chat.completion",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_provider_server",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": usage,
        }
        self._count_success()
        handler.send(200, json.dumps(completion).encode())

    def _count_success(self) -> None:
        with self._lock:
            self._requests_succeeded += 1


# --------------------------------------------------------------------------- script


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Deterministic OpenAI-compatible test server (127.0.0.1).")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: ephemeral)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before each answer")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="fraction of requests to fail")
    parser.add_argument("--fault-mix", default="500", help="comma-separated fault names for --fault-rate")
    parser.add_argument("--seed", type=int, default=0, help="seed for --fault-rate")
    parser.add_argument("--fail-first", type=int, default=0, help="fail the first K attempts of each body")
    parser.add_argument("--fail-first-fault", default="500", help="fault used by --fail-first")
    parser.add_argument("--retry-after", type=float, default=0.05, help="Retry-After seconds for 429")
    parser.add_argument("--hang", type=float, default=5.0, help="seconds a 'timeout' fault holds the socket")
    args = parser.parse_args(argv)

    policies: list[FaultPolicy] = []
    if args.fail_first > 0:
        policies.append(FailFirst(args.fail_first, args.fail_first_fault))
    if args.fault_rate > 0:
        mix = [name.strip() for name in args.fault_mix.split(",") if name.strip()]
        policies.append(FaultRate(args.fault_rate, mix, args.seed))
    server = ProviderServer(
        latency=args.latency,
        faults=policies or None,
        retry_after=args.retry_after,
        hang=args.hang,
        port=args.port,
    )
    with server:
        print(server.base_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        print(json.dumps(server.stats()), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
