"""`promptops eval` end to end: real HTTP to the test provider through litellm, real SQLite, real git.

Engine logic alone (thresholds, retries, shared requests, repeats, budgets, shards) is tested in milliseconds
against a scripted provider in test_engine.py; each kind keeps at least one end-to-end test here."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from conftest import commit
from eval_fixtures import SECRET, project, suite
from provider_server import FaultRate, ProviderServer

from promptops.loader import schema

pytestmark = pytest.mark.usefixtures("api_key")


def run(cli, root: Path, *args: str) -> tuple[int, str, str]:
    return cli("eval", "--repo", root, *args)


def test_all_gates_pass_exit_0_and_json_report_validates(make_repo, cli, server: ProviderServer, tmp_path) -> None:
    root = make_repo(project(server.base_url, {"a": "yes a", "b": "yes b"}))
    out_file = tmp_path / "report.json"
    code, out, err = run(cli, root, "-o", out_file)
    assert code == 0, out + err
    report = json.loads(out_file.read_text())
    jsonschema.validate(report, schema("results"))
    assert report["suites"][0]["passed"] == 2 and report["suites"][0]["pass_rate"] == 1.0
    assert server.requests_succeeded == 2
    assert "answer" in out and "100%" in out


def test_a_failing_case_below_threshold_exits_1_with_details(make_repo, cli, server: ProviderServer) -> None:
    root = make_repo(project(server.base_url, {"good": "yes", "bad": "no way"}, threshold=0.9))
    code, out, err = run(cli, root)
    assert code == 1, out + err
    assert "bad" in out and "no way" in out
    assert "a gate failed" in err


def test_provider_errors_after_retries_exit_3_and_name_the_error(make_repo, cli, server: ProviderServer) -> None:
    server.configure(faults="500")
    root = make_repo(project(server.base_url, {"a": "yes"}, retries=1))
    code, out, err = run(cli, root)
    assert code == 3, out + err
    assert "500" in err or "server" in err
    assert server.requests_received == 2  # one try and one retry


def test_bad_input_exits_2(make_repo, cli, server: ProviderServer) -> None:
    root = make_repo(project(server.base_url, {"a": "yes"}))
    code, _, err = run(cli, root, "nope")
    assert code == 2 and "no eval suite or prompt named 'nope'" in err
    assert run(cli, root, "--shard", "3/2")[0] == 2
    assert run(cli, root, "--record", "--replay")[0] == 2


def test_duplicate_case_id_fails_the_run_as_input_error(make_repo, cli, server: ProviderServer) -> None:
    files = project(server.base_url, {"a": "yes"})
    files["evals/answer.yaml"] = suite({"a": "yes"}) + "  - id: a\n    vars: {answer: 'yes'}\n"
    root = make_repo(files)
    code, _, err = run(cli, root)
    assert code == 2 and "duplicate case id 'a'" in err and "evals/answer.yaml:" in err


def test_warm_rerun_makes_no_calls(make_repo, cli, server: ProviderServer) -> None:
    root = make_repo(project(server.base_url, {f"c{i}": f"yes {i}" for i in range(10)}))
    assert run(cli, root)[0] == 0
    served = server.requests_received
    assert served == 10
    code, _out, _ = run(cli, root)
    assert code == 0
    assert server.requests_received == served
    code, _, _ = run(cli, root, "--no-cache")
    assert server.requests_received == served + 10


def test_no_cache_skips_reading_the_cache_but_its_fresh_answers_replace_the_cached_ones(
    make_repo, cli, server: ProviderServer, tmp_path
) -> None:
    root = make_repo(project(server.base_url, {"c0": "yes 0"}))
    assert run(cli, root)[0] == 0
    server.configure(responder=lambda messages, request: "yes, newer")
    report = tmp_path / "report.json"
    assert run(cli, root, "--no-cache")[0] == 0
    server.configure(responder=lambda messages, request: "never asked")
    served = server.requests_received
    assert run(cli, root, "-o", report)[0] == 0
    assert server.requests_received == served  # answered from the cache, which --no-cache refreshed
    assert [r["output"] for r in json.loads(report.read_text())["results"]] == ["yes, newer"]


def test_mixed_faults_end_with_fault_free_verdicts(make_repo, cli, server: ProviderServer, tmp_path) -> None:
    cases = {f"c{i}": ("yes" if i % 3 else "no") + f" {i}" for i in range(30)}
    root = make_repo(project(server.base_url, cases, threshold=0.5, retries=8))
    server.configure(faults=FaultRate(0.2, ("429", "500", "503", "malformed", "drop"), seed=7))
    faulty = tmp_path / "faulty.json"
    assert run(cli, root, "-o", faulty, "-j", "10")[0] == 0
    assert sum(server.fault_counts.values()) > 0
    server.configure(faults=None)
    clean = tmp_path / "clean.json"
    assert run(cli, root, "-o", clean, "--no-cache")[0] == 0

    def verdicts(path: Path) -> dict[str, str]:
        return {c["case"]: c["verdict"] for c in json.loads(path.read_text())["cases"]}

    assert verdicts(faulty) == verdicts(clean)
    assert list(verdicts(clean).values()).count("fail") == 10


def test_baseline_reports_exactly_the_broken_case_as_regressed(
    make_repo, cli, server: ProviderServer, tmp_path
) -> None:
    cases = {"a": "yes a", "b": "yes b", "c": "yes c", "d": "yes d"}
    root = make_repo(project(server.base_url, cases, threshold=0.7))
    broken = dict(cases, c="nope c")
    commit(root, {"evals/answer.yaml": suite(broken, threshold=0.7)}, "break c")
    out_file = tmp_path / "r.json"
    code, out, err = run(cli, root, "--baseline", "HEAD~1", "-o", out_file)
    assert code == 0, out + err  # still above the threshold
    classes = {c["case"]: c["baseline"] for c in json.loads(out_file.read_text())["cases"]}
    assert classes == {"a": "unchanged", "b": "unchanged", "c": "regressed", "d": "unchanged"}
    code, _, _ = run(cli, root, "--baseline", "HEAD~1", "--fail-on", "regression")
    assert code == 1


def test_the_store_keeps_each_result_as_json_dumps_writes_it_with_or_without_a_json_report(
    make_repo, cli, server: ProviderServer, tmp_path
) -> None:
    """With a JSON report, the store's text of a result is the report's text put on one line (not a second
    encoding): it must be what `json.dumps` of the result's fields writes, as without a report, for the base
    revision's results too."""
    import sqlite3
    from dataclasses import asdict

    from promptops.evaluate.store import task_result

    cases = {"a": "yes a", "b": "yes b", "c": "nope c"}
    root = make_repo(project(server.base_url, cases, threshold=0.3))
    commit(root, {"evals/answer.yaml": suite(dict(cases, b="nope b"), threshold=0.3)}, "break b")
    out_file = tmp_path / "r.json"
    assert run(cli, root, "--baseline", "HEAD~1", "-o", out_file)[0] == 0
    assert run(cli, root)[0] == 0  # the next run, without a report
    with sqlite3.connect(root / ".promptops" / "promptops.sqlite") as db:
        rows = db.execute("SELECT run_id, key, result FROM results ORDER BY rowid").fetchall()
    assert len(rows) == 9  # 3 at HEAD and 3 at the baseline, then 3 again
    for _, _, text in rows:
        assert text == json.dumps(asdict(task_result(json.loads(text))))
    report = json.loads(out_file.read_text())["results"]
    first_run = rows[0][0]
    stored = {json.loads(text)["case"]: text for run_id, key, text in rows if run_id == first_run and key[:4] != "base"}
    assert {r["case"]: json.dumps(r) for r in report} == stored


