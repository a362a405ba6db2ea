"""Verdicts through the command line, on real git repositories with two commits and the loopback provider server:
the silent model swap, deleted cases, overrides after a baseline run, a model matrix, --changed-since on
pinned sources and datasets, and lint on a case that checks nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import commit
from eval_fixtures import project, routing_for, suite
from provider_server import ProviderServer

pytestmark = pytest.mark.usefixtures("api_key")


def backup_breaks(case: str) -> Any:
    """The server's answer: the REPLY line, except that the backup model gets case `case` wrong."""

    def answer(messages: list[dict[str, Any]], request: dict[str, Any]) -> str:
        text = str(messages[-1]["content"]).split("REPLY:", 1)[1].strip()
        return "no" if "backup" in request["model"] and text.endswith(f" {case}") else text

    return answer


def swapped(base_url: str) -> str:
    return routing_for(base_url).replace("defaults:\n  model: main", "defaults:\n  model: backup", 1)


def test_a_branch_that_swaps_the_model_and_breaks_a_case_fails_eval_and_diff_naming_both_models(
    make_repo, cli, server: ProviderServer
) -> None:
    server.responder = backup_breaks("b")
    root = make_repo(project(server.base_url, {"a": "yes a", "b": "yes b"}, threshold=0.5))
    commit(root, {"routing.yaml": swapped(server.base_url)}, "serve answer with the backup model")
    code, out, err = cli("eval", "--repo", root, "--baseline", "HEAD~1", "--fail-on", "regression")
    assert code == 1, out + err
    assert "REGRESSED answer / b [main → backup]: pass → fail" in out
    assert "removed" not in out and "new" not in out and "✗ 1 case regressed against HEAD~1" in err
    code, out, err = cli("diff", "HEAD~1", "--repo", root, "--eval", "--fail-on", "regression")
    assert code == 1, out + err
    assert "regressed: answer / b [main → backup] pass → fail" in out
    assert "answer: 100% → 50%" in out


def test_deleting_a_case_never_lowers_heads_pass_rate(make_repo, cli, server: ProviderServer, tmp_path) -> None:
    files = project(server.base_url, {"a": "yes a", "b": "no b"}, threshold=1.0)
    root = make_repo({**files, ".gitignore": ".promptops/\n"})  # later commits take the tree, not the cache
    commit(root, {"evals/answer.yaml": suite({"a": "yes a"}, threshold=1.0)}, "delete b")
    report = tmp_path / "r.json"
    code, out, err = cli("eval", "--repo", root, "--baseline", "HEAD~1", "--fail-on", "regression", "-o", report)
    assert code == 0, out + err
    data = json.loads(report.read_text())
    assert [s["pass_rate"] for s in data["suites"]] == [1.0] and [c["case"] for c in data["removed"]] == ["b"]
    assert "FAIL answer / b" not in out and "REMOVED answer / b [main]: fail → -" in out
    code, out, err = cli("diff", "HEAD~1", "--repo", root, "--eval", "--fail-on", "regression")
    assert code == 0, out + err
    assert "answer: 50% → 100% (threshold 100%, gate passed)" in out


def test_an_override_recorded_after_a_baseline_run_applies_on_the_next_run(
    make_repo, cli, server: ProviderServer, tmp_path
) -> None:
    files = project(server.base_url, {"a": "yes a", "b": "no b"}, threshold=1.0)
    root = make_repo({**files, ".gitignore": ".promptops/\n"})  # later commits take the tree, not the cache
    commit(root, {"evals/answer.yaml": suite({"a": "yes a", "b": "nope b"}, threshold=1.0)}, "reword b")
    args = ("eval", "--repo", root, "--baseline", "HEAD~1", "-j", "1")
    assert cli(*args)[0] == 1
    code, out, err = cli("override", "answer", "b", "--verdict", "pass", "--reason", "fine", "--repo", root)
    assert code == 0, out + err
    report = tmp_path / "r.json"
    code, out, err = cli(*args, "-o", report)
    assert code == 0, out + err
    assert "OVERRIDDEN answer / b [main] run 0: override: pass by Ada Tester" in out
    # The JSON text of each result is made as it arrives; the report writes b as the override left it.
    (b,) = [r for r in json.loads(report.read_text())["results"] if r["case"] == "b"]
    assert (b["status"], b["override"]["verdict"], b["checks"][0]["passed"]) == ("pass", "pass", False)


