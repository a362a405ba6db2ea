"""The runtime API: an application serving an environment obeys promote, rollback, kill and revive, live.

Real repositories with real releases and a real ledger, the loopback provider server, real export files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import commit
from eval_fixtures import SECRET
from provider_server import ProviderServer

import promptops
from promptops.errors import GateFailed, InputError
from promptops.providers import ProviderError
from promptops.runtime import PromptKilled, Runtime

pytestmark = pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning")
SKIP = ("--skip-eval", "--reason", "runtime tests run no evals")
RELOAD = 0.1


def routing(base_url: str) -> str:
    return (
        "defaults:\n  model: main\n  timeout: 5\n  retries: 0\n"
        "models:\n"
        f"  main: {{model: openai/test-model, api_base: '{base_url}', api_key_env: PROMPTOPS_TEST_KEY}}\n"
        f"  backup: {{model: openai/backup-model, api_base: '{base_url}', api_key_env: PROMPTOPS_TEST_KEY}}\n"
        "routes:\n  answer: {model: main, fallbacks: [backup]}\n"
    )


def answer_prompt(version: str) -> str:
    return (
        "---\ndescription: answers\nowner: '@team'\ninputs:\n  question: {type: string}\n"
        "fallback: 'Sorry, a human will answer: {{ question }}'\n---\n"
        f"system:\nRelease {version}.\nuser:\nREPLY: {version} says {{{{ question }}}}\n"
    )


JSON_PROMPT = (
    "---\ndescription: structured\ninputs:\n  word: {type: string}\n"
    "output: {type: object, required: [word], properties: {word: {type: string}}}\n---\n"
    "user:\nREPLY: {{ word }}\n"
)


TRIAGE_PROMPT = (
    "---\ndescription: triage\ninputs:\n  text: {type: string}\n"
    "output: {type: object, required: [category], properties: {category: {type: string}}}\n"
    'fallback: \'{"category": "other"}\'\n---\nuser:\nREPLY: {{ text }}\n'
)


def files(base_url: str, version: str) -> dict[str, str | bytes | None]:
    return {
        "prompts/triage.prompt": TRIAGE_PROMPT,
        "promptops.yaml": "project: rt\nenvironments:\n  staging: {}\n",
        "routing.yaml": routing(base_url),
        "prompts/answer.prompt": answer_prompt(version),
        "prompts/structured.prompt": JSON_PROMPT,
    }


@pytest.fixture
def project(make_repo, cli, server: ProviderServer, api_key: str) -> Path:
    """Releases v0.1.0 and v0.1.1 (each answers with its version); staging runs v0.1.1."""
    root = make_repo(files(server.base_url, "one"))
    assert cli("release", "--repo", root, *SKIP)[0] == 0
    commit(root, {"prompts/answer.prompt": answer_prompt("two")}, "two")
    assert cli("release", "--repo", root, *SKIP)[0] == 0
    assert cli("promote", "0.1.0", "--env", "staging", "--reason", "first", "--repo", root)[0] == 0
    assert cli("promote", "0.1.1", "--env", "staging", "--reason", "second", "--repo", root)[0] == 0
    return root


@pytest.fixture
def rt(project: Path) -> Iterator[Runtime]:
    with promptops.load(env="staging", repo=project, reload_interval=RELOAD, audit=False) as runtime:
        yield runtime


def wait_for(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the runtime did not switch in time"
        time.sleep(0.02)


def test_run_answers_through_the_routed_model(rt: Runtime, server: ProviderServer) -> None:
    result = rt.run("answer", {"question": "where is my refund?"})
    assert result.text == "two says where is my refund?"
    assert (result.answered_by, result.model, result.version) == ("primary", "openai/test-model", "v0.1.1")
    assert result.digest == rt.digest and result.prompt_tokens > 0 and result.latency_ms > 0
    assert server.auth_headers == [f"Bearer {SECRET}"]


def test_render_gives_messages_params_and_route(rt: Runtime) -> None:
    rendered = rt.render("answer", {"question": "hi"})
    assert rendered.messages == [
        {"role": "system", "content": "Release two."},
        {"role": "user", "content": "REPLY: two says hi"},
    ]
    assert rendered.route["model"]["model"] == "openai/test-model"
    assert [m["name"] for m in rendered.route["fallbacks"]] == ["backup"]
    assert rendered.killed is False and rendered.version == "v0.1.1"


def test_bad_variables_and_unknown_prompts_are_input_errors(rt: Runtime) -> None:
    with pytest.raises(InputError, match="missing input 'question'"):
        rt.run("answer", {})
    with pytest.raises(InputError, match="has no prompt 'nope'"):
        rt.render("nope")


def test_kill_rollback_and_revive_reach_a_serving_application_without_a_failed_call(
    rt: Runtime, project: Path, cli
) -> None:
    answers: list[str] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def serve() -> None:  # an application answering a question every few milliseconds
        while not stop.is_set():
            try:
                answers.append(rt.run("answer", {"question": "q"}).text)
            except BaseException as exc:
                failures.append(exc)
            time.sleep(0.005)

    worker = threading.Thread(target=serve)
    worker.start()
    try:
        wait_for(lambda: answers[-1:] == ["two says q"])
        assert cli("kill", "answer", "--env", "staging", "--reason", "incident", "--repo", project)[0] == 0
        wait_for(lambda: answers[-1:] == ["Sorry, a human will answer: q"])
        assert rt.killed == {"answer"}
        assert cli("revive", "answer", "--env", "staging", "--reason", "fixed", "--repo", project)[0] == 0
        wait_for(lambda: answers[-1:] == ["two says q"])
        assert cli("rollback", "--env", "staging", "--reason", "bad release", "--repo", project)[0] == 0
        wait_for(lambda: answers[-1:] == ["one says q"])
        assert rt.version == "v0.1.0"
    finally:
        stop.set()
        worker.join()
    assert failures == []
    seen = [a for i, a in enumerate(answers) if i == 0 or answers[i - 1] != a]
    assert seen == ["two says q", "Sorry, a human will answer: q", "two says q", "one says q"]


def test_a_killed_prompt_calls_no_model(rt: Runtime, project: Path, cli, server: ProviderServer) -> None:
    assert cli("kill", "answer", "--env", "staging", "--reason", "incident", "--repo", project)[0] == 0
    rt.refresh()
    server.reset()
    result = rt.run("answer", {"question": "q"})
    assert (result.answered_by, result.model, result.text) == ("kill-switch", None, "Sorry, a human will answer: q")
    assert server.requests_received == 0


def test_a_failing_model_hands_over_to_its_fallback_then_to_the_template(rt: Runtime, server: ProviderServer) -> None:
    server.configure(faults=lambda i, body: "500" if body.get("model") == "test-model" else None)
    result = rt.run("answer", {"question": "q"})
    assert (result.answered_by, result.model, result.text) == ("fallback", "openai/backup-model", "two says q")
    assert len(result.errors) == 1 and "main" in result.errors[0]
    server.configure(faults="500")
    result = rt.run("answer", {"question": "q"})
    assert (result.answered_by, result.model, result.text) == (
        "fallback-template",
        None,
        "Sorry, a human will answer: q",
    )
    assert len(result.errors) == 2


def test_on_failure_raise(project: Path, server: ProviderServer) -> None:
    server.configure(faults="500")
    rt = promptops.load(env="staging", repo=project, reload_interval=None, audit=False, on_failure="raise")
    with rt, pytest.raises(ProviderError) as caught:
        rt.run("answer", {"question": "q"})
    assert caught.value.exit_code == 3 and SECRET not in str(caught.value)


def test_an_answer_that_breaks_the_output_schema_goes_to_the_next_model(project: Path, server: ProviderServer) -> None:
    with promptops.load(env="staging", repo=project, reload_interval=None, audit=False) as rt:
        server.configure(responder=lambda messages, request: json.dumps({"word": "ok"}))
        good = rt.run("structured", {"word": "x"})
        assert (good.answered_by, good.data) == ("primary", {"word": "ok"})
        server.configure(responder=lambda messages, request: "not json")
        with pytest.raises(ProviderError, match="not JSON"):
            rt.run("structured", {"word": "x"})  # no fallback template: nothing else can answer


def export(cli, project: Path, path: Path) -> bytes:
    code, _, err = cli("export", "--env", "staging", "-o", path, "--repo", project)
    assert code == 0, err
    return path.read_bytes()


def replace_file(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def test_an_export_file_is_served_and_followed_and_a_tampered_one_refused(project: Path, cli, tmp_path: Path) -> None:
    bundle = tmp_path / "deploy" / "bundle.json"
    bundle.parent.mkdir()
    export(cli, project, bundle)
    assert cli("rollback", "--env", "staging", "--reason", "r", "--repo", project)[0] == 0
    older = export(cli, project, tmp_path / "older.json")
    assert cli("promote", "0.1.1", "--env", "staging", "--reason", "again", "--repo", project)[0] == 0
    assert cli("kill", "answer", "--env", "staging", "--reason", "k", "--repo", project)[0] == 0
    killed = export(cli, project, tmp_path / "killed.json")
    with promptops.load(bundle=bundle, env="staging", reload_interval=RELOAD, audit=False) as rt:
        assert rt.run("answer", {"question": "q"}).text == "two says q"
        replace_file(bundle, older)
        wait_for(lambda: rt.version == "v0.1.0")
        replace_file(bundle, killed)
        wait_for(lambda: rt.killed == {"answer"})
        assert rt.run("answer", {"question": "q"}).answered_by == "kill-switch"
        doc = json.loads(killed)
        doc["kill_switch"] = {}  # un-killing by hand: the seal no longer matches
        replace_file(bundle, json.dumps(doc, sort_keys=True, separators=(",", ":")).encode() + b"\n")
        time.sleep(RELOAD * 4)
        assert rt.killed == {"answer"} and rt.last_error is not None and "refused" in rt.last_error
        assert rt.run("answer", {"question": "q"}).answered_by == "kill-switch"


def test_loading_a_tampered_bundle_is_refused(project: Path, cli, tmp_path: Path) -> None:
    bundle = tmp_path / "b.json"
    data = export(cli, project, bundle)
    bundle.write_bytes(data.replace(b"Release two.", b"Release 2wo."))
    with pytest.raises(GateFailed, match="refused"):
        promptops.load(bundle=bundle, audit=False)


@pytest.mark.parametrize("where", ["model", "fallbacks"])
def test_a_bundle_with_credentials_in_api_base_is_refused_without_showing_them(
    project: Path, cli, tmp_path: Path, where: str
) -> None:
    """A bundle released before routing.yaml refused credentials in `api_base` still carries them: the runtime
    does not serve it (the key would be sent, and shown wherever the endpoint is), and never prints them."""
    from promptops.release.bundle import canonical, digest_of, kill_switch_digest

    bundle = tmp_path / "b.json"
    doc = json.loads(export(cli, project, bundle))
    routing = doc["prompts"]["answer"]["routing"]
    spec = routing["model"] if where == "model" else routing["fallbacks"][0]
    spec["api_base"] = spec["api_base"].replace("http://", "http://ci:sk-bundled-0123456789@") + "?api_key=sk-q-987"
    doc["digest"] = digest_of(doc)
    doc["kill_switch_digest"] = kill_switch_digest(doc)
    bundle.write_bytes(canonical(doc))
    with pytest.raises(InputError) as caught:
        promptops.load(bundle=bundle, audit=False)
    said = f"{caught.value.message} {caught.value.hint}"
    assert "refused" in said and "'answer'" in said and "'api_key'" in said and "user:password@" in said
    assert "sk-bundled" not in said and "sk-q-987" not in said


def test_an_export_file_needs_no_git_binary(project: Path, cli, tmp_path: Path, server: ProviderServer) -> None:
    bundle = tmp_path / "b.json"
    export(cli, project, bundle)
    code = (
        "import promptops, sys\n"
        f"rt = promptops.load(bundle={str(bundle)!r}, env='staging', audit=False, reload_interval=None)\n"
        "print(rt.run('answer', {'question': 'q'}).text)\n"
        "print('git' in sys.modules)\n"
    )
    env = {**os.environ, "PATH": str(tmp_path / "empty-path")}  # no git anywhere on PATH
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["two", "says", "q", "False"]


def test_importing_the_runtime_is_light() -> None:
    code = (
        "import sys, promptops.runtime, promptops\n"
        "promptops.load\n"
        "print(' '.join(m for m in ('typer', 'rich', 'git', 'litellm', 'jinja2', 'jsonschema') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_a_killed_prompt_without_fallback_raises_a_clear_error(project: Path, cli, server: ProviderServer) -> None:
    with promptops.load(env="staging", repo=project, reload_interval=None, audit=False) as rt:
        doc_prompt = rt.served.prompt("structured")
        assert doc_prompt.fallback is None
    code, _, err = cli("kill", "structured", "--env", "staging", "--reason", "r", "--repo", project)
    assert code == 2 and "has no fallback in v0.1.1" in err and "--allow-error" in err
    code, _, err = cli("kill", "structured", "--env", "staging", "--reason", "r", "--allow-error", "--repo", project)
    assert code == 0, err
    rt = promptops.load(env="staging", repo=project, reload_interval=None, audit=False)
    with rt, pytest.raises(PromptKilled, match="is killed in staging and has no fallback answer"):
        rt.run("structured", {"word": "x"})


def test_every_answer_is_on_a_redacted_verified_audit_record(
    make_repo, cli, server: ProviderServer, api_key: str, tmp_path: Path
) -> None:
    root = make_repo(
        {
            **files(server.base_url, "one"),
            "promptops.yaml": "project: rt\nenvironments:\n  staging: {}\nredaction: {mode: redact}\n",
        }
    )
    assert cli("release", "--repo", root, *SKIP)[0] == 0
    assert cli("promote", "0.1.0", "--env", "staging", "--reason", "r", "--repo", root)[0] == 0
    audit = tmp_path / "audit"
    with promptops.load(env="staging", repo=root, reload_interval=None, audit=audit) as rt:
        first = rt.run("answer", {"question": "mail ada@example.com"})
        server.configure(faults="500")
        second = rt.run("answer", {"question": "card 4111 1111 1111 1111"})
    from promptops.runtime.audit_verify import read, verify

    assert verify(audit).ok
    records = list(read(audit))
    assert [r["id"] for r in records] == [first.record_id, second.record_id]
    assert [r["answered_by"] for r in records] == ["primary", "fallback-template"]
    assert records[0]["release"] == "v0.1.0" and records[0]["digest"] == first.digest
    assert records[0]["model"] == "openai/test-model" and records[0]["environment"] == "staging"
    text = "".join(p.read_text() for p in audit.glob("*.jsonl"))
    assert "ada@example.com" not in text and "4111 1111 1111 1111" not in text and SECRET not in text
    assert records[0]["inputs"] == {"question": "mail [REDACTED:email]"}
    assert records[0]["output"] == "one says mail [REDACTED:email]"
    assert len(records[1]["attempts"]) == 2
    code, out, _ = cli("audit", "verify", str(audit))
    assert code == 0, out


def test_the_run_command_answers_and_audits(project: Path, cli, tmp_path: Path) -> None:
    audit = tmp_path / "audit"
    code, out, err = cli(
        "run", "answer", "--env", "staging", "--var", "question=hello", "--audit-dir", audit, "--repo", project
    )
    assert code == 0, err
    assert out.strip() == "two says hello"
    assert "answered by primary (openai/test-model)" in err and "v0.1.1" in err
    code, out, err = cli("run", "answer", "--env", "staging", "--var", "question=hi", "--format", "json",
                         "--audit-dir", audit, "--repo", project)  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert (result["answered_by"], result["version"], result["text"]) == ("primary", "v0.1.1", "two says hi")
    assert cli("audit", "verify", str(audit))[0] == 0
    code, _, err = cli("run", "nope", "--env", "staging", "--audit-dir", audit, "--repo", project)
    assert code == 2 and "has no prompt 'nope'" in err
    code, _, err = cli("run", "answer", "--repo", project)
    assert code == 2 and "--env" in err


def test_the_run_command_exits_3_when_strict_and_every_model_fails(
    project: Path, cli, server: ProviderServer, tmp_path: Path
) -> None:
    server.configure(faults="500")
    args = (
        "run",
        "answer",
        "--env",
        "staging",
        "--var",
        "question=q",
        "--audit-dir",
        tmp_path / "a",
        "--repo",
        project,
    )
    code, out, err = cli(*args)
    assert code == 0 and out.strip() == "Sorry, a human will answer: q" and "fallback-template" in err
    code, out, err = cli(*args, "--strict")
    assert code == 3 and "no model answered 'answer'" in err and SECRET not in err


def test_a_runtime_that_requires_a_signature_refuses_unsigned_and_forged_bundles(
    project: Path, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUNDLE_HMAC", "hmac-key-for-bundles-0123456789")
    signed, unsigned = tmp_path / "signed.json", tmp_path / "unsigned.json"
    code, _, err = cli(
        "export", "--env", "staging", "-o", signed, "--sign", "--hmac-env", "BUNDLE_HMAC", "--repo", project
    )
    assert code == 0, err
    export(cli, project, unsigned)
    trust = {"require_signature": True, "hmac_key_env": "BUNDLE_HMAC", "audit": False, "reload_interval": None}
    with promptops.load(bundle=signed, **trust) as rt:
        assert rt.version == "v0.1.1"
    with pytest.raises(GateFailed, match="not signed"):
        promptops.load(bundle=unsigned, **trust)
    monkeypatch.setenv("BUNDLE_HMAC", "another-key-entirely-9876543210")
    with pytest.raises(GateFailed, match="refused"):
        promptops.load(bundle=signed, **trust)


def test_calls_become_opentelemetry_spans_with_the_genai_attributes(project: Path, server: ProviderServer) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # the application's own set-up; promptops only asks for a tracer
    with promptops.load(env="staging", repo=project, reload_interval=None, audit=False) as rt:
        result = rt.run("answer", {"question": "ada@example.com"})
    [span] = [s for s in exporter.get_finished_spans() if s.attributes.get("promptops.prompt") == "answer"]
    assert span.name == "chat openai/test-model"
    assert span.attributes["gen_ai.operation.name"] == "chat"
    assert span.attributes["gen_ai.request.model"] == "openai/test-model"
    assert span.attributes["gen_ai.usage.output_tokens"] == result.completion_tokens
    assert span.attributes["promptops.answered_by"] == "primary"
    assert span.attributes["promptops.release"] == "v0.1.1"
    assert all("ada@example.com" not in str(v) for v in span.attributes.values())


def test_close_ends_a_call_in_flight_and_later_calls_are_refused(project: Path, server: ProviderServer) -> None:
    from promptops.errors import UnavailableError

    server.configure(latency=3.0)
    rt = promptops.load(env="staging", repo=project, reload_interval=RELOAD, audit=False)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            rt.run("answer", {"question": "q"})
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(0.5)  # the call is waiting for the model
    rt.close()
    worker.join(timeout=5)
    assert not worker.is_alive() and isinstance(outcome[0], UnavailableError)
    with pytest.raises(UnavailableError, match="closed"):
        rt.run("answer", {"question": "q"})


def test_an_error_raised_to_the_application_is_redacted(make_repo, cli, server: ProviderServer, api_key: str) -> None:
    root = make_repo(
        {
            **files(server.base_url, "one"),
            "promptops.yaml": "project: rt\nenvironments:\n  staging: {}\nredaction: {mode: redact}\n",
        }
    )
    assert cli("release", "--repo", root, *SKIP)[0] == 0
    assert cli("promote", "0.1.0", "--env", "staging", "--reason", "r", "--repo", root)[0] == 0
    server.configure(responder=lambda messages, request: json.dumps("jane@example.com"))  # quoted by the schema error
    rt = promptops.load(env="staging", repo=root, reload_interval=None, audit=False)
    with rt, pytest.raises(ProviderError) as caught:
        rt.run("structured", {"word": "x"})
    shown = f"{caught.value} {[a.error for a in caught.value.attempts]}"  # type: ignore[attr-defined]
    assert "jane@example.com" not in shown and "output schema" in shown


def test_variables_that_are_not_json_are_refused_before_any_call(rt: Runtime, server: ProviderServer) -> None:
    from decimal import Decimal

    with pytest.raises(InputError, match="JSON values"):
        rt.run("answer", {"question": Decimal("1.5")})
    assert server.requests_received == 0


def test_a_fallback_answer_of_a_prompt_with_an_output_schema_is_parsed(rt: Runtime, server: ProviderServer) -> None:
    server.configure(faults="500")
    result = rt.run("triage", {"text": "x"})
    assert (result.answered_by, result.data) == ("fallback-template", {"category": "other"})


def test_an_export_loaded_without_env_is_labelled_with_its_environment(project: Path, cli, tmp_path: Path) -> None:
    bundle = tmp_path / "b.json"
    export(cli, project, bundle)
    with promptops.load(bundle=bundle, audit=False, reload_interval=None) as rt:
        assert rt.environment == "staging" and rt.run("answer", {"question": "q"}).environment == "staging"