def test_changed_since_runs_only_affected_suites(make_repo, cli, server: ProviderServer, tmp_path) -> None:
    files = project(server.base_url, {"a": "yes"})
    files["prompts/other.prompt"] = "---\ninputs:\n  answer: {type: string}\n---\nREPLY: {{ answer }}\n"
    files["evals/other.yaml"] = suite({"o": "yes"}).replace("prompt: answer", "prompt: other")
    root = make_repo(files)
    commit(root, {"prompts/other.prompt": files["prompts/other.prompt"] + "\n"}, "touch other")  # type: ignore[operator]
    out_file = tmp_path / "r.json"
    assert run(cli, root, "--changed-since", "HEAD~1", "-o", out_file)[0] == 0
    assert [s["suite"] for s in json.loads(out_file.read_text())["suites"]] == ["other"]


def test_record_then_replay_offline_without_key(make_repo, cli, server: ProviderServer, monkeypatch) -> None:
    root = make_repo(project(server.base_url, {"a": "yes a", "b": "yes b"}))
    assert run(cli, root, "--record")[0] == 0
    recordings = list((root / "evals" / "recordings").glob("*.jsonl"))
    assert recordings
    monkeypatch.delenv("PROMPTOPS_TEST_KEY")
    server.stop()
    code, out, err = run(cli, root, "--replay")
    assert code == 0, out + err
    (root / "evals/answer.yaml").write_text(suite({"a": "yes a", "b": "yes b", "new": "yes new"}))
    code, _, err = run(cli, root, "--replay")
    assert code == 2
    assert "missing recordings: answer:new" in err and "--record" in err


def test_no_secret_in_any_report_recording_cache_or_message(make_repo, cli, server: ProviderServer, tmp_path) -> None:
    server.configure(responder=lambda messages, request: f"yes, the key is {SECRET}")
    root = make_repo(project(server.base_url, {"a": "yes"}))
    outputs = [tmp_path / "r.json", tmp_path / "r.xml", tmp_path / "r.md"]
    code, out, err = run(cli, root, "--record", *[x for p in outputs for x in ("-o", str(p))])
    assert code == 0, out + err
    server.configure(responder=None, faults="500")
    _code2, out2, err2 = run(cli, root, "--no-cache")
    texts = [out, err, out2, err2, *(p.read_text() for p in outputs)]
    texts += [p.read_bytes().decode("utf-8", "replace") for p in (root / ".promptops").rglob("*") if p.is_file()]
    texts += [p.read_text() for p in (root / "evals" / "recordings").rglob("*.jsonl")]
    assert all(SECRET not in t for t in texts)
    assert any(f"Bearer {SECRET}" == h for h in server.auth_headers)


