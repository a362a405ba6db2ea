"""Suite features through `promptops eval`, against the loopback provider: assertion values templated from the
case's vars, transforms before assertions, named metrics in the reports, and per-case options."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from eval_fixtures import ANSWER_PROMPT, routing_for
from provider_server import ProviderServer

from promptops.loader import schema

pytestmark = pytest.mark.usefixtures("api_key")

PROMPT = ANSWER_PROMPT.replace("  answer: {type: string}\n", "  answer: {type: string}\n  label: {type: string}\n")
PROMPT = PROMPT.replace("REPLY: {{ answer }}\n", "REPLY: {{ answer }}\n{# {{ label }} #}\n")


def repo(make_repo, server: ProviderServer, suite: str) -> Path:
    root: Path = make_repo(
        {
            "promptops.yaml": "project: features\n",
            "routing.yaml": routing_for(server.base_url),
            "prompts/answer.prompt": PROMPT,
            "evals/answer.yaml": suite,
        }
    )
    return root


def verdicts(report: dict) -> dict[str, str]:
    return {c["case"]: c["verdict"] for c in report["cases"]}


def eval_json(cli, root: Path, tmp_path: Path, *args: str) -> tuple[int, dict, str]:
    out = tmp_path / "report.json"
    code, stdout, err = cli("eval", "--repo", root, "-o", out, *args)
    report = json.loads(out.read_text())
    jsonschema.validate(report, schema("results"))
    return code, report, stdout + err


SUITE_TEMPLATED = """prompt: answer
threshold: 0.5
defaults:
  assert:
    - {type: equals, value: "{{ label }}"}
    - {type: icontains-any, value: ["{{ label | upper }}", "never"]}
cases:
  - id: right
    vars: {answer: Paris, label: Paris}
  - id: wrong
    vars: {answer: Lyon, label: Paris}
"""


def test_assertion_values_are_rendered_from_the_case_vars(make_repo, cli, server: ProviderServer, tmp_path) -> None:
    root = repo(make_repo, server, SUITE_TEMPLATED)
    code, report, text = eval_json(cli, root, tmp_path)
    assert code == 0, text
    assert verdicts(report) == {"right": "pass", "wrong": "fail"}
    wrong = next(r for r in report["results"] if r["case"] == "wrong")
    assert "expected 'Paris', got 'Lyon'" in wrong["checks"][0]["reason"]


def test_a_templated_value_naming_an_unknown_var_is_an_error_naming_the_case(
    make_repo, cli, server: ProviderServer, tmp_path
) -> None:
    suite = "prompt: answer\ncases:\n  - id: a\n    vars: {answer: x, label: x}\n    assert:\n"
    suite += "      - {type: equals, value: '{{ expected }}'}\n"
    root = repo(make_repo, server, suite)
    code, out, _ = cli("lint", "--repo", root)
    assert code == 1 and "evals/answer.yaml:6: error: case 'a': the value of equals uses 'expected'" in out
    code, report, text = eval_json(cli, root, tmp_path)
    assert code == 2, text
    (result,) = report["results"]
    assert result["status"] == "error" and "'expected' is undefined" in result["error"]
    assert "case 'a'" in result["error"] and "evals/answer.yaml:6" in result["error"]
    assert server.requests_received == 0


SUITE_TRANSFORM = """prompt: answer
defaults:
  transform: strip
cases:
  - id: regex-group
    vars: {answer: 'Verdict: POSITIVE (0.93)', label: x}
    assert:
      - type: equals
        value: positive
        transform: [{regex: 'Verdict: (\\w+)'}, lower]
  - id: json-path-case
    vars: {answer: '{"label": "spam", "score": 0.2}', label: x}
    transform: {json-path: $.label}
    assert:
      - {type: equals, value: spam}
      - {type: not-contains, value: score}
  - id: no-match-fails-even-negated
    vars: {answer: 'no verdict here', label: x}
    assert:
      - {type: not-equals, value: positive, transform: {regex: 'Verdict: (\\w+)'}}
"""


def test_transforms_turn_the_output_into_what_the_assertions_judge(
    make_repo, cli, server: ProviderServer, tmp_path
) -> None:
    root = repo(make_repo, server, SUITE_TRANSFORM)
    code, report, text = eval_json(cli, root, tmp_path)
    assert code == 1, text
    assert verdicts(report) == {"regex-group": "pass", "json-path-case": "pass", "no-match-fails-even-negated": "fail"}
    failed = next(r for r in report["results"] if r["case"] == "no-match-fails-even-negated")
    assert failed["status"] == "fail" and "found no match" in failed["checks"][0]["reason"]


SUITE_METRICS = """prompt: answer
threshold: 0
cases:
  - id: a
    vars: {answer: 'yes, polite', label: x}
    assert:
      - {type: contains, value: 'yes', metric: accuracy}
      - {type: contains, value: polite, metric: tone}
  - id: b
    vars: {answer: 'no', label: x}
    assert:
      - {type: contains, value: 'yes', metric: accuracy}
      - {type: not-contains, value: rude, metric: tone}
