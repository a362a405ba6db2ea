"""Eval options end to end: shards and merge, overrides, model matrix, budget, request pacing, CI outputs."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import pytest
from eval_fixtures import project, suite
from provider_server import ProviderServer

pytestmark = pytest.mark.usefixtures("api_key")


def run(cli, root: Path, *args: str | Path) -> tuple[int, str, str]:
    return cli("eval", "--repo", root, *args)


def verdicts(path: Path) -> dict[str, str]:
    return {c["case"]: c["verdict"] for c in json.loads(path.read_text())["cases"]}


def test_shards_merge_into_the_full_run(make_repo, cli, server: ProviderServer, tmp_path: Path) -> None:
    cases = {f"c{i}": ("yes" if i % 4 else "no") + f" {i}" for i in range(12)}
    root = make_repo(project(server.base_url, cases, threshold=0.9))
    full = tmp_path / "full.json"
    assert run(cli, root, "-o", full)[0] == 1
    parts = [tmp_path / f"shard{k}.json" for k in (1, 2, 3)]
    for k, part in enumerate(parts, 1):
        run(cli, root, "--shard", f"{k}/3", "-o", part)
    sizes = [len(json.loads(p.read_text())["cases"]) for p in parts]
    assert sum(sizes) == 12 and all(sizes)
    merged = tmp_path / "merged.json"
    code, out, err = cli("report", "merge", *parts, "-o", merged)
    assert code == 1, out + err  # the same gate as the full run: 75% < 90%
    assert verdicts(merged) == verdicts(full)
    assert (
        json.loads(merged.read_text())["suites"][0]["pass_rate"]
        == json.loads(full.read_text())["suites"][0]["pass_rate"]
    )
    code, _, err = cli("report", "merge", *parts[:2])
    assert code == 2 and "shard 3/3 missing" in err


def test_override_applies_while_the_output_is_unchanged(make_repo, cli, server: ProviderServer, tmp_path) -> None:
    root = make_repo(project(server.base_url, {"good": "yes", "odd": "nope, but correct"}))
    assert run(cli, root)[0] == 1
    code, _, err = cli(
        "override", "answer", "odd", "--verdict", "pass", "--reason", "correct for this customer", "--repo", root
    )
    assert code == 0, err
    saved = (root / "evals" / "overrides" / "answer.yaml").read_text()
    assert "correct for this customer" in saved and "Ada Tester" in saved
    report = tmp_path / "r.json"
    assert run(cli, root, "-o", report)[0] == 0
    data = json.loads(report.read_text())
    odd = next(r for r in data["results"] if r["case"] == "odd")
    assert odd["status"] == "pass" and odd["override"]["reason"] == "correct for this customer"
    (root / "evals" / "answer.yaml").write_text(suite({"good": "yes", "odd": "nope, different now"}))
    assert run(cli, root)[0] == 1  # a new output: the verdict no longer applies


def test_override_needs_a_reason_and_an_output(make_repo, cli, server: ProviderServer) -> None:
    root = make_repo(project(server.base_url, {"a": "yes"}))
    code, _, err = cli("override", "answer", "a", "--verdict", "pass", "--reason", "ok", "--repo", root)
    assert code == 2 and "run `promptops eval answer` first" in err
    code, _, err = cli("override", "answer", "a", "--verdict", "maybe", "--reason", "ok", "--repo", root)
    assert code == 2 and "pass or fail" in err


def test_model_matrix_runs_each_named_model(make_repo, cli, server: ProviderServer, tmp_path) -> None:
    root = make_repo(project(server.base_url, {"a": "yes"}))
    report = tmp_path / "r.json"
    assert run(cli, root, "--model", "main", "--model", "backup", "-o", report)[0] == 0
    assert sorted(r["model"] for r in json.loads(report.read_text())["results"]) == ["backup", "main"]
    assert sorted(b["model"] for b in server.request_bodies) == ["backup-model", "test-model"]
    code, _, err = run(cli, root, "--model", "nope")
    assert code == 2 and "known models: backup, main" in err


def test_cost_budget_stops_new_calls_with_exit_3(make_repo, cli, server: ProviderServer) -> None:
    files = project(server.base_url, {f"c{i}": f"yes {i}" for i in range(5)})
    files["routing.yaml"] = str(files["routing.yaml"]).replace("openai/test-model", "openai/gpt-4o-mini")
    root = make_repo(files)
    code, _, err = run(cli, root, "-j", "1", "--max-cost", "0.0000001")
    assert code == 3, err
    assert "cost budget" in err
    assert server.requests_received == 1


def test_rpm_paces_request_starts(make_repo, cli, server: ProviderServer) -> None:
    arrivals: list[float] = []

    def stamp(messages, request) -> str:
        arrivals.append(time.monotonic())
        return "yes"

    server.configure(responder=stamp)
    root = make_repo(project(server.base_url, {f"c{i}": f"x {i}" for i in range(4)}))
    assert run(cli, root, "--rpm", "300", "-j", "4")[0] == 0  # one request start every 0.2 s
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert len(gaps) == 3 and min(gaps) > 0.15


def test_github_actions_get_a_step_summary_and_annotations(
    make_repo, cli, server: ProviderServer, tmp_path, monkeypatch
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    root = make_repo(project(server.base_url, {"good": "yes", "bad": "no"}, threshold=0.9))
    code, out, _ = run(cli, root)
    assert code == 1
    assert "::error file=evals/answer.yaml" in out
    assert "answer" in summary.read_text() and "bad" in summary.read_text()


def test_junit_and_markdown_reports_by_extension(make_repo, cli, server: ProviderServer, tmp_path) -> None:
    root = make_repo(project(server.base_url, {"good": "yes", "bad": "no"}, threshold=0.5))
    xml, md = tmp_path / "r.xml", tmp_path / "r.md"
    assert run(cli, root, "-o", xml, "-o", md)[0] == 0
    assert xml.read_text().startswith("<?xml") and "<testsuite" in xml.read_text()
    assert "bad" in md.read_text()
    code, out, _ = run(cli, root, "--format", "json")
    assert code == 0 and json.loads(out)["suites"][0]["suite"] == "answer"


def test_replayed_answers_never_pass_for_live_ones(make_repo, cli, server: ProviderServer, monkeypatch) -> None:
    import shutil

    root = make_repo(project(server.base_url, {"a": "yes a"}))
    assert run(cli, root, "--record")[0] == 0
    shutil.rmtree(root / ".promptops")
    assert run(cli, root, "--replay")[0] == 0
    monkeypatch.delenv("PROMPTOPS_TEST_KEY")
    code, _, err = run(cli, root)  # live, with no key: the replayed answer must not come back from a cache
    assert code == 3 and "PROMPTOPS_TEST_KEY is not set" in err


def test_a_judge_outage_is_a_provider_error_not_bad_input(make_repo, cli, server: ProviderServer) -> None:
    files = project(server.base_url, {"a": "yes"}, retries=0)
    files["routing.yaml"] = (
        str(files["routing.yaml"])
        .replace("judge: main", "judge: broken")
        .replace(
            "models:\n",
            "models:\n  broken: {model: openai/judge, api_base: 'http://127.0.0.1:9/v1', api_key_env: PROMPTOPS_TEST_KEY}\n",
        )
    )
    files["evals/answer.yaml"] = suite({"a": "yes"}).replace(
        "      - {type: contains, value: yes}", "      - {type: llm-rubric, value: polite}"
    )
    root = make_repo(files)
    code, _, err = run(cli, root)
    assert code == 3, err
    assert "the judge failed" in err


def test_a_broken_routing_file_stops_eval_naming_it(make_repo, cli, server: ProviderServer) -> None:
    files = project(server.base_url, {"a": "yes"})
    files["routing.yaml"] = "models: [\n"
    root = make_repo(files)
    code, _, err = run(cli, root)
    assert code == 2 and "routing.yaml:" in err


def test_an_unwritable_report_path_is_an_input_error(make_repo, cli, server: ProviderServer, tmp_path) -> None:
    root = make_repo(project(server.base_url, {"a": "yes"}))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(cli, root, "-o", blocker / "r.json")
    assert code == 2 and "cannot write the file" in err and "Traceback" not in err


def test_a_cut_key_is_scrubbed_from_provider_messages() -> None:
    from promptops.providers.failures import scrub as _scrub

    key = "sk-test-0123456789abcdefghij"
    assert key[:14] not in _scrub("refused: " + "x" * 20 + key[:14] + "...", key)
    assert _scrub(f"bad key {key} given", key) == "bad key [REDACTED:secret] given"