def test_a_model_matrix_gates_each_model_on_its_own(make_repo, cli, server: ProviderServer, tmp_path) -> None:
    server.responder = backup_breaks("b")
    root = make_repo(project(server.base_url, {"a": "yes a", "b": "yes b"}, threshold=0.9))
    junit = tmp_path / "r.xml"
    code, out, err = cli("eval", "--repo", root, "--model", "main", "--model", "backup", "-o", junit)
    assert code == 1, out + err
    rows = [line.split() for line in out.splitlines() if line.startswith("answer [")]
    assert [(r[2], r[-1]) for r in rows] == [("backup]", "fail"), ("main]", "pass")]
    assert junit.read_text().count("<testsuite ") == 2


def test_changed_since_selects_suites_whose_pinned_sources_or_datasets_changed(
    make_repo, cli, server: ProviderServer, tmp_path
) -> None:
    files = project(server.base_url, {"a": "yes a"})
    files["prompts/answer.prompt"] = str(files["prompts/answer.prompt"]).replace(
        "---\n", "---\nsources: [docs/*.md]\n", 1
    )
    files["docs/policy.md"] = "Refunds within 30 days.\n"
    files[".gitignore"] = ".promptops/\n"  # later commits take the tree, not the cache
    files["prompts/other.prompt"] = "---\ninputs:\n  answer: {type: string}\n---\nREPLY: {{ answer }}\n"
    files["evals/other.yaml"] = "prompt: other\ndatasets: [data/other.jsonl]\n"
    files["evals/data/other.jsonl"] = (
        '{"id": "o", "vars": {"answer": "yes"}, "assert": [{"type": "contains", "value": "yes"}]}\n'
    )
    root = make_repo(files)

    def selected() -> list[str]:
        report = tmp_path / "r.json"
        code, out, err = cli("eval", "--repo", root, "--changed-since", "HEAD~1", "-o", report)
        assert code == 0, out + err
        return [s["suite"] for s in json.loads(report.read_text())["suites"]]

    commit(root, {"docs/policy.md": "Refunds within 14 days.\n"}, "shorten the refund window")
    assert selected() == ["answer"]
    extra = '{"id": "p", "vars": {"answer": "yes p"}, "assert": [{"type": "contains", "value": "yes"}]}\n'
    commit(root, {"evals/data/other.jsonl": str(files["evals/data/other.jsonl"]) + extra}, "one more row")
    assert selected() == ["other"]


def test_a_case_with_no_assertion_is_linted_and_reported_unchecked(
    make_repo, cli, server: ProviderServer, tmp_path
) -> None:
    files = project(server.base_url, {"a": "yes a"})
    files["evals/answer.yaml"] = str(files["evals/answer.yaml"]) + "  - id: bare\n    vars: {answer: 'yes'}\n"
    root = make_repo(files, use_git=False)
    code, out, err = cli("lint", root)
    assert code == 0, out + err
    assert "evals/answer.yaml:9" in out and "unchecked-case" in out and "'bare' has no assertion" in out
    report = tmp_path / "r.json"
    code, out, err = cli("eval", "--repo", root, "--routes", "all", "-o", report)
    assert code == 0, out + err
    verdicts = {(c["case"], c["variant"]): c["verdict"] for c in json.loads(report.read_text())["cases"]}
    assert verdicts == {
        ("a", "primary"): "pass", ("a", "kill-switch"): "unchecked",
        ("bare", "primary"): "unchecked", ("bare", "kill-switch"): "unchecked",
    }  # fmt: skip
    assert "UNCHECKED answer / bare [main]: no assertion applies" in out and "4 (3 unchecked)" in out


def test_the_base_side_of_a_baseline_run_applies_the_overrides_it_shipped_with(
    make_repo, cli, server: ProviderServer, tmp_path
) -> None:
    files = project(server.base_url, {"a": "yes a", "b": "no b"}, threshold=1.0)
    root = make_repo({**files, ".gitignore": ".promptops/\n"})  # later commits take the tree, not the cache
    assert cli("eval", "--repo", root)[0] == 1
    assert cli("override", "answer", "b", "--verdict", "pass", "--reason", "fine", "--repo", root)[0] == 0
    commit(root, {}, "record the override")
    commit(root, {"evals/overrides/answer.yaml": None}, "drop the override")
    report = tmp_path / "r.json"
    code, out, err = cli("eval", "--repo", root, "--baseline", "HEAD~1", "--fail-on", "regression", "-o", report)
    assert code == 1, out + err
    data = json.loads(report.read_text())
    assert [(s["pass_rate"], s["overrides"]) for s in data["base_suites"]] == [(1.0, 1)]
    assert {c["case"]: c["baseline"] for c in data["cases"]} == {"a": "unchanged", "b": "regressed"}