"""


def test_named_metrics_are_scored_per_suite_in_json_and_text(make_repo, cli, server: ProviderServer, tmp_path) -> None:
    root = repo(make_repo, server, SUITE_METRICS)
    md = tmp_path / "report.md"
    code, report, text = eval_json(cli, root, tmp_path, "-o", md)
    assert code == 0, text
    assert "### Metrics" in md.read_text() and "| answer | main | accuracy | 1/2 | 0.50 |" in md.read_text()
    rows = {m["metric"]: (m["checks"], m["passed"], m["score"]) for m in report["metrics"]}
    assert rows == {"accuracy": (2, 1, 0.5), "tone": (2, 2, 1.0)}
    assert [c["metric"] for c in report["results"][0]["checks"]] == ["accuracy", "tone"]
    assert "metrics" in text and "accuracy" in text and "1/2" in text and "0.50" in text


SUITE_OPTIONS = """prompt: answer
cases:
  - id: routed
    vars: {answer: 'yes', label: x}
    assert: [{type: contains, value: 'yes'}]
  - id: on-backup
    vars: {answer: 'yes', label: x}
    options: {model: backup, response_format: {type: json_object}, repeat: 3}
    assert: [{type: contains, value: 'yes'}]
"""


def test_per_case_options_choose_model_response_format_and_repeat(
    make_repo, cli, server: ProviderServer, tmp_path
) -> None:
    root = repo(make_repo, server, SUITE_OPTIONS)
    code, report, text = eval_json(cli, root, tmp_path, "--no-cache")
    assert code == 0, text
    runs = sorted((r["case"], r["model"], r["repeat"]) for r in report["results"])
    assert runs == [
        ("on-backup", "backup", 0),
        ("on-backup", "backup", 1),
        ("on-backup", "backup", 2),
        ("routed", "main", 0),
    ]
    bodies = server.request_bodies
    assert sorted(b["model"] for b in bodies) == ["backup-model"] * 3 + ["test-model"]
    assert all(b.get("response_format") == {"type": "json_object"} for b in bodies if b["model"] == "backup-model")
    assert all("response_format" not in b for b in bodies if b["model"] == "test-model")


def test_a_case_naming_an_unknown_model_is_a_lint_error_and_an_eval_error(
    make_repo, cli, server: ProviderServer, tmp_path
) -> None:
    root = repo(make_repo, server, SUITE_OPTIONS.replace("model: backup", "model: nope"))
    code, out, err = cli("lint", "--repo", root)
    assert code == 1 and "options.model 'nope' is not a named model" in out + err
    code, _, text = eval_json(cli, root, tmp_path)
    assert code == 2 and "options.model 'nope'" in text


LOUD = PROMPT.replace("REPLY: {{ answer }}", "REPLY: {{ answer | upper }}")
SUITE_VARIANTS = """variants: {plain: answer, loud: loud}
cases:
  - id: lower
    vars: {answer: 'yes', label: x}
    assert: [{type: contains, value: 'YES'}]
  - id: upper
    vars: {answer: 'YES', label: x}
    assert: [{type: contains, value: 'YES'}]
"""


def test_prompt_variants_run_side_by_side_with_a_gate_each_and_their_difference(
    make_repo, cli, server: ProviderServer, tmp_path
) -> None:
    root = repo(make_repo, server, SUITE_VARIANTS)
    (root / "prompts/loud.prompt").write_text(LOUD)
    md = tmp_path / "report.md"
    code, report, text = eval_json(cli, root, tmp_path, "answer", "-o", md)  # the file's id selects every variant
    assert code == 1, text
    gates = {s["suite"]: (s["prompt"], s["pass_rate"], s["gate_passed"]) for s in report["suites"]}
    assert gates == {"answer@loud": ("loud", 1.0, True), "answer@plain": ("answer", 0.5, False)}
    (group,) = report["variants"]
    assert [(v["variant"], v["pass_rate_change"]) for v in group["variants"]] == [("loud", 0.0), ("plain", -0.5)]
    assert group["axes"] == {} and group["differences"] == [
        {"case": "lower", "model": "main", "role": "primary", "verdicts": {"loud": "pass", "plain": "fail"}}
    ]
    assert "variants of answer: loud 100%, gate passed; plain 50% (-50 points), gate failed" in text
    assert "lower [main]: loud pass, plain fail" in text
    assert "### Prompt variants" in md.read_text() and "| `lower` | pass | fail |" in md.read_text()


def test_a_variant_naming_an_unknown_prompt_is_a_lint_error_at_its_line(make_repo, cli, server: ProviderServer) -> None:
    suite = "prompts: [answer, missing/one]\ncases:\n  - {id: a, vars: {answer: x, label: y}}\n"
    root = repo(make_repo, server, suite)
    code, out, _ = cli("lint", "--repo", root, "--format", "json")
    found = [(f["rule"], f["line"], f["message"]) for f in json.loads(out)["findings"] if f["severity"] == "error"]
    assert code == 1 and found == [("suite-unknown-prompt", 1, "suite targets unknown prompt 'missing/one'")]
