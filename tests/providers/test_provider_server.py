"""Tests for the deterministic OpenAI-compatible test server in ``tests/provider_server.py``."""

from __future__ import annotations

import gc
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # before litellm is imported: no cost-map fetch

try:  # tests/ has no __init__.py: pytest puts tests/ itself on sys.path
    from provider_server import (
        CREATED,
        FAULTS,
        FailFirst,
        FaultRate,
        ProviderServer,
        collector_paused,
        default_answer,
    )
except ImportError:  # pragma: no cover - if tests/ ever becomes a package
    from tests.provider_server import (  # type: ignore[no-redef,import-not-found,unused-ignore]
        CREATED,
        FAULTS,
        FailFirst,
        FaultRate,
        ProviderServer,
        collector_paused,
        default_answer,
    )

SERVER_SCRIPT = Path(__file__).resolve().parent.parent / "provider_server.py"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


# --------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to reach a host other than the local loopback."""
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address[0] not in LOOPBACK:
            raise AssertionError(f"network access outside 127.0.0.1 attempted: {address!r}")
        real_connect(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and str(host) not in LOOPBACK:
            raise AssertionError(f"name resolution outside 127.0.0.1 attempted: {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)


@pytest.fixture
def srv() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        yield server


def chat_body(content: str, **extra: Any) -> dict[str, Any]:
    return {"model": "test-model", "messages": [{"role": "user", "content": content}], **extra}


def post(
    server: ProviderServer,
    body: dict[str, Any] | bytes,
    *,
    path: str = "/v1/chat/completions",
    timeout: float = 5.0,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One POST on a fresh connection; returns (status, lower-cased headers, raw body)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json", "Authorization": "Bearer sk-test-0000"}
        all_headers.update(headers or {})
        conn.request("POST", path, body=data, headers=all_headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def answer_of(raw: bytes) -> str:
    content = json.loads(raw)["choices"][0]["message"]["content"]
    assert isinstance(content, str)
    return content


def status_of(server: ProviderServer, body: dict[str, Any]) -> int | str:
    """The HTTP status, or the name of the connection-level failure."""
    try:
        return post(server, body, timeout=2.0)[0]
    except http.client.RemoteDisconnected:
        return "drop"


# --------------------------------------------------------------------------- answers


def test_basic_completion_shape_over_urllib(srv: ProviderServer) -> None:
    body = {
        "model": "gpt-whatever",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "hello there"},
        ],
    }
    req = urllib.request.Request(
        srv.base_url + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer sk-test-0000"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json"
        payload = json.loads(resp.read())
    assert srv.base_url == f"http://127.0.0.1:{srv.port}/v1"
    assert payload["object"] == "chat.completion"
    assert payload["id"].startswith("chatcmpl-")
    assert payload["created"] == CREATED
    assert payload["model"] == "gpt-whatever"
    choice = payload["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "echo: hello there"}
    assert choice["finish_reason"] == "stop"
    # prompt: "You are terse." (3 words) + "hello there" (2); completion: "echo: hello there" (3)
    assert payload["usage"] == {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}

    # Deterministic: the same request gives the same response, byte for byte.
    first = post(srv, body)[2]
    assert post(srv, body)[2] == first


@pytest.mark.parametrize(
    ("request_body", "expected"),
    [
        (chat_body("plain text"), "echo: plain text"),
        (chat_body("intro\nREPLY:   exact answer here  \nmore"), "exact answer here"),
        (chat_body("x\nREPLY: first\nREPLY: second"), "first"),
        (chat_body("q", response_format={"type": "json_object"}), '{"echo": "q"}'),
        (chat_body("q", response_format={"type": "json_schema", "json_schema": {}}), '{"echo": "q"}'),
        (chat_body('REPLY: {"ok": true}', response_format={"type": "json_object"}), '{"ok": true}'),
        (chat_body("q", response_format={"type": "text"}), "echo: q"),
        (
            {
                "model": "m",
                "messages": [
                    {"role": "user", "content": "earlier"},
                    {"role": "assistant", "content": "REPLY: not me"},
                    {
                        "role": "user",
                        "content": [{"type": "text", "text": "part one"}, {"type": "text", "text": "two"}],
                    },
                ],
            },
            "echo: part one\ntwo",
        ),
        ({"model": "m", "messages": [{"role": "system", "content": "only system"}]}, "echo: "),
    ],
)
def test_answer_rules(srv: ProviderServer, request_body: dict[str, Any], expected: str) -> None:
    assert default_answer(request_body) == expected
    status, _, raw = post(srv, request_body)
    assert status == 200
    assert answer_of(raw) == expected


def test_responder_overrides_everything(srv: ProviderServer) -> None:
    seen: list[tuple[list[dict[str, Any]], dict[str, Any]]] = []

    def responder(messages: list[dict[str, Any]], request: dict[str, Any]) -> str:
        seen.append((messages, request))
        return f"{len(messages)} message(s) for {request['model']}"

    srv.responder = responder
    status, _, raw = post(srv, chat_body("REPLY: ignored", response_format={"type": "json_object"}))
    assert status == 200
    assert answer_of(raw) == "1 message(s) for test-model"
    assert seen[0][0] == [{"role": "user", "content": "REPLY: ignored"}]

    def broken(messages: list[dict[str, Any]], request: dict[str, Any]) -> str:
        raise RuntimeError("boom")

    srv.responder = broken
    status, _, raw = post(srv, chat_body("x"))
    assert status == 500
    assert "boom" in json.loads(raw)["error"]["message"]
    assert len(srv.errors) == 1 and "boom" in srv.errors[0]

    srv.responder = None
    assert answer_of(post(srv, chat_body("x"))[2]) == "echo: x"


def test_models_routes_and_errors(srv: ProviderServer) -> None:
    with urllib.request.urlopen(srv.base_url + "/models", timeout=5) as resp:
        models = json.loads(resp.read())
    assert models["object"] == "list"
    assert [m["id"] for m in models["data"]] == ["test-model"]
    assert srv.models_requests == 1

    status, _, raw = post(srv, chat_body("no v1"), path="/chat/completions")
    assert (status, answer_of(raw)) == (200, "echo: no v1")
    assert post(srv, chat_body("x"), path="/v1/embeddings")[0] == 404
    assert post(srv, b"{not json")[0] == 400
    assert srv.rejected == 2

    srv.api_key = "sk-right"
    assert post(srv, chat_body("x"), headers={"Authorization": "Bearer sk-wrong"})[0] == 401
    assert post(srv, chat_body("x"), headers={"Authorization": "Bearer sk-right"})[0] == 200


def test_keep_alive_reuses_one_connection(srv: ProviderServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        answers = []
        for i in range(3):
            conn.request("POST", "/v1/chat/completions", body=json.dumps(chat_body(f"n{i}")))
            resp = conn.getresponse()
            assert resp.version == 11
            answers.append(answer_of(resp.read()))
        # Error statuses keep the connection alive too.
        srv.faults = "503"
        conn.request("POST", "/v1/chat/completions", body=json.dumps(chat_body("e")))
        resp = conn.getresponse()
        assert resp.status == 503
        resp.read()
    finally:
        conn.close()
    assert answers == ["echo: n0", "echo: n1", "echo: n2"]
    assert srv.connections_opened == 1
    assert srv.requests_received == 4


# --------------------------------------------------------------------------- through litellm


def test_through_litellm(srv: ProviderServer) -> None:
    import litellm

    response = litellm.completion(
        model="openai/test-model",
        api_base=srv.base_url,
        api_key="sk-test-0000",
        messages=[{"role": "user", "content": "Say something.\nREPLY: deterministic hello"}],
    )
    assert response.choices[0].message.content == "deterministic hello"
    assert response.usage.completion_tokens == 2
    assert response.model.endswith("test-model")

    json_response = litellm.completion(
        model="openai/test-model",
        api_base=srv.base_url,
        api_key="sk-test-0000",
        messages=[{"role": "user", "content": "as json"}],
        response_format={"type": "json_object"},
    )
    assert json.loads(json_response.choices[0].message.content) == {"echo": "as json"}

    chunks = litellm.completion(
        model="openai/test-model",
        api_base=srv.base_url,
        api_key="sk-test-0000",
        messages=[{"role": "user", "content": "streamed"}],
        stream=True,
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "echo: streamed"

    # The key reached the server, in the Authorization header only: not in any request body.
    assert srv.auth_headers == ["Bearer sk-test-0000"] * 3
    assert all("sk-test-0000" not in json.dumps(b) for b in srv.request_bodies)
    assert [b["model"] for b in srv.request_bodies] == ["test-model"] * 3
    assert srv.requests_succeeded == 3


def test_litellm_retries_until_first_k_faults_are_exhausted(srv: ProviderServer) -> None:
    import litellm

    srv.configure(faults=FailFirst(2, "429"), retry_after=0.01)
    response = litellm.completion(
        model="openai/test-model",
        api_base=srv.base_url,
        api_key="sk-test-0000",
        messages=[{"role": "user", "content": "REPLY: eventually"}],
        num_retries=3,
    )
    assert response.choices[0].message.content == "eventually"
    assert srv.fault_counts["429"] == 2
    assert srv.requests_succeeded == 1

    srv.faults = "500"
    with pytest.raises(litellm.exceptions.InternalServerError):
        litellm.completion(
            model="openai/test-model",
            api_base=srv.base_url,
            api_key="sk-test-0000",
            messages=[{"role": "user", "content": "always fails"}],
            max_retries=0,
        )

    srv.faults = "drop"
    # litellm maps the openai client's APIConnectionError to one of these, depending on version.
    with pytest.raises((litellm.exceptions.APIConnectionError, litellm.exceptions.InternalServerError)) as info:
        litellm.completion(
            model="openai/test-model",
            api_base=srv.base_url,
            api_key="sk-test-0000",
            messages=[{"role": "user", "content": "dropped"}],
            max_retries=0,
        )
    assert "connection" in str(info.value).lower()


# --------------------------------------------------------------------------- concurrency


@pytest.mark.parametrize("precise", [False, True], ids=["epoll", "select"])
@pytest.mark.parametrize(("n", "latency"), [(20, 0.2), (60, 0.1)])
def test_concurrent_requests_are_not_serialised(n: int, latency: float, precise: bool) -> None:
    with ProviderServer(latency=latency, precise=precise) as server:

        def one(i: int) -> str:
            status, _, raw = post(server, chat_body(f"req {i}"))
            assert status == 200
            return answer_of(raw)

        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=n) as pool:
            answers = list(pool.map(one, range(n)))
        elapsed = time.monotonic() - start
    assert answers == [f"echo: req {i}" for i in range(n)]
    assert elapsed >= latency
    assert elapsed < 2.0, f"{n} requests at {latency}s took {elapsed:.2f}s: serialised?"


def test_a_precise_server_waits_its_latency_never_less() -> None:
    with ProviderServer(latency=0.0173, precise=True) as server:
        for i in range(20):
            start = time.perf_counter()
            status, _, raw = post(server, chat_body(f"on time {i}"))
            assert status == 200 and answer_of(raw) == f"echo: on time {i}"
            assert time.perf_counter() - start >= 0.0173


def test_latency_can_change_at_run_time(srv: ProviderServer) -> None:
    srv.latency = 0.3
    start = time.monotonic()
    assert post(srv, chat_body("slow"))[0] == 200
    assert time.monotonic() - start >= 0.3
    srv.configure(latency=0.0)
    start = time.monotonic()
    assert post(srv, chat_body("fast"))[0] == 200
    assert time.monotonic() - start < 0.25


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_faults(srv: ProviderServer, status: int) -> None:
    srv.faults = str(status)
    got, headers, raw = post(srv, chat_body("x"))
    assert got == status
    assert headers["content-type"] == "application/json"
    assert json.loads(raw)["error"]["code"] == str(status)
    assert srv.fault_counts[str(status)] == 1
    assert srv.requests_succeeded == 0


def test_429_sends_retry_after(srv: ProviderServer) -> None:
    srv.faults = "429"
    status, headers, raw = post(srv, chat_body("x"))
    assert status == 429
    assert headers["retry-after"] == "0.05"
    assert headers["retry-after-ms"] == "50"
    assert json.loads(raw)["error"]["type"] == "rate_limit_error"
    srv.retry_after = 2
    assert post(srv, chat_body("x"))[1]["retry-after"] == "2"


def test_malformed_body(srv: ProviderServer) -> None:
    srv.faults = "malformed"
    status, headers, raw = post(srv, chat_body("x"))
    assert status == 200
    assert headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    assert srv.fault_counts["malformed"] == 1
    assert srv.requests_succeeded == 0


def test_drop_closes_without_response(srv: ProviderServer) -> None:
    srv.faults = "drop"
    with pytest.raises(ConnectionError):  # http.client.RemoteDisconnected
        post(srv, chat_body("x"))
    with pytest.raises((ConnectionError, urllib.error.URLError)):  # urllib lets RemoteDisconnected through
        urllib.request.urlopen(
            urllib.request.Request(srv.base_url + "/chat/completions", data=json.dumps(chat_body("y")).encode()),
            timeout=5,
        )
    assert srv.fault_counts["drop"] == 2


def test_timeout_hangs_longer_than_the_client_waits(srv: ProviderServer) -> None:
    srv.configure(faults="timeout", hang=1.0)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        post(srv, chat_body("x"), timeout=0.2)
    assert 0.2 <= time.monotonic() - start < 0.9
    # A patient client sees the connection closed, with no response, after `hang` seconds.
    srv.hang = 0.3
    start = time.monotonic()
    with pytest.raises(ConnectionError):
        post(srv, chat_body("x"), timeout=5)
    assert time.monotonic() - start >= 0.3
    assert srv.fault_counts["timeout"] == 2


def test_fault_marker_in_last_user_message(srv: ProviderServer) -> None:
    assert status_of(srv, chat_body("hello\nFAULT: 503")) == 503
    assert status_of(srv, chat_body("FAULT: drop")) == "drop"
    assert status_of(srv, chat_body("FAULT: nonsense")) == 400
    srv.faults = FailFirst(5, "500")  # the marker wins over the policy
    assert status_of(srv, chat_body("FAULT: 429")) == 429
    assert srv.fault_counts == {**dict.fromkeys(FAULTS, 0), "503": 1, "drop": 1, "429": 1}


def test_schedule_by_request_index(srv: ProviderServer) -> None:
    calls: list[int] = []

    def schedule(index: int, request: dict[str, Any]) -> str | None:
        calls.append(index)
        return {0: "500", 2: "429", 3: "drop"}.get(index)

    srv.faults = schedule
    statuses = [status_of(srv, chat_body("same")) for _ in range(5)]
    assert statuses == [500, 200, 429, "drop", 200]
    assert calls == [0, 1, 2, 3, 4]

    srv.faults = lambda index, request: "bogus"
    assert status_of(srv, chat_body("x")) == 500
    assert "bogus" in srv.errors[-1]


def test_fail_first_k_attempts_of_each_distinct_body(srv: ProviderServer) -> None:
    srv.faults = FailFirst(2, "503")
    a, b = chat_body("a"), chat_body("b")
    assert [status_of(srv, a) for _ in range(2)] == [503, 503]
    assert status_of(srv, b) == 503  # b has its own count
    assert status_of(srv, a) == 200
    # Same JSON with another key order is the same body.
    a_reordered = {"messages": a["messages"], "model": a["model"]}
    assert status_of(srv, a_reordered) == 200
    assert [status_of(srv, b) for _ in range(2)] == [503, 200]
    assert srv.fault_counts["503"] == 4
    assert srv.requests_succeeded == 3

    with pytest.raises(ValueError, match="unknown fault"):
        FailFirst(1, "418")


def test_fault_rate_is_seeded_and_order_independent() -> None:
    bodies = [chat_body(f"case {i}") for i in range(40)]
    policy = FaultRate(0.5, {"500": 1, "429": 1, "malformed": 1}, seed=7)

    def outcomes(order: list[int], rate: FaultRate) -> dict[int, int]:
        with ProviderServer(faults=rate, retry_after=0) as server:
            return {i: post(server, bodies[i])[0] for i in order}

    forward = outcomes(list(range(40)), policy)
    backward = outcomes(list(reversed(range(40))), policy)
    assert forward == backward
    failures = [s for s in forward.values() if s != 200]
    assert 8 <= len(failures) <= 32
    assert {429, 500} <= set(forward.values())
    assert outcomes(list(range(40)), FaultRate(0.5, {"500": 1, "429": 1, "malformed": 1}, seed=8)) != forward

    # Retries of a failed body get fresh draws, so retrying eventually succeeds.
    with ProviderServer(faults=FaultRate(0.5, ["503"], seed=1)) as server:
        for body in bodies[:10]:
            assert any(post(server, body)[0] == 200 for _ in range(30))

    assert [FaultRate(0.0).decide("k", n) for n in range(20)] == [None] * 20
    assert [FaultRate(1.0, ["drop"]).decide("k", n) for n in range(5)] == ["drop"] * 5


def test_combined_policies_first_fault_wins(srv: ProviderServer) -> None:
    srv.faults = [FailFirst(1, "429"), lambda index, request: "500" if index == 1 else None]
    assert [status_of(srv, chat_body("z")) for _ in range(3)] == [429, 500, 200]
    with pytest.raises(ValueError):
        srv.faults = ["500", "teapot"]
    with pytest.raises(TypeError):
        srv.faults = 3.5  # type: ignore[assignment]


# --------------------------------------------------------------------------- accounting


def test_counters_and_reset(srv: ProviderServer) -> None:
    srv.faults = FailFirst(1, "500")
    post(srv, chat_body("one"))
    post(srv, chat_body("one"))
    post(srv, chat_body("two"), headers={"Authorization": "Bearer sk-other"})
    post(srv, b"[]")
    assert srv.stats() == {
        "requests_received": 4,
        "requests_succeeded": 1,
        "rejected": 1,
        "models_requests": 0,
        "connections_opened": 4,
        "fault_counts": {**dict.fromkeys(FAULTS, 0), "500": 2},
        "errors": 0,
    }
    assert [b["messages"][0]["content"] for b in srv.request_bodies] == ["one", "one", "two"]
    assert srv.auth_headers == [
        "Bearer sk-test-0000",
        "Bearer sk-test-0000",
        "Bearer sk-other",
        "Bearer sk-test-0000",
    ]

    srv.reset()
    assert srv.requests_received == srv.requests_succeeded == srv.rejected == srv.connections_opened == 0
    assert srv.fault_counts == dict.fromkeys(FAULTS, 0)
    assert srv.request_bodies == [] and srv.auth_headers == [] and srv.errors == []
    # Attempt counts were cleared too: "one" fails once more.
    assert status_of(srv, chat_body("one")) == 500
    assert status_of(srv, chat_body("one")) == 200


# --------------------------------------------------------------------------- lifecycle


def test_stop_is_fast_and_leaves_no_threads() -> None:
    server = ProviderServer(faults="timeout", hang=30).start()
    idle = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    idle.request("GET", "/v1/models")
    assert idle.getresponse().read()  # an idle keep-alive connection stays open

    hung_result: list[BaseException] = []

    def hung_client() -> None:
        try:
            post(server, chat_body("hang"), timeout=10)
        except BaseException as exc:
            hung_result.append(exc)

    client = threading.Thread(target=hung_client, daemon=True)
    client.start()
    deadline = time.monotonic() + 2
    while server.fault_counts["timeout"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    server_threads = [t for t in threading.enumerate() if t.name.startswith("provider-server")]
    assert len(server_threads) == 1  # one event loop serves the idle connection and the hung one
    assert server.stats()["connections_opened"] == 2

    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 1.2
    assert not server.running
    assert not [t for t in server_threads if t.is_alive()]
    client.join(2)
    assert hung_result and isinstance(hung_result[0], ConnectionError)
    idle.close()
    server.stop()  # idempotent


def test_runs_as_a_script() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), "--port", "0", "--latency", "0.01", "--fail-first", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        req: Callable[[], urllib.request.Request] = lambda: urllib.request.Request(  # noqa: E731
            base_url + "/chat/completions", data=json.dumps(chat_body("REPLY: from script")).encode()
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req(), timeout=5)
        assert info.value.code == 500
        info.value.close()
        with urllib.request.urlopen(req(), timeout=5) as resp:
            assert answer_of(resp.read()) == "from script"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=5)
        assert proc.returncode == 0
        assert json.loads(err.strip().splitlines()[-1])["requests_succeeded"] == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_server_can_refuse_the_json_schema_form(srv: ProviderServer) -> None:
    schema_form = {"type": "json_schema", "json_schema": {"name": "o", "schema": {"type": "object"}}}
    assert post(srv, chat_body("hi", response_format=schema_form))[0] == 200  # accepted by default
    srv.configure(refuse_json_schema=500)
    status, _, raw = post(srv, chat_body("hi", response_format=schema_form))
    assert status == 500 and "response_format" in json.loads(raw)["error"]["message"]
    status, _, raw = post(srv, chat_body("hi", response_format={"type": "json_object"}))
    assert status == 200 and json.loads(answer_of(raw)) == {"echo": "hi"}
    assert srv.rejected == 1


# --------------------------------------------------------------------------- HTTP framing


def _raw_exchange(server: ProviderServer, data: bytes, answers: int = 1, timeout: float = 5.0) -> list[bytes]:
    """Send raw bytes on one connection and read `answers` whole answers (by Content-Length)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(data)
        got, buffer = [], b""
        while len(got) < answers:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end >= 0:
                head = buffer[:head_end].decode("latin-1")
                length = next(
                    (
                        int(line.split(":", 1)[1])
                        for line in head.split("\r\n")
                        if line.lower().startswith("content-length")
                    ),
                    0,
                )
                if len(buffer) >= head_end + 4 + length:
                    got.append(buffer[: head_end + 4 + length])
                    buffer = buffer[head_end + 4 + length :]
                    continue
            chunk = sock.recv(65536)
            if not chunk:
                break
            buffer += chunk
        return got


def _post_bytes(body: bytes, *extra: str) -> bytes:
    head = ["POST /v1/chat/completions HTTP/1.1", "Host: x", "Content-Type: application/json", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def test_a_chunked_request_body_is_read_whole(srv: ProviderServer) -> None:
    body = json.dumps(chat_body("REPLY: from chunks")).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i : i + 7]), body[i : i + 7]) for i in range(0, len(body), 7))
    answer = _raw_exchange(srv, _post_bytes(chunks + b"0\r\nX-Trailer: t\r\n\r\n", "Transfer-Encoding: chunked"))
    assert answer and answer[0].startswith(b"HTTP/1.1 200 ")
    assert answer_of(answer[0].split(b"\r\n\r\n", 1)[1]) == "from chunks"


def test_requests_sent_back_to_back_are_answered_in_order(srv: ProviderServer) -> None:
    # A client may send its next request before the answer to the last (pipelining): each is answered in turn.
    bodies = [json.dumps(chat_body(f"REPLY: n{i}")).encode() for i in range(3)]
    data = b"".join(_post_bytes(b, f"Content-Length: {len(b)}") for b in bodies)
    answers = _raw_exchange(srv, data, answers=3)
    assert [answer_of(a.split(b"\r\n\r\n", 1)[1]) for a in answers] == ["n0", "n1", "n2"]
    assert srv.connections_opened == 1


def test_expect_100_continue_is_honoured(srv: ProviderServer) -> None:
    body = json.dumps(chat_body("REPLY: after continue")).encode()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        sock.sendall(_post_bytes(b"", f"Content-Length: {len(body)}", "Expect: 100-continue"))
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        reply = b""
        while b"after continue" not in reply:
            chunk = sock.recv(65536)
            assert chunk
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"NONSENSE\r\n\r\n", 400),
        (b"POST /v1/chat/completions HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: many\r\n\r\n", 400),
        (b"DELETE /v1/models HTTP/1.1\r\n\r\n", 501),
        (b"GET /v1/models HTTP/1.1\r\nX: " + b"y" * 70_000, 431),
    ],
)
def test_a_malformed_request_gets_an_error_status(srv: ProviderServer, data: bytes, status: int) -> None:
    answers = _raw_exchange(srv, data)
    assert answers and answers[0].startswith(f"HTTP/1.1 {status} ".encode())
    assert srv.errors == []


def test_an_http_1_0_request_closes_its_connection(srv: ProviderServer) -> None:
    body = json.dumps(chat_body("REPLY: old")).encode()
    data = b"POST /v1/chat/completions HTTP/1.0\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(65536):  # the server closes once it has answered
            reply += chunk
    assert b"Connection: close" in reply and answer_of(reply.split(b"\r\n\r\n", 1)[1]) == "old"


def test_the_collector_pauses_for_a_timed_run_and_comes_back_as_it_was(srv: ProviderServer) -> None:
    enabled = gc.isenabled()
    try:
        for before in (True, False):
            (gc.enable if before else gc.disable)()
            with collector_paused():
                assert not gc.isenabled() and gc.get_freeze_count() > 0
                body = json.dumps(chat_body("REPLY: paused")).encode()
                request = urllib.request.Request(f"{srv.base_url}/chat/completions", body, method="POST")
                with urllib.request.urlopen(request, timeout=5) as reply:
                    assert answer_of(reply.read()) == "paused"  # the server answers meanwhile
            assert gc.isenabled() is before and gc.get_freeze_count() == 0
    finally:
        (gc.enable if enabled else gc.disable)()
