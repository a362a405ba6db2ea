"""The litellm provider, over real HTTP to the local test server, on both of its routes.

`direct` is the route OpenAI-compatible models take (promptops builds the request without litellm, its own
HTTP client carries it; litellm builds it for the OpenAI models whose parameters it remaps); `litellm` is
`litellm.acompletion`, the route every other provider takes. Each behaviour is checked on both.
"""

from __future__ import annotations

import asyncio
import email.utils
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from provider_server import ProviderServer

from promptops.model import Message, ModelSpec, Price
from promptops.providers import Completion, ProviderError, ProviderRequest, failures
from promptops.providers.litellm import LitellmProvider

KEY = "sk-test-0123456789abcdef"
ROUTES = pytest.mark.parametrize("direct", [True, False], ids=["direct", "litellm"])
# litellm's first call builds pydantic schemas that warn about ReadOnly TypedDict items: its noise, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning")


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    with ProviderServer(hang=5.0, retry_after=0.25) as srv:
        yield srv


@pytest.fixture
def srv(server: ProviderServer) -> ProviderServer:
    server.configure(latency=0.0, faults=None, responder=None, retry_after=0.25, hang=5.0, api_key=None)
    server.reset()
    return server


def request(srv: ProviderServer, text: str = "hello there", **kwargs: Any) -> ProviderRequest:
    spec = ModelSpec(name="test", model="openai/test-model", api_base=srv.base_url)
    return ProviderRequest(spec, (Message("system", "Be brief."), Message("user", text)), api_key=KEY, **kwargs)


def complete(req: ProviderRequest, *, direct: bool = True, env: dict[str, str] | None = None) -> Completion:
    return asyncio.run(LitellmProvider(env=env or {}, direct=direct).complete(req))


def failure(req: ProviderRequest, *, direct: bool) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        complete(req, direct=direct)
    error = caught.value
    assert KEY not in f"{error} {error.message} {error.hint} {error.args}"
    return error


@ROUTES
def test_answer_and_usage_come_back(srv: ProviderServer, direct: bool) -> None:
    done = complete(request(srv), direct=direct)
    assert done.text == "echo: hello there"
    assert (done.prompt_tokens, done.completion_tokens) == (4, 3)  # whitespace words, as the server counts
    assert done.model == "test-model"
    assert done.latency_ms > 0
    assert done.cost is None  # litellm has no price for test-model
    assert srv.requests_succeeded == 1


@ROUTES
def test_cost_comes_from_litellm_prices(srv: ProviderServer, direct: bool) -> None:
    req = request(srv)
    spec = ModelSpec(name="mini", model="gpt-4o-mini", api_base=srv.base_url)
    done = complete(ProviderRequest(spec, req.messages, api_key=KEY), direct=direct)
    assert done.cost == pytest.approx(4 * 0.15e-6 + 3 * 0.6e-6)


@ROUTES
def test_response_format_and_params_are_sent(srv: ProviderServer, direct: bool) -> None:
    params = {"temperature": 0.25, "max_tokens": 17, "seed": 7, "stop": ["END"]}
    done = complete(request(srv, params=params, response_format={"type": "json_object"}), direct=direct)
    assert done.text == '{"echo": "hello there"}'
    [body] = srv.request_bodies
    assert body["response_format"] == {"type": "json_object"}
    assert {k: body[k] for k in params} == params
    assert body["model"] == "test-model"
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"}]


@ROUTES
def test_a_price_in_routing_overrides_the_table(srv: ProviderServer, direct: bool) -> None:
    spec = ModelSpec(
        name="mini", model="openai/gpt-4o-mini", api_base=srv.base_url, price=Price(2.0, 8.0)
    )  # the table says 0.15 and 0.6
    done = complete(ProviderRequest(spec, request(srv).messages, api_key=KEY), direct=direct)
    assert done.cost == pytest.approx((4 * 2.0 + 3 * 8.0) / 1e6)
    unknown = ModelSpec(name="t", model="openai/test-model", api_base=srv.base_url, price=Price(1.0, 1.0))
    assert complete(ProviderRequest(unknown, request(srv).messages, api_key=KEY), direct=direct).cost == 7 / 1e6


