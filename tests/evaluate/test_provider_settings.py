"""Per-model provider settings end to end: prices and unknown costs, the cost budget, a judge that answers
something else, servers that refuse `response_format: json_schema`, and the eval timeout. (A cold eval of an
OpenAI-compatible model that never imports litellm: tests/evaluate/test_eval_resume.py.)"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import jsonschema
import pytest
from eval_fixtures import project, suite
from provider_server import ProviderServer

from promptops.loader import schema

pytestmark = pytest.mark.usefixtures("api_key")
PRICE = "price: {input_per_mtok: 2.0, output_per_mtok: 8.0}"
OUTPUT_PROMPT = (
    "---\ndescription: answers in JSON\ninputs:\n  answer: {type: string}\n"
    "output:\n  type: object\n  required: [ok]\n  properties:\n    ok: {type: boolean}\n---\n"
    "user:\nREPLY: {{ answer }}\n"
)
SCHEMA_SUITE = (
    "prompt: answer\ncases:\n"
    "  - id: good\n    vars: {answer: '{\"ok\": true}'}\n    assert:\n      - {type: json-schema}\n"
    "  - id: bad\n    vars: {answer: '{\"nope\": 1}'}\n    assert:\n      - {type: json-schema}\n"
)


def run(cli, root: Path, *args: str | Path) -> tuple[int, str, str]:
    return cli("eval", "--repo", root, *args)


def priced(files: dict[str, str | bytes | None], model: str = "main") -> dict[str, str | bytes | None]:
    routing = str(files["routing.yaml"])
    files["routing.yaml"] = re.sub(rf"(  {model}: \{{[^\n]*)\}}", rf"\1, {PRICE}}}", routing)
    return files


def test_an_unpriced_model_costs_unknown_in_every_report(make_repo, cli, server: ProviderServer, tmp_path) -> None:
    root = make_repo(project(server.base_url, {"a": "yes"}))
    report, junit, markdown, page = (tmp_path / f"r.{ext}" for ext in ("json", "xml", "md", "html"))
    code, out, _ = run(cli, root, "-o", report, "-o", junit, "-o", markdown, "-o", page)
    assert code == 0
    assert "$0.0000" not in out and "unknown" in out.split("\n")[1]  # the summary row of the suite
    data = json.loads(report.read_text())
    jsonschema.Draft202012Validator(schema("results")).validate(data)
    assert data["suites"][0]["cost"] is None and data["results"][0]["cost"] is None
    for text in (markdown.read_text(), page.read_text()):
        assert "cost unknown" in text and "$0.0000" not in text


def test_a_price_in_routing_prices_the_calls(make_repo, cli, server: ProviderServer, tmp_path) -> None:
    root = make_repo(priced(project(server.base_url, {"a": "yes"})))
    report = tmp_path / "r.json"
    assert run(cli, root, "-o", report)[0] == 0
    [result] = json.loads(report.read_text())["results"]
    expected = (result["prompt_tokens"] * 2.0 + result["completion_tokens"] * 8.0) / 1e6
    assert result["cost"] == pytest.approx(expected) and expected > 0
    assert json.loads(report.read_text())["suites"][0]["cost"] == pytest.approx(expected)


@pytest.mark.parametrize("where", ["flag", "config"])
def test_a_budget_over_an_unpriced_model_is_refused_before_any_call(
    make_repo, cli, server: ProviderServer, where: str
) -> None:
    files = project(server.base_url, {"a": "yes"})
    if where == "config":
        files["promptops.yaml"] = "project: evaltest\neval: {max_cost: 1.5}\n"
    root = make_repo(files)
    code, _, err = run(cli, root, *(["--max-cost", "1"] if where == "flag" else []))
    assert code == 2, err
    assert "routing.yaml:" in err and "'main'" in err and "price:" in err and "input_per_mtok" in err
    assert "Traceback" not in err and server.requests_received == 0
    root = make_repo(priced(files))
    assert run(cli, root, *(["--max-cost", "1"] if where == "flag" else []))[0] == 0


def test_a_judge_that_answers_something_else_is_a_provider_error(
    make_repo, cli, server: ProviderServer, tmp_path
) -> None:
    server.configure(responder=lambda messages, request: "yes" if "Rubric:" not in str(messages) else "I think 7/10")
    files = project(server.base_url, {"a": "yes"}, retries=0)
    files["evals/answer.yaml"] = suite({"a": "yes"}).replace(
        "      - {type: contains, value: yes}", "      - {type: llm-rubric, value: polite}"
    )
    root = make_repo(files)
    report, junit = tmp_path / "r.json", tmp_path / "r.xml"
    code, _, err = run(cli, root, "-o", report, "-o", junit)
    assert code == 3, err
    assert "the judge 'main'" in err and "I think 7/10" in err and "`judge:`" in err
    [result] = json.loads(report.read_text())["results"]
    assert result["error_kind"] == "malformed" and "`judge:`" in result["error"]
    assert "I think 7/10" in junit.read_text()


def test_a_judge_answer_refused_as_malformed_still_counts_in_the_case_s_tokens_and_cost(
    make_repo, cli, server: ProviderServer, tmp_path
) -> None:
    server.configure(responder=lambda messages, request: "yes" if "Rubric:" not in str(messages) else "I think 7/10")
    plain = project(server.base_url, {"a": "yes"}, retries=0)
    judged = dict(plain)
    judged["evals/answer.yaml"] = suite({"a": "yes"}).replace(
        "      - {type: contains, value: yes}", "      - {type: llm-rubric, value: polite}"
    )
    results = []
    for n, files in enumerate((plain, judged)):
        report = tmp_path / f"r{n}.json"
        run(cli, make_repo(priced(files)), "-o", report)
        [result] = json.loads(report.read_text())["results"]
        results.append(result)
    alone, with_judge = results
    assert with_judge["error_kind"] == "malformed" and server.requests_received == 3  # 1 + (1 answer, 1 judge)
    assert with_judge["prompt_tokens"] > alone["prompt_tokens"] > 0  # the judge's call was made and paid for
    expected = (with_judge["prompt_tokens"] * 2.0 + with_judge["completion_tokens"] * 8.0) / 1e6
    assert with_judge["cost"] == pytest.approx(expected) and with_judge["cost"] > alone["cost"]


def test_a_server_that_refuses_json_schema_names_the_setting(make_repo, cli, server: ProviderServer, tmp_path) -> None:
    server.configure(refuse_json_schema=500)
    files = project(server.base_url, {})
    files["prompts/answer.prompt"] = OUTPUT_PROMPT
    files["evals/answer.yaml"] = SCHEMA_SUITE
    root = make_repo(files)
    report, junit = tmp_path / "r.json", tmp_path / "r.xml"
    code, _, err = run(cli, root, "-o", report, "-o", junit)
    assert code == 3, err
    assert "does not accept response_format json_schema" in err and "structured_output: json_object" in err
    assert server.requests_received == 2  # refused at once, not retried: it would fail the same way
    # The server's whole reason, its second line included, in the terminal, the JSON and the JUnit report.
    assert "Details: response_format.json_schema is not implemented" in err
    errors = [r["error"] for r in json.loads(report.read_text())["results"]]
    assert all("Details: response_format.json_schema is not implemented" in e for e in errors)
    assert "Details: response_format.json_schema is not implemented" in junit.read_text()


def test_structured_output_json_object_still_gates_on_the_schema(make_repo, cli, server: ProviderServer) -> None:
    server.configure(refuse_json_schema=500)
    files = project(server.base_url, {})
    files["routing.yaml"] = str(files["routing.yaml"]).replace(
        "api_key_env: PROMPTOPS_TEST_KEY}", "api_key_env: PROMPTOPS_TEST_KEY, structured_output: json_object}", 1
    )
    files["prompts/answer.prompt"] = OUTPUT_PROMPT
    files["evals/answer.yaml"] = SCHEMA_SUITE.replace("cases:", "threshold: 0.5\ncases:")
    root = make_repo(files)
    code, out, err = run(cli, root, "--format", "json")
    assert code == 0, err
    verdicts = {c["case"]: c["verdict"] for c in json.loads(out)["cases"]}
    assert verdicts == {"good": "pass", "bad": "fail"}  # the schema still decides
    assert {json.dumps(b["response_format"]) for b in server.request_bodies} == {'{"type": "json_object"}'}


def test_eval_timeout_bounds_each_call(make_repo, cli, server: ProviderServer) -> None:
    server.latency = 2.0
    files = project(server.base_url, {"a": "yes"}, retries=0)  # the route allows 5 s
    files["promptops.yaml"] = "project: evaltest\neval: {timeout: 0.4}\n"
    root = make_repo(files)
    started = time.monotonic()
    code, _, err = run(cli, root)
    assert code == 3, err
    assert "did not answer within 0.4 s" in err
    assert time.monotonic() - started < 1.9


def test_release_and_diff_eval_take_the_eval_defaults_too(make_repo, cli, server: ProviderServer) -> None:
    from eval_fixtures import ANSWER_PROMPT

    server.latency = 1.5
    files = project(server.base_url, {"a": "yes"}, retries=0)
    files["promptops.yaml"] = "project: evaltest\neval: {timeout: 0.3, concurrency: 2}\n"
    root = make_repo(files)
    code, _, err = cli("release", "--repo", root)
    assert code == 3 and "did not answer within 0.3 s" in err, err
    (root / "prompts" / "answer.prompt").write_text(ANSWER_PROMPT.replace("briefly", "very briefly"))
    code, _, err = cli("diff", "HEAD", "--eval", "--repo", root)
    assert code == 3, err


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("structured_output: json", ["structured_output", "json_schema", "json_object"]),
        ("price: {input_per_mtok: 1}", ["price", "output_per_mtok"]),
        ("price: {input_per_mtok: -1, output_per_mtok: 1}", ["input_per_mtok"]),
    ],
)
def test_a_bad_model_setting_is_named_with_its_line(make_repo, cli, setting: str, words: list[str]) -> None:
    files = project("http://127.0.0.1:9/v1", {"a": "yes"})
    files["routing.yaml"] = str(files["routing.yaml"]).replace(
        "api_key_env: PROMPTOPS_TEST_KEY}", f"api_key_env: PROMPTOPS_TEST_KEY, {setting}}}", 1
    )
    root = make_repo(files)
    code, out, err = cli("lint", "--repo", root)
    assert code == 1 and "routing.yaml:7" in out + err, out + err
    assert all(w in out + err for w in words), out + err
