"""promptops' own HTTP/1.1 client (the native route's transport), against a real socket server on loopback that
answers with exactly the bytes each test scripts: framing by Content-Length, chunked and connection close,
answers split at every byte, interim answers, compressed bodies, keep-alive and the server closing connections,
timeouts, cancellation, TLS, and bytes that are not HTTP at all."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import itertools
import os
import socket
import socketserver
import ssl
import struct
import subprocess
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptops.providers import http1

# What the server does with one request: the byte segments it sends (with a pause between them), then whether it
# closes the connection. `None` as a segment: wait until the client closes or a second passes.
Script = Callable[[int, bytes], tuple[list[bytes | None], bool]]
JSON = {"Content-Type": "application/json", "Authorization": "Bearer sk-test-0123456789"}
RESET = b"<reset>"  # a segment that makes the server reset the connection


@dataclass
class Scripted:
    script: Script = lambda i, body: ([ok(body)], False)
    pause: float = 0.0
    requests: list[bytes] = field(default_factory=list)  # each request's head and body, as received
    connections: int = 0
    closed_by_client: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def ok(body: bytes, *extra: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in extra)
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s" % (
        head.encode(),
        len(body),
        body,
    )


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        state = self.server.state
        with state.lock:
            state.connections += 1
        sock: socket.socket = self.request
        sock.settimeout(5)
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = sock.recv(65536)
                    if not data:
                        with state.lock:
                            state.closed_by_client += 1
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                while len(buffer) < length:
                    buffer += sock.recv(65536)
                body, buffer = buffer[:length], buffer[length:]
                with state.lock:
                    index = len(state.requests)
                    state.requests.append(head + b"\r\n\r\n" + body)
                segments, close = state.script(index, body)
                for n, segment in enumerate(segments):
                    if segment is None:
                        sock.settimeout(1)
                        if sock.recv(1) == b"":
                            with state.lock:
                                state.closed_by_client += 1
                        return
                    if n and state.pause:
                        time.sleep(state.pause)
                    if segment is RESET:  # an abortive close: the client reads a reset, not an end
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        sock.close()
                        return
                    sock.sendall(segment)
                if close:
                    return
        except OSError:
            return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state: Scripted, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        self.tls = tls

    def get_request(self) -> tuple[socket.socket, object]:
        sock, address = super().get_request()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True)
        return sock, address


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server(Scripted())
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def scripted(server: _Server) -> Scripted:
    server.state = Scripted()
    return server.state


def url(server: _Server, path: str = "/v1/chat/completions") -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def post_all(target: str, bodies: list[bytes], timeout: float = 5.0) -> list[http1.Answer]:
    """The bodies POSTed one after the other on one client (one pool)."""

    async def run() -> list[http1.Answer]:
        client = http1.Client()
        return [await client.post(target, body, JSON, timeout) for body in bodies]

    return asyncio.run(run())


def post(target: str, body: bytes = b'{"q": 1}', timeout: float = 5.0) -> http1.Answer:
    return post_all(target, [body], timeout)[0]


# ---------------------------------------------------------------------------------------------- requests


def test_the_request_is_a_plain_http11_post(server: _Server, scripted: Scripted) -> None:
    status, body, headers = post(url(server, "/v1/chat/completions?api-version=2024-06-01"), b'{"q": "\xc3\xa9"}')
    assert (status, body, headers["content-type"]) == (200, b'{"q": "\xc3\xa9"}', "application/json")
    head, _, sent = scripted.requests[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v1/chat/completions?api-version=2024-06-01 HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.server_address[1]}" in lines
    assert "Authorization: Bearer sk-test-0123456789" in lines and "Content-Type: application/json" in lines
    assert "Content-Length: 11" in lines and sent == b'{"q": "\xc3\xa9"}'


def test_connections_are_kept_alive_and_reused(server: _Server, scripted: Scripted) -> None:
    answers = post_all(url(server), [b"%d" % i for i in range(5)])
    assert [a[1] for a in answers] == [b"0", b"1", b"2", b"3", b"4"]
    assert scripted.connections == 1


def test_concurrent_calls_each_get_their_own_answer(server: _Server, scripted: Scripted) -> None:
    scripted.script = lambda i, body: ([ok(body)[:3], ok(body)[3:]] if i % 2 else [ok(body)], False)
    scripted.pause = 0.01

    async def run() -> list[bytes]:
        client = http1.Client()
        first = await asyncio.gather(*(client.post(url(server), b"a%d" % i, JSON, 5) for i in range(30)))
        again = await asyncio.gather(*(client.post(url(server), b"b%d" % i, JSON, 5) for i in range(30)))
        return [a[1] for a in (*first, *again)]

    assert asyncio.run(run()) == [b"a%d" % i for i in range(30)] + [b"b%d" % i for i in range(30)]
    assert scripted.connections <= 30


@pytest.mark.parametrize(
    ("name", "value"),
    [("Authorization", "Bearer sk-secret\r\nX-Evil: 1"), ("X-Key", "sk-secret\n"), ("Bad Name", "v"), ("X", "sk-é")],
)
def test_a_header_that_would_break_the_request_is_refused_without_its_value(
    server: _Server, scripted: Scripted, name: str, value: str
) -> None:
    with pytest.raises(http1.HTTPError) as caught:
        asyncio.run(http1.Client().post(url(server), b"{}", {name: value}, 5))
    assert "sk-secret" not in str(caught.value) and "sk-é" not in str(caught.value)
    assert scripted.requests == []


@pytest.mark.parametrize("bad", ["ftp://example.com/v1", "http:///v1", "http://127.0.0.1:port/v1"])
def test_a_url_that_is_not_http_is_refused(bad: str) -> None:
    with pytest.raises(http1.HTTPError):
        asyncio.run(http1.Client().post(bad, b"{}", JSON, 5))


# ---------------------------------------------------------------------------------------------- answers


def chunked(body: bytes, size: int) -> bytes:
    parts = [b"%x;ext=1\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size]) for i in range(0, len(body), size)]
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"".join(parts) + b"0\r\nX-Trailer: t\r\n\r\n"


def test_a_chunked_answer_is_joined(server: _Server, scripted: Scripted) -> None:
    scripted.script = lambda i, body: ([chunked(b'{"answer": "' + b"x" * 100 + b'"}', 7)], False)
    answers = post_all(url(server), [b"1", b"2"])
    assert [a[1] for a in answers] == [b'{"answer": "' + b"x" * 100 + b'"}'] * 2
    assert scripted.connections == 1  # the connection stays usable after a chunked answer


def test_an_answer_that_ends_with_the_connection(server: _Server, scripted: Scripted) -> None:
    scripted.script = lambda i, body: (
        [b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", b"close-delimited " + body],
        True,
    )
    answers = post_all(url(server), [b"1", b"2"])
    assert [a[1] for a in answers] == [b"close-delimited 1", b"close-delimited 2"]
    assert scripted.connections == 2


def test_connection_close_is_obeyed(server: _Server, scripted: Scripted) -> None:
    scripted.script = lambda i, body: ([ok(body, "Connection: close")], False)  # the server keeps it open anyway
    assert [a[1] for a in post_all(url(server), [b"1", b"2", b"3"])] == [b"1", b"2", b"3"]
    assert scripted.connections == 3


def test_http10_answers_are_not_kept_alive(server: _Server, scripted: Scripted) -> None:
    scripted.script = lambda i, body: ([ok(body).replace(b"HTTP/1.1", b"HTTP/1.0", 1)], False)
    assert [a[1] for a in post_all(url(server), [b"1", b"2"])] == [b"1", b"2"]
    assert scripted.connections == 2


def test_interim_answers_are_skipped(server: _Server, scripted: Scripted) -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    scripted.script = lambda i, body: ([interim, ok(body)], False)
    assert post(url(server), b"{}")[:2] == (200, b"{}")


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("gzip", lambda b: gzip.compress(b[:10]) + gzip.compress(b[10:])),  # two members
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, no zlib wrapper
    ],
)
def test_compressed_answers_are_decoded(
    server: _Server, scripted: Scripted, encoding: str, encode: Callable[[bytes], bytes]
) -> None:
    scripted.script = lambda i, body: (
        [ok(encode(b'{"a": "' + b"y" * 500 + b'"}'), f"Content-Encoding: {encoding}")],
        False,
    )
    assert post(url(server))[1] == b'{"a": "' + b"y" * 500 + b'"}'


@pytest.mark.parametrize(("encoding", "body"), [("br", b"\x8b\x03\x80{}\x03"), ("gzip", b"not gzip")])
def test_an_answer_that_cannot_be_decoded_is_an_error(
    server: _Server, scripted: Scripted, encoding: str, body: bytes
) -> None:
    scripted.script = lambda i, _: ([ok(body, f"Content-Encoding: {encoding}")], False)
    with pytest.raises(http1.HTTPError, match=encoding):
        post(url(server))


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (ok(b"x" * 5000), "larger than"),
        (chunked(b"y" * 5000, 700), "larger than"),
        (ok(gzip.compress(b"0" * 200_000), "Content-Encoding: gzip"), "once decompressed"),
    ],
)
def test_an_answer_past_the_size_limit_is_an_error(
    server: _Server, scripted: Scripted, answer: bytes, message: str
) -> None:
    """A runaway answer (or a small one that decompresses to a huge one) is refused, not read into memory."""
    scripted.script = lambda i, _: ([answer], False)

    async def run() -> None:
        with pytest.raises(http1.HTTPError, match=message):
            await http1.Client(max_answer=4096).post(url(server), b"{}", JSON, 5)

    asyncio.run(run())


def test_error_statuses_come_back_with_their_headers(server: _Server, scripted: Scripted) -> None:
    answer = b'{"error": "slow down"}'
    scripted.script = lambda i, _: (
        [b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer)],
        False,
    )
    status, body, headers = post(url(server))
    assert (status, body, headers["retry-after"]) == (429, answer, "3")


# ---------------------------------------------------------------------------------------------- failures


def test_a_connection_the_server_closed_while_idle_is_not_used(server: _Server, scripted: Scripted) -> None:
    scripted.script = lambda i, body: ([ok(body)], True)  # answers with keep-alive, then closes anyway

    async def run() -> list[bytes]:
        client = http1.Client()
        answers = []
        for body in (b"1", b"2", b"3"):
            answers.append((await client.post(url(server), body, JSON, 5))[1])
            await asyncio.sleep(0.05)  # the close reaches the client while the connection is idle
        return answers

    assert asyncio.run(run()) == [b"1", b"2", b"3"]
    assert scripted.connections == 3


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        ([], "closed the connection before answering"),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"], "in the middle of its answer"),
        ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"], "in the middle of its answer"),
        ([b"SSH-2.0-OpenSSH_9.2\r\n"], "not valid HTTP/1.1"),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"], "not valid HTTP/1.1"),
    ],
)
def test_a_broken_answer_is_an_http_error(
    server: _Server, scripted: Scripted, segments: list[bytes], message: str
) -> None:
    scripted.script = lambda i, _: (list(segments), True)
    with pytest.raises(http1.HTTPError, match=message):
        post(url(server))


def test_a_refused_connection_is_an_os_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(OSError):
            post(f"http://127.0.0.1:{port}/v1")


def test_the_time_limit_covers_the_whole_call_and_closes_the_connection(server: _Server, scripted: Scripted) -> None:
    scripted.script = lambda i, body: ([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345", None], False)
    scripted.pause = 0.0
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        post(url(server), timeout=0.3)
    assert 0.25 < time.monotonic() - started < 1.5
    deadline = time.monotonic() + 2
    while scripted.closed_by_client < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert scripted.closed_by_client == 1  # the half-read connection was closed, not kept


def test_a_cancelled_call_never_hands_its_late_answer_to_the_next(server: _Server, scripted: Scripted) -> None:
    scripted.script = lambda i, body: ([b"", ok(body)], False)
    scripted.pause = 0.3  # the answer comes 0.3 s late

    async def run() -> bytes:
        client = http1.Client()
        first = asyncio.ensure_future(client.post(url(server), b"first", JSON, 5))
        await asyncio.sleep(0.1)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        scripted.pause = 0.0
        return (await client.post(url(server), b"second", JSON, 5))[1]

    assert asyncio.run(run()) == b"second"
    assert scripted.connections == 2


def test_bytes_after_an_answer_never_reach_the_next_call(server: _Server, scripted: Scripted) -> None:
    """A server that answers twice (a whole second answer, or the start of one) has the connection closed: the
    next call gets its own answer on a new connection, never the stray one."""
    stray = [ok(b"stray"), b'HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{"stale":']
    scripted.script = lambda i, body: ([ok(body) + stray[i % 2]], False)
    assert [a[1] for a in post_all(url(server), [b"1", b"2", b"3"])] == [b"1", b"2", b"3"]
    assert scripted.connections == 3


def test_a_server_closing_after_each_answer_is_met_with_a_new_connection() -> None:
    """The close comes right behind the answer, before the loop has read it: the next call, made at once, must not
    be sent on that connection (it would fail as a connection error)."""

    async def run() -> tuple[list[bytes], int]:
        opened = 0

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal opened
            opened += 1
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            writer.write(ok(await reader.readexactly(length)))  # no `Connection: close`, and then it closes
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        target = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
        client = http1.Client()
        bodies = [(await client.post(target, b"%d" % i, JSON, 5))[1] for i in range(6)]
        server.close()
        return bodies, opened

    assert asyncio.run(run()) == ([b"%d" % i for i in range(6)], 6)


def test_connections_are_reused_in_a_process_with_many_files_open(server: _Server, scripted: Scripted) -> None:
    """An application server may hold more than 1,024 descriptors: the check of an idle connection must still
    work there (`select` refuses such descriptors; a refused check would open a new connection per call)."""
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip("the descriptor limit is too low here")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        assert [a[1] for a in post_all(url(server), [b"1", b"2", b"3"])] == [b"1", b"2", b"3"]
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert scripted.connections == 1


def test_a_server_that_accepts_and_closes_fails_each_call_at_once() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)

        def serve() -> None:
            with contextlib.suppress(OSError):
                while True:
                    listener.accept()[0].close()

        threading.Thread(target=serve, daemon=True).start()
        target = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"

        async def run() -> list[float]:
            client, took = http1.Client(), []
            for _ in range(5):
                started = time.monotonic()
                with pytest.raises(OSError):
                    await client.post(target, b"{}", JSON, 3.0)
                took.append(time.monotonic() - started)
            return took

        assert max(asyncio.run(run())) < 1.5  # never the 3 s time limit


def test_an_upgrade_answer_is_an_http_error(server: _Server, scripted: Scripted) -> None:
    upgrade = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    scripted.script = lambda i, _: ([upgrade, None], False)
    started = time.monotonic()
    with pytest.raises(http1.HTTPError, match="switched protocols"):
        post(url(server), timeout=3)
    assert time.monotonic() - started < 1.5


def test_a_reset_in_the_middle_of_an_answer_without_length_is_an_error(server: _Server, scripted: Scripted) -> None:
    scripted.script = lambda i, _: ([b'HTTP/1.1 200 OK\r\n\r\n{"choices": [{"message"', RESET], False)
    with pytest.raises(http1.HTTPError, match="in the middle of its answer"):
        post(url(server))


def test_closing_the_client_closes_the_connections_of_calls_in_flight(server: _Server, scripted: Scripted) -> None:
    scripted.script = lambda i, body: ([b"", ok(body)], False)
    scripted.pause = 0.5

    async def run() -> None:
        client = http1.Client()
        call = asyncio.ensure_future(client.post(url(server), b"late", JSON, 5))
        await asyncio.sleep(0.1)
        await client.aclose()
        started = time.monotonic()
        with pytest.raises(http1.HTTPError, match="closed the connection"):
            await call
        assert time.monotonic() - started < 0.3  # not the server's late answer

    asyncio.run(run())  # the call in flight fails at once, rather than ending on a pool nobody closes


@pytest.mark.parametrize(
    ("bad", "secret"),
    [("http://[::1/v1", None), ("http://[sk-SECRET-1234]/v1", "sk-SECRET-1234"), ("http://a..b/v1", None)],
)
def test_a_url_that_cannot_be_read_is_an_http_error_that_does_not_repeat_it(bad: str, secret: str | None) -> None:
    # An OSError either way (Python 3.10 takes the bracketed name for a host, which then does not resolve).
    with pytest.raises(OSError) as caught:
        asyncio.run(http1.Client().post(bad, b"{}", JSON, 5))
    assert secret is None or secret not in str(caught.value)


def test_a_path_is_percent_encoded(server: _Server, scripted: Scripted) -> None:
    post(url(server, "/v1 beta/ch\u00e2t%2F/completions?api-version=2024 06"))
    assert scripted.requests[0].split(b"\r\n")[0] == (
        b"POST /v1%20beta/ch%C3%A2t%2F/completions?api-version=2024%2006 HTTP/1.1"
    )


def test_an_empty_answer_said_to_be_compressed_keeps_its_status(server: _Server, scripted: Scripted) -> None:
    scripted.script = lambda i, _: (
        [b"HTTP/1.1 429 Too Many Requests\r\nContent-Encoding: gzip\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n"],
        False,
    )
    assert post(url(server))[:2] == (429, b"")


# ---------------------------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_https_is_verified_against_the_given_context(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    srv = _Server(Scripted(), tls=context)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        target = f"https://localhost:{srv.server_address[1]}/v1/chat/completions"
        trusted = asyncio.run(
            http1.Client(tls=lambda: ssl.create_default_context(cafile=str(cert))).post(target, b"{}", JSON, 5)
        )
        assert trusted[:2] == (200, b"{}")
        with pytest.raises(ssl.SSLCertVerificationError):  # the system's CAs do not know this certificate
            asyncio.run(http1.Client().post(target, b"{}", JSON, 5))
    finally:
        srv.shutdown()
        srv.server_close()


# ---------------------------------------------------------------------------------------------- properties


def framed(body: bytes, framing: str, size: int) -> tuple[bytes, bool]:
    if framing == "length":
        return ok(body), False
    if framing == "chunked":
        return chunked(body, size), False
    return b"HTTP/1.1 200 OK\r\n\r\n" + body, True  # ends with the connection


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=3000),
    framing=st.sampled_from(["length", "chunked", "close"]),
    size=st.integers(1, 700),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
)
def test_any_framing_and_any_split_give_back_the_body(
    server: _Server, body: bytes, framing: str, size: int, cuts: list[int]
) -> None:
    answer, close = framed(body, framing, size)
    server.state = Scripted(script=lambda i, _: (split(answer, cuts), close), pause=0.001)
    assert post(url(server))[:2] == (200, body)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.one_of(st.binary(max_size=300), st.builds(lambda b: b"HTTP/1.1 " + b, st.binary(max_size=300))))
def test_any_bytes_from_the_server_give_an_answer_or_an_os_error(server: _Server, garbage: bytes) -> None:
    server.state = Scripted(script=lambda i, _: ([garbage], True))
    try:
        status, body, headers = post(url(server), timeout=2)
    except (OSError, TimeoutError):
        return  # HTTPError is an OSError: the route reports it as a connection failure
    assert isinstance(status, int) and isinstance(body, bytes) and isinstance(headers, dict)