@ROUTES
@pytest.mark.parametrize("status", [500, 400])
def test_a_server_refusing_json_schema_is_told_apart(srv: ProviderServer, direct: bool, status: int) -> None:
    srv.configure(refuse_json_schema=status)
    form = {"type": "json_schema", "json_schema": {"name": "output", "schema": {"type": "object"}}}
    error = failure(request(srv, response_format=form), direct=direct)
    assert (error.kind, error.retryable) == ("bad_request", False)
    assert "does not accept response_format json_schema" in error.message
    assert "structured_output: json_object" in (error.hint or "") and "'test'" in (error.hint or "")
    assert complete(request(srv, response_format={"type": "json_object"}), direct=direct).text.startswith("{")


def test_the_providers_whole_reason_is_kept(srv: ProviderServer) -> None:
    reason = "field 'tools' is invalid.\n" + "Because: " + "x" * 500 + " END"
    srv.configure(responder=lambda messages, body: (_ for _ in ()).throw(ValueError(reason)))
    error = failure(request(srv), direct=True)
    assert "Because: " in error.message and error.message.rstrip(")'\"").endswith("END")


@ROUTES
def test_api_key_is_sent_as_bearer_token(srv: ProviderServer, direct: bool) -> None:
    srv.api_key = KEY
    assert complete(request(srv), direct=direct).text == "echo: hello there"
    assert srv.auth_headers == [f"Bearer {KEY}"]


def test_api_key_falls_back_to_the_env_mapping(srv: ProviderServer) -> None:
    srv.api_key = "sk-from-env"
    spec = ModelSpec(name="test", model="openai/test-model", api_base=srv.base_url, api_key_env="MY_KEY")
    req = ProviderRequest(spec, (Message("user", "hi"),))
    assert complete(req, env={"MY_KEY": "sk-from-env"}).text == "echo: hi"


@ROUTES
def test_rate_limit_carries_retry_after(srv: ProviderServer, direct: bool) -> None:
    error = failure(request(srv, "FAULT: 429"), direct=direct)
    assert (error.kind, error.retry_after, error.retryable) == ("rate_limit", 0.25, True)
    assert str(error) == "rate limited by openai/test-model (429); retry after 0.25 s"


@ROUTES
@pytest.mark.parametrize("fault", ["500", "503"])
def test_server_errors(srv: ProviderServer, direct: bool, fault: str) -> None:
    error = failure(request(srv, f"FAULT: {fault}"), direct=direct)
    assert error.kind == "server"
    assert error.retryable
    assert f"({fault})" in str(error)
    assert srv.requests_received == 1  # nobody retried behind the engine's back


@ROUTES
def test_timeout_is_honoured(srv: ProviderServer, direct: bool) -> None:
    started = time.monotonic()
    error = failure(request(srv, "FAULT: timeout", timeout=0.3), direct=direct)
    assert time.monotonic() - started < 2.5
    assert (error.kind, str(error)) == ("timeout", "openai/test-model did not answer within 0.3 s")


@ROUTES
@pytest.mark.parametrize(("fault", "kind"), [("malformed", "malformed"), ("drop", "connection")])
def test_broken_answers(srv: ProviderServer, direct: bool, fault: str, kind: str) -> None:
    error = failure(request(srv, f"FAULT: {fault}"), direct=direct)
    assert error.kind == kind
    assert error.retryable


@ROUTES
def test_wrong_key_is_auth_and_never_shown(srv: ProviderServer, direct: bool) -> None:
    srv.api_key = "sk-the-right-one"
    error = failure(request(srv), direct=direct)
    assert (error.kind, error.retryable) == ("auth", False)
    assert "(401)" in str(error)


@ROUTES
def test_bad_request_scrubs_the_key_from_the_provider_message(srv: ProviderServer, direct: bool) -> None:
    error = failure(request(srv, f"FAULT: {KEY}"), direct=direct)  # the server echoes the unknown fault name
    assert (error.kind, error.retryable) == ("bad_request", False)
    assert "unknown fault '[REDACTED:secret]'" in str(error)


@ROUTES
def test_unknown_path_is_not_found(srv: ProviderServer, direct: bool) -> None:
    spec = ModelSpec(name="test", model="openai/test-model", api_base=f"{srv.root_url}/nowhere")
    error = failure(ProviderRequest(spec, (Message("user", "hi"),), api_key=KEY), direct=direct)
    assert error.kind == "not_found"


