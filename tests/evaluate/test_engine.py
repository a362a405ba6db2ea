"""The eval engine against a scripted fake provider (tests/scripted_provider.py): planning, repeats and variance,
baseline pairing, caching, retries with backoff, budgets, errors that never pass, shards. Each test runs in
milliseconds; the end-to-end tests over real HTTP (test_eval.py, test_eval_options.py) keep one of each kind."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import commit
from eval_fixtures import SECRET, project, suite
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scripted_provider import ScriptedProvider

from promptops import loader
from promptops.errors import InputError
from promptops.evaluate.engine import Evaluation, Settings, exit_code
from promptops.evaluate.runner import Options
from promptops.model import EvalReport
from promptops.providers import Completion, ProviderError
from promptops.workspace import open_source

URL = "http://127.0.0.1:9/v1"  # never called: the scripted provider answers
KEYED = {"PROMPTOPS_TEST_KEY": SECRET}
FAST = Options(backoff_base=0.001, seed=7)  # real backoff arithmetic, millisecond waits


def evaluate(root: Path, *, env: Mapping[str, str] = KEYED, options: Options = FAST, **chosen: object) -> EvalReport:
    """One eval run as `promptops eval` makes it, without the command line."""
    source = open_source(root)
    evaluation = Evaluation(root, source, loader.load(source), Settings(options=options, **chosen), env)  # type: ignore[arg-type]
    return evaluation.plan().run().report


def verdicts(report: EvalReport) -> dict[str, str]:
    return {c.case: c.verdict for c in report.cases}


Repo = Callable[..., Path]


@pytest.fixture
def tree(make_repo: Repo) -> Repo:
    """A project directory without git: the engine reads the working tree (baselines need git, and make_repo)."""
    return lambda files: make_repo(files, use_git=False)


# -- planning ------------------------------------------------------------------------------------------------


def test_one_request_per_case_rendered_and_routed_with_the_key_from_the_environment(
    tree: Repo, scripted: ScriptedProvider
) -> None:
    root = tree(project(URL, {"a": "yes a", "b": "no b"}, threshold=0.5))
    report = evaluate(root)
    assert sorted(scripted.users) == ["REPLY: no b", "REPLY: yes a"]
    assert {c.model for c in scripted.calls} == {"openai/test-model"}
    assert all(c.request.api_key == SECRET and c.request.params == {"temperature": 0} for c in scripted.calls)
    assert verdicts(report) == {"a": "pass", "b": "fail"}
    assert report.suites[0].pass_rate == 0.5 and exit_code(report) == 0


def test_the_end_of_the_calls_is_announced_once_after_every_result_and_before_the_report(
    tree: Repo, scripted: ScriptedProvider
) -> None:
    # `promptops eval` pauses the garbage collector there: the report is built of plain values, in no cycle.
    root = tree(project(URL, {"a": "yes a", "b": "no b", "c": "yes c"}, threshold=0.5))
    source = open_source(root)
    seen: list[str] = []
    evaluation = Evaluation(
        root,
        source,
        loader.load(source),
        Settings(options=FAST),
        KEYED,
        on_result=lambda r: seen.append(r.case),
        on_calls_done=lambda: seen.append("calls done"),
    )
    report = evaluation.plan().run().report
    assert sorted(seen[:3]) == ["a", "b", "c"] and seen[3:] == ["calls done"]
    assert len(report.results) == 3 and len(scripted.calls) == 3


def test_a_model_matrix_asks_each_named_model_once_per_case(tree: Repo, scripted: ScriptedProvider) -> None:
    root = tree(project(URL, {"a": "yes", "b": "yes b"}))
    report = evaluate(root, models=["main", "backup"])
    assert sorted(c.model for c in scripted.calls) == ["openai/backup-model"] * 2 + ["openai/test-model"] * 2
    assert sorted((r.case, r.model) for r in report.results) == [
        ("a", "backup"),
        ("a", "main"),
        ("b", "backup"),
        ("b", "main"),
    ]
    with pytest.raises(InputError, match="known models: backup, main"):
        evaluate(root, models=["nope"])


def test_a_suite_with_a_broken_file_stops_before_any_call(tree: Repo, scripted: ScriptedProvider) -> None:
    files = project(URL, {"a": "yes"})
    files["evals/answer.yaml"] = suite({"a": "yes"}) + "  - id: a\n    vars: {answer: 'yes'}\n"
    with pytest.raises(InputError, match="duplicate case id 'a'"):
        evaluate(tree(files))
    assert scripted.calls == []


# -- repeats and variance ------------------------------------------------------------------------------------


def test_repeats_send_one_request_each_and_a_changing_verdict_is_flaky(tree: Repo, scripted: ScriptedProvider) -> None:
    answers = itertools.cycle(["yes", "no"])
    scripted.responder = lambda request: next(answers)
    files = project(URL, {"a": "x"}, repeat=4)
    files["evals/answer.yaml"] = str(files["evals/answer.yaml"]).replace("repeat: 4", "repeat: 4\nmax_flaky: 0")
    report = evaluate(tree(files), options=replace(FAST, concurrency=1))
    assert len(scripted.calls) == 4 and len({c.request.key() for c in scripted.calls}) == 4  # each repeat its own
    case = report.cases[0]
    assert (case.runs, case.passed_runs, case.flaky, case.pass_any, case.pass_all) == (4, 2, True, True, False)
    assert report.suites[0].flaky == 1 and exit_code(report) == 1


@given(outputs=st.lists(st.sampled_from(["yes", "yes!", "no"]), min_size=1, max_size=6))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_repeat_verdicts_follow_the_runs(tree: Repo, scripted: ScriptedProvider, outputs: list[str]) -> None:
    answers = iter(outputs)
    scripted.responder = lambda request: next(answers)
    report = evaluate(tree(project(URL, {"a": "x"}, repeat=len(outputs))), options=replace(FAST, concurrency=1))
    case, passed = report.cases[0], sum(o != "no" for o in outputs)
    assert (case.runs, case.passed_runs, case.failed_runs) == (len(outputs), passed, len(outputs) - passed)
    assert case.pass_all == (passed == len(outputs)) and case.pass_any == (passed > 0)
    assert case.flaky == (0 < passed < len(outputs))
    assert case.agreement == pytest.approx(max(outputs.count(o) for o in outputs) / len(outputs), abs=1e-6)


# -- baseline pairing ----------------------------------------------------------------------------------------


def test_a_baseline_pairs_cases_and_names_the_regressed_one(make_repo: Repo, scripted: ScriptedProvider) -> None:
    cases = {"a": "yes a", "b": "yes b", "c": "yes c"}
    root = make_repo(project(URL, {**cases, "d": "no d", "e": "yes e"}, threshold=0.5))
    commit(root, {"evals/answer.yaml": suite({**cases, "c": "no c", "d": "yes d", "f": "yes f"}, threshold=0.5)})
    report = evaluate(root, baseline="HEAD~1")
    classes = {c.case: c.baseline for c in (*report.cases, *report.removed)}
    assert classes == {"a": "unchanged", "b": "unchanged", "c": "regressed", "d": "fixed", "e": "removed", "f": "new"}
    assert [c.case for c in report.removed] == ["e"]
    assert exit_code(report) == 0 and exit_code(report, fail_on_regression=True) == 1
    assert sorted(scripted.users) == sorted(
        f"REPLY: {a}" for a in ["yes a", "yes b", "no c", "yes d", "yes f", "yes c", "no d", "yes e"]
    )


# -- the cache -----------------------------------------------------------------------------------------------


def test_a_warm_run_asks_nothing_and_no_cache_asks_again(tree: Repo, scripted: ScriptedProvider) -> None:
    root = tree(project(URL, {f"c{i}": f"yes {i}" for i in range(5)}))
    first = evaluate(root)
    assert len(scripted.calls) == 5 and not any(r.cached for r in first.results)
    warm = evaluate(root)
    assert len(scripted.calls) == 5 and all(r.cached for r in warm.results) and verdicts(warm) == verdicts(first)
    evaluate(root, options=replace(FAST, use_cache=False))
    assert len(scripted.calls) == 10


def test_cases_sending_the_same_request_share_one_call_and_keep_their_own_results(
    tree: Repo, scripted: ScriptedProvider
) -> None:
    scripted.delay = 0.01  # both cases in flight at once
    root = tree(project(URL, {"a": "yes", "b": "yes"}))
    report = evaluate(root)
    assert len(scripted.calls) == 1
    assert sorted(r.case for r in report.results) == ["a", "b"] and exit_code(report) == 0
    with sqlite3.connect(root / ".promptops" / "promptops.sqlite") as db:
        assert sorted(row[0] for row in db.execute("SELECT case_id FROM results")) == ["a", "b"]


def test_an_error_is_never_cached(tree: Repo, scripted: ScriptedProvider) -> None:
    root = tree(project(URL, {"a": "yes"}, retries=0))
    scripted.then("500")
    assert exit_code(evaluate(root)) == 3
    assert exit_code(evaluate(root)) == 0 and len(scripted.calls) == 2


# -- retries and backoff -------------------------------------------------------------------------------------


def test_retryable_faults_are_retried_with_growing_backoff(tree: Repo, scripted: ScriptedProvider) -> None:
    scripted.then("429", "500", "503")
    report = evaluate(tree(project(URL, {"a": "yes"}, retries=3)), options=replace(FAST, backoff_base=0.02))
    assert exit_code(report) == 0 and len(scripted.calls) == 4
    gaps = [b.at - a.at for a, b in itertools.pairwise(scripted.calls)]
    # base * 2**attempt, times a jitter in [0.5, 1.5): 10-30 ms, 20-60 ms, 40-120 ms.
    assert gaps[0] >= 0.01 and gaps[1] >= 0.02 and gaps[2] >= 0.04
    assert gaps[2] > gaps[0]


def test_faults_past_the_retries_fail_the_task_naming_the_attempts(tree: Repo, scripted: ScriptedProvider) -> None:
    scripted.then("500", "500", "yes")
    report = evaluate(tree(project(URL, {"a": "yes"}, retries=1)))
    assert len(scripted.calls) == 2 and exit_code(report) == 3
    (result,) = report.results
    assert (result.status, result.error_kind) == ("error", "server")
    assert result.error is not None and "(after 2 attempts)" in result.error


@pytest.mark.parametrize("fault", ["401", "400"])
def test_a_fault_that_is_not_retryable_is_not_retried(tree: Repo, scripted: ScriptedProvider, fault: str) -> None:
    scripted.then(fault)
    report = evaluate(tree(project(URL, {"a": "yes"}, retries=5)))
    assert len(scripted.calls) == 1 and exit_code(report) == 3


def test_a_retry_after_is_honoured_and_one_past_the_limit_fails_at_once(tree: Repo, scripted: ScriptedProvider) -> None:
    root = tree(project(URL, {"a": "yes"}, retries=2))
    scripted.then(ProviderError("rate_limit", "429 slow down", retry_after=0.05))
    assert exit_code(evaluate(root)) == 0
    assert scripted.calls[1].at - scripted.calls[0].at >= 0.05
    scripted.calls.clear()
    scripted.then(ProviderError("rate_limit", "429 come back in an hour", retry_after=3600))
    report = evaluate(root, options=replace(FAST, use_cache=False, max_retry_wait=60))
    assert len(scripted.calls) == 1 and exit_code(report) == 3
    assert "asked to wait 3600 s" in str(report.results[0].error)


# -- budgets, pacing, concurrency ----------------------------------------------------------------------------


def test_a_cost_budget_stops_new_calls(tree: Repo, scripted: ScriptedProvider) -> None:
    scripted.cost = 0.01
    files = project(URL, {f"c{i}": f"yes {i}" for i in range(5)})
    files["routing.yaml"] = str(files["routing.yaml"]).replace(
        "PROMPTOPS_TEST_KEY}", "PROMPTOPS_TEST_KEY, price: {input_per_mtok: 1, output_per_mtok: 1}}", 1
    )  # a budget needs a price to count against
    root = tree(files)
    report = evaluate(root, options=replace(FAST, concurrency=1, max_cost=0.02))
    assert len(scripted.calls) == 2 and exit_code(report) == 3
    assert sorted(r.error_kind or r.status for r in report.results) == ["budget"] * 3 + ["pass"] * 2
    assert all("cost budget of 0.02 reached" in (r.error or "") for r in report.results if r.error)


def test_concurrency_bounds_the_calls_in_flight(tree: Repo, scripted: ScriptedProvider) -> None:
    scripted.delay = 0.005
    root = tree(project(URL, {f"c{i}": f"yes {i}" for i in range(9)}))
    evaluate(root, options=replace(FAST, concurrency=3))
    assert len(scripted.calls) == 9 and scripted.most_in_flight == 3


def test_rpm_spaces_request_starts(tree: Repo, scripted: ScriptedProvider) -> None:
    root = tree(project(URL, {f"c{i}": f"x {i}" for i in range(4)}))
    evaluate(root, options=replace(FAST, rpm=1200))  # one start every 50 ms
    gaps = [b.at - a.at for a, b in itertools.pairwise(scripted.calls)]
    assert len(gaps) == 3 and min(gaps) > 0.04


# -- errors never pass ---------------------------------------------------------------------------------------


def test_a_provider_error_fails_the_gate_whatever_the_threshold(tree: Repo, scripted: ScriptedProvider) -> None:
    scripted.then("401")
    report = evaluate(
        tree(project(URL, {"a": "yes a", "b": "yes b"}, threshold=0.0)), options=replace(FAST, concurrency=1)
    )
    assert sorted(c.verdict for c in report.cases) == ["error", "pass"]
    assert not report.passed and report.errors == 1 and exit_code(report) == 3


def test_a_missing_key_is_an_auth_error_and_nothing_is_sent(tree: Repo, scripted: ScriptedProvider) -> None:
    report = evaluate(tree(project(URL, {"a": "yes"})), env={})
    assert scripted.calls == [] and exit_code(report) == 3
    assert report.results[0].error_kind == "auth" and "PROMPTOPS_TEST_KEY is not set" in str(report.results[0].error)


def test_a_secret_in_an_answer_is_kept_nowhere(tree: Repo, scripted: ScriptedProvider) -> None:
    scripted.then(Completion(text=f"yes, the key is {SECRET}"), ProviderError("server", f"500 echoing {SECRET}"))
    root = tree(project(URL, {"a": "yes"}, retries=0))
    first = evaluate(root)
    second = evaluate(root, options=replace(FAST, use_cache=False))
    assert SECRET not in repr(first) and SECRET not in repr(second) and exit_code(second) == 3
    stored = b"".join(p.read_bytes() for p in (root / ".promptops").rglob("*") if p.is_file())
    assert SECRET.encode() not in stored


# -- shards --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_shards_split_the_cases_without_overlap_or_gap(tree: Repo, scripted: ScriptedProvider, count: int) -> None:
    cases = {f"c{i}": ("yes" if i % 4 else "no") + f" {i}" for i in range(7)}
    root = tree(project(URL, cases))
    parts = [
        {r.case for r in evaluate(root, shard=(k, count), options=replace(FAST, use_cache=False)).results}
        for k in range(1, count + 1)
    ]
    assert sum(len(p) for p in parts) == len(cases) and set().union(*parts) == set(cases)
    assert len(scripted.calls) == len(cases)
