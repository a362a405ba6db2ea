"""Provider fault mixes: a huge Retry-After fails the task at once with a clear error instead of holding the
run for an hour, a wait within the cap is announced, and no mix of faults makes eval exit 4 or hang."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from eval_fixtures import project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from provider_server import FailFirst, FaultRate, ProviderServer

pytestmark = pytest.mark.usefixtures("api_key")
Cli = Callable[..., tuple[int, str, str]]


def test_a_retry_after_past_the_cap_fails_the_task_at_once(
    cli: Cli, make_repo: Callable[..., Path], server: ProviderServer
) -> None:
    server.configure(faults="429", retry_after=3600)
    root = make_repo(project(server.base_url, {"a": "yes a"}))
    started = time.monotonic()
    code, out, err = cli("eval", "--repo", root, "--no-cache")
    assert code == 3, out + err
    assert time.monotonic() - started < 30
    assert "asked to wait 3600 s" in err and "60 s" in err
    assert server.requests_received == 1


def test_the_cap_is_configurable_in_promptops_yaml(
    cli: Cli, make_repo: Callable[..., Path], server: ProviderServer
) -> None:
    server.configure(faults=FailFirst(1, "429"), retry_after=2)
    files = project(server.base_url, {"a": "yes a"})
    files["promptops.yaml"] = "project: evaltest\neval:\n  max_retry_wait: 1\n"
    root = make_repo(files)
    code, out, err = cli("eval", "--repo", root, "--no-cache")
    assert code == 3 and "asked to wait 2 s" in err and "more than the 1 s" in err, out + err
    files["promptops.yaml"] = "project: evaltest\neval:\n  max_retry_wait: 10\n"
    root = make_repo(files)
    server.reset()
    code, out, err = cli("eval", "--repo", root, "--no-cache")
    assert code == 0, out + err


def test_a_long_wait_within_the_cap_is_announced(
    cli: Cli, make_repo: Callable[..., Path], server: ProviderServer
) -> None:
    server.configure(faults=FailFirst(1, "429"), retry_after=5)
    root = make_repo(project(server.base_url, {"a": "yes a"}))
    code, out, err = cli("eval", "--repo", root, "--no-cache")
    assert code == 0, out + err
    assert "main: rate limit; waiting 5 s before retrying" in err


MIXES = st.dictionaries(st.sampled_from(["429", "500", "503", "malformed", "drop"]), st.floats(0.1, 1.0), min_size=1)


@settings(max_examples=6, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(mix=MIXES, p=st.floats(0.0, 1.0), retry_after=st.sampled_from([0.01, 0.05, 7200.0]), seed=st.integers(0, 99))
def test_no_fault_mix_makes_eval_exit_4_or_hang(
    make_repo: Callable[..., Path],
    cli: Cli,
    server: ProviderServer,
    mix: dict[str, float],
    p: float,
    retry_after: float,
    seed: int,
) -> None:
    server.reset()
    server.configure(faults=FaultRate(p, mix, seed), retry_after=retry_after)
    root = make_repo(project(server.base_url, {"a": "yes a", "b": "yes b", "c": "no"}, threshold=0.5, retries=2))
    started = time.monotonic()
    code, out, err = cli("eval", "--repo", root, "--no-cache")
    assert code in (0, 1, 3), out + err
    assert "internal error" not in err and "Traceback" not in out + err
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(
    "answer", ['{"score": NaN, "reason": "x"}', '{"score": "nan"}', '{"score": Infinity}', '{"score": 1e999}']
)
def test_a_judge_answering_a_non_finite_score_never_passes(
    cli: Cli, make_repo: Callable[..., Path], server: ProviderServer, answer: str
) -> None:
    from eval_fixtures import suite

    def responder(messages: list[dict[str, str]], request: dict[str, object]) -> str:
        grading = any("Rubric:" in str(m.get("content", "")) for m in messages)
        return answer if grading else "a polite answer"

    server.configure(responder=responder)
    files = project(server.base_url, {"a": "yes"})
    files["evals/answer.yaml"] = suite({"a": "yes"}).replace(
        "      - {type: contains, value: yes}", "      - {type: llm-rubric, value: polite}"
    )
    code, out, err = cli("eval", "--repo", make_repo(files), "--no-cache")
    assert code in (2, 3), out + err  # an error, never a pass (nor a fail the output did not earn)
    assert "did not answer with the JSON object it was asked for" in out + err and "`judge:`" in out + err


class _Fixed(http.server.BaseHTTPRequestHandler):
    """Answers every POST with the class's `body` (status 200), whatever was asked."""

    body = b""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


ODD_ANSWERS = {
    "infinite tokens": '{"choices": [{"message": {"content": "yes"}}], "usage": {"prompt_tokens": Infinity}}',
    "content a number": '{"choices": [{"message": {"content": 12}}]}',
}


@pytest.mark.parametrize("body", list(ODD_ANSWERS.values()), ids=list(ODD_ANSWERS))
def test_an_odd_provider_answer_is_a_provider_error(cli: Cli, make_repo: Callable[..., Path], body: str) -> None:
    handler = type("Handler", (_Fixed,), {"body": body.encode()})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        root = make_repo(project(f"http://127.0.0.1:{httpd.server_address[1]}/v1", {"a": "yes"}, retries=0))
        code, out, err = cli("eval", "--repo", root, "--no-cache")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert code == 3, out + err
    assert "unreadable answer" in err and "internal error" not in err