@ROUTES
def test_litellm_parameter_rules_apply(srv: ProviderServer, direct: bool) -> None:
    spec = ModelSpec(name="o1", model="openai/o1", api_base=srv.base_url)
    req = ProviderRequest(spec, (Message("user", "hi"),), params={"temperature": 0.2}, api_key=KEY)
    error = failure(req, direct=direct)  # o-series models take no temperature: litellm refuses before sending
    assert error.kind == "bad_request"
    assert "temperature" in str(error)
    assert srv.requests_received == 0


def test_unknown_provider_is_not_found() -> None:
    req = ProviderRequest(ModelSpec(name="x", model="no-such-model"), (Message("user", "hi"),), api_key=KEY)
    with pytest.raises(ProviderError) as caught:
        complete(req)
    assert caught.value.kind == "not_found"


def test_context_window_is_its_own_kind() -> None:
    import litellm

    who = failures.Who("openai/m", "m", None)
    exc = litellm.ContextWindowExceededError(message=f"too long for {KEY}", model="m", llm_provider="openai")
    error = failures.litellm_error(litellm, exc, who, 1.0, KEY)
    assert (error.kind, error.retryable) == ("context_window", False)
    assert KEY not in str(error)


def test_retry_after_as_http_date() -> None:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < (failures.retry_after({"retry-after": later}) or 0) <= 30
    assert failures.retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert failures.retry_after({}) is None


@ROUTES
def test_concurrent_calls_share_connections(srv: ProviderServer, direct: bool) -> None:
    srv.latency = 0.05
    provider = LitellmProvider(env={}, direct=direct)

    async def run() -> list[Completion]:
        first = await asyncio.gather(*(provider.complete(request(srv, f"q{i}")) for i in range(10)))
        again = await asyncio.gather(*(provider.complete(request(srv, f"r{i}")) for i in range(10)))
        await provider.aclose()
        return [*first, *again]

    answers = asyncio.run(run())
    assert sorted(a.text for a in answers) == sorted(
        [f"echo: q{i}" for i in range(10)] + [f"echo: r{i}" for i in range(10)]
    )
    assert srv.connections_opened <= 10


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_the_module_does_not_import_litellm() -> None:
    out = run_python(
        "import sys\nimport promptops.providers as p\nimport promptops.providers.litellm\n"
        "print('litellm' in p.names(), 'litellm' in sys.modules, 'aiohttp' in sys.modules, 'httptools' in sys.modules)"
    )
    assert out.split() == ["True", "False", "False", "False"]


def test_prefetch_is_idempotent_and_imports_in_the_background() -> None:
    out = run_python(
        "import os, sys, threading\n"
        "from promptops.providers import litellm as m\n"
        "m.prefetch(); first = m._import; m.prefetch(); m.prefetch()\n"
        "loaders = [t for t in threading.enumerate() if t.name == 'promptops-litellm-import']\n"
        "first.result(timeout=60); m.prefetch()\n"
        "print(m._import is first, len(loaders) <= 1, 'litellm' in sys.modules, "
        "os.environ['LITELLM_LOCAL_MODEL_COST_MAP'])"
    )
    assert out.split() == ["True", "True", "True", "True"]


def test_only_the_native_route_keeps_its_own_time(srv: ProviderServer) -> None:
    """The runner sets no timer of its own around a call that ends by its own deadline: an OpenAI-compatible
    model's, on promptops' HTTP client. litellm's calls, and every call with `direct=False`, keep the runner's."""
    native = request(srv)
    other = ProviderRequest(model=ModelSpec(name="c", model="anthropic/claude-3-haiku"), messages=native.messages)
    assert LitellmProvider(env={}).keeps_time(native)
    assert not LitellmProvider(env={}).keeps_time(other)
    assert not LitellmProvider(env={}, direct=False).keeps_time(native)
    # ... and the native route holds the whole call to `request.timeout` (the runner would wait 1.5x + 1 s).
    srv.latency = 3.0
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        asyncio.run(LitellmProvider(env={}).complete(request(srv, timeout=0.3)))
    assert caught.value.kind == "timeout" and time.monotonic() - started < 1.0