def test_kill_switch_and_fallback_models_with_routes_all(make_repo, cli, server: ProviderServer, tmp_path) -> None:
    files = project(server.base_url, {"a": "yes"})
    files["routing.yaml"] += "routes:\n  answer: {model: main, fallbacks: [backup]}\n"  # type: ignore[operator]
    files["evals/answer.yaml"] = (
        "prompt: answer\ncases:\n  - id: a\n    vars: {answer: 'yes'}\n    assert:\n"
        "      - {type: contains, value: 'yes'}\n      - {type: not-contains, value: 'zzz', fallback: true}\n"
    )
    root = make_repo(files)
    out_file = tmp_path / "r.json"
    code, out, err = run(cli, root, "--routes", "all", "-o", out_file)
    assert code == 0, out + err
    variants = sorted((c["variant"], c["verdict"]) for c in json.loads(out_file.read_text())["cases"])
    assert variants == [("fallback:1", "pass"), ("kill-switch", "pass"), ("primary", "pass")]
    models = sorted(b["model"] for b in server.request_bodies)
    assert models == ["backup-model", "test-model"]


def test_repeat_reports_flaky_cases_and_gates_on_them(make_repo, cli, server: ProviderServer, tmp_path) -> None:
    counter = {"n": 0}

    def alternating(messages, request) -> str:
        counter["n"] += 1
        return "yes" if counter["n"] % 2 else "no"

    server.configure(responder=alternating)
    files = project(server.base_url, {"a": "x"}, repeat=4)
    files["evals/answer.yaml"] = files["evals/answer.yaml"].replace("repeat: 4", "repeat: 4\nmax_flaky: 0")  # type: ignore[union-attr]
    root = make_repo(files)
    out_file = tmp_path / "r.json"
    code, _, _ = run(cli, root, "-o", out_file, "-j", "1")
    assert code == 1
    data = json.loads(out_file.read_text())
    case = data["cases"][0]
    assert case["runs"] == 4 and case["flaky"] is True and case["pass_any"] is True and case["pass_all"] is False
    assert data["suites"][0]["flaky"] == 1


def test_an_eval_leaves_the_garbage_collector_as_it_found_it(make_repo, cli, server: ProviderServer, tmp_path) -> None:
    """Loading, planning and writing the reports pause the collector and freeze what they made: a program that
    runs `eval` in its own process and goes on running gets the collector back enabled, unfrozen, with its
    thresholds. (What was frozen before stays frozen, and may shrink as frozen objects are freed: importing
    litellm, earlier in this process, freezes its own objects.)"""
    import gc

    root = make_repo(project(server.base_url, {"a": "yes a", "b": "no b"}))
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    for args in (["-o", str(tmp_path / "report.json")], ["-o", str(tmp_path / "report.html")], []):
        code, out, err = run(cli, root, *args)
        assert code == 1, out + err
        assert gc.isenabled() and gc.get_freeze_count() <= frozen and gc.get_threshold() == before


def test_an_eval_keeps_the_callers_own_collector_state(make_repo, cli, server: ProviderServer, tmp_path) -> None:
    """A program that runs `eval` in its own process after disabling the collector, or after freezing its own
    objects (as a server does before it forks), finds both as it left them: the collector still disabled, and
    its frozen objects still frozen."""
    import gc

    root = make_repo(project(server.base_url, {"a": "yes a", "b": "no b"}))
    kept = [["the caller's own object"]]  # gc.get_objects() lists every tracked object but the frozen ones
    try:
        gc.freeze()
        assert not any(o is kept for o in gc.get_objects())
        gc.disable()
        code, out, err = run(cli, root, "-o", str(tmp_path / "report.json"))
        assert code == 1, out + err
        assert not gc.isenabled()
        assert not any(o is kept for o in gc.get_objects())
    finally:
        gc.enable()
        gc.unfreeze()


FINALIZED_AT_EXIT = """
import sys
from promptops.cli import main


class Note:
    def __del__(self) -> None:
        with open(sys.argv[2], "w") as out:
            out.write("finalized")


code = main(["eval", "--repo", sys.argv[1]])
note = Note()
note.cycle = note  # garbage in a cycle: only the collection at exit finalizes it
del note
sys.exit(code)
"""


def test_a_program_calling_eval_has_its_objects_finalized_at_exit(make_repo, server: ProviderServer, tmp_path) -> None:
    """A program that runs `eval` through promptops.cli.main and then exits still has its own objects collected,
    and their finalizers run, at exit (only the console script skips that last collection)."""
    import os
    import subprocess
    import sys

    root = make_repo(project(server.base_url, {"a": "yes a", "b": "no b"}))
    marker = tmp_path / "finalized.txt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run(
        [sys.executable, "-c", FINALIZED_AT_EXIT, str(root), str(marker)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert marker.read_text() == "finalized"
