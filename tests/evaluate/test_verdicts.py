"""Verdicts a team can stake a release on, against the scripted provider (milliseconds each): baseline pairing by
a case's identity across a model swap, removed cases on the base side only, overrides on each side, per-(suite,
model) rows in a matrix, incomplete and resumed runs, unchecked cases, and the gates' boundaries."""

from __future__ import annotations

import gc
import itertools
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import commit, write_tree
from eval_fixtures import project, routing_for, suite
from hypothesis import given, settings
from hypothesis import strategies as st
from scripted_provider import ScriptedProvider, last_user
from test_engine import FAST, URL, evaluate

from promptops.errors import InputError
from promptops.evaluate.engine import exit_code
from promptops.evaluate.merge import merge
from promptops.evaluate.runner import output_hash
from promptops.evaluate.summary import pair, summarize_cases, summarize_suite
from promptops.model import EvalReport, Suite, TaskResult, verdict_of
from promptops.providers import ProviderRequest
from promptops.report.results import from_dict, summary_rows, to_json, to_junit, to_markdown, to_text_notes

Repo = Callable[..., Path]
SWAPPED = routing_for(URL).replace("defaults:\n  model: main", "defaults:\n  model: backup", 1)


def backup_breaks(case: str) -> Callable[[ProviderRequest], str]:
    """Answers with the REPLY line, except that the backup model gets case `case` wrong."""

    def answer(request: ProviderRequest) -> str:
        text = last_user(request).split("REPLY:", 1)[1].strip()
        return "no" if request.model.name == "backup" and text.endswith(f" {case}") else text

    return answer


def classes(report: EvalReport) -> dict[str, str | None]:
    return {c.case: c.baseline for c in (*report.cases, *report.removed)}


# -- item 1: a model swap is paired, not turned into removed + new -------------------------------------------


def test_a_model_swap_pairs_each_case_and_names_the_regression_with_both_models(
    make_repo: Repo, scripted: ScriptedProvider
) -> None:
    scripted.responder = backup_breaks("b")
    root = make_repo(project(URL, {"a": "yes a", "b": "yes b"}, threshold=0.5))
    commit(root, {"routing.yaml": SWAPPED}, "swap the model")
    report = evaluate(root, baseline="HEAD~1")
    assert classes(report) == {"a": "unchanged", "b": "regressed"} and report.removed == ()
    b = next(c for c in report.cases if c.case == "b")
    assert (b.base_model, b.model, b.base_verdict, b.verdict) == ("main", "backup", "pass", "fail")
    assert exit_code(report) == 0 and exit_code(report, fail_on_regression=True) == 1
    assert "REGRESSED answer / b [main → backup]: pass → fail" in to_text_notes(report)
    assert to_markdown(report).startswith("## ⚠️ promptops eval gates passed, but 1 case regressed")
    assert "`answer/b` (main → backup)" in to_markdown(report)


def test_a_fallback_is_paired_by_its_place_in_the_chain(make_repo: Repo, scripted: ScriptedProvider) -> None:
    scripted.responder = backup_breaks("a")
    routes = "routes:\n  answer: {model: main, fallbacks: [%s]}\n"
    root = make_repo({**project(URL, {"a": "yes a"}), "routing.yaml": routing_for(URL) + routes % "main"})
    commit(root, {"routing.yaml": routing_for(URL) + routes % "backup"}, "swap the fallback")
    report = evaluate(root, baseline="HEAD~1", all_routes=True)
    fallback = next(c for c in report.cases if c.variant == "fallback:1")
    assert (fallback.baseline, fallback.base_model, fallback.model) == ("regressed", "main", "backup")
    assert report.removed == ()


def test_flaky_new_fixed_and_unchecked_classes(make_repo: Repo, scripted: ScriptedProvider) -> None:
    answers = itertools.cycle(["yes", "no"])
    scripted.responder = lambda r: next(answers) if "flip" in last_user(r) else last_user(r).split("REPLY:")[1]
    cases = {"flip": "flip", "fix": "no fix", "same": "yes same", "bare": "yes"}
    root = make_repo(project(URL, cases, threshold=0.0, repeat=2))
    bare = "  - id: bare\n    vars: {answer: 'yes'}\n"  # the same case, now with no assertion
    head = suite({"flip": "flip", "fix": "yes fix", "same": "yes same", "fresh": "yes"}, threshold=0.0, repeat=2)
    commit(root, {"evals/answer.yaml": head + bare})
    report = evaluate(root, baseline="HEAD~1", options=replace(FAST, concurrency=1))
    assert classes(report) == {
        "flip": "flaky", "fix": "fixed", "same": "unchanged", "fresh": "new", "bare": "unchecked"
    }  # fmt: skip
    assert exit_code(report, fail_on_regression=True) == 0


# -- item 2: removed cases are the base side's alone ---------------------------------------------------------


def test_a_removed_failing_case_never_lowers_heads_pass_rate_or_fails_its_gate(
    make_repo: Repo, scripted: ScriptedProvider
) -> None:
    root = make_repo(project(URL, {"a": "yes a", "b": "no b"}, threshold=1.0))
    commit(root, {"evals/answer.yaml": suite({"a": "yes a"}, threshold=1.0)}, "delete b")
    report = evaluate(root, baseline="HEAD~1")
    (row,) = report.suites
    assert (row.pass_rate, row.cases, row.failed, row.gate_passed) == (1.0, 1, 0, True)
    assert [c.case for c in report.removed] == ["b"] and [c.case for c in report.cases] == ["a"]
    assert report.base_suites[0].pass_rate == 0.5 and exit_code(report, fail_on_regression=True) == 0
    assert "FAIL" not in to_markdown(report).split("Compared with the baseline")[0]
    assert json.loads(to_json(report))["removed"][0]["baseline"] == "removed"


# -- item 3: each side applies its own overrides -------------------------------------------------------------


def test_the_base_side_applies_the_overrides_it_shipped_with(make_repo: Repo, scripted: ScriptedProvider) -> None:
    override = (
        "- case: b\n  verdict: pass\n  reason: the wording is fine\n  author: Ada\n  time: '2026-01-01T00:00:00Z'\n"
        f"  output_hash: {output_hash('no b')}\n"
    )
    root = make_repo(
        {**project(URL, {"a": "yes a", "b": "no b"}, threshold=1.0), "evals/overrides/answer.yaml": override}
    )
    commit(root, {"evals/overrides/answer.yaml": None, "evals/answer.yaml": suite({"a": "yes a", "b": "yes b"})})
    report = evaluate(root, baseline="HEAD~1")
    assert report.base_suites[0].pass_rate == 1.0 and report.base_suites[0].overrides == 1
    assert classes(report) == {"a": "unchanged", "b": "unchanged"}  # it passed at the base too, by override
    assert report.suites[0].overrides == 0


# -- item 4: a model matrix gates per (suite, model) ---------------------------------------------------------


def test_a_model_matrix_has_a_row_and_a_gate_per_suite_and_model(tmp_path: Path, scripted: ScriptedProvider) -> None:
    scripted.responder = backup_breaks("b")
    root = tmp_path / "p"
    write_tree(root, project(URL, {"a": "yes a", "b": "yes b"}, threshold=0.9))
    report = evaluate(root, models=["main", "backup"])
    rows = {s.axes["model"]: (s.pass_rate, s.gate_passed, s.cases) for s in report.suites}
    assert rows == {"main": (1.0, True, 2), "backup": (0.5, False, 2)} and exit_code(report) == 1
    assert [r[0] for r in summary_rows(report)] == ["answer [model: backup]", "answer [model: main]"]
    data = json.loads(to_json(report))
    assert data["axes"] == ["model"] and [s["axes"] for s in data["suites"]] == [{"model": "backup"}, {"model": "main"}]
    junit = to_junit(report)
    assert 'name="answer [model: backup]"' in junit and 'name="answer [model: main]"' in junit
    assert '<property name="promptops.model" value="backup"/>' in junit
    markdown = to_markdown(report)
    assert "`answer [model: backup]`" in markdown and "❌ fail" in markdown and "✅ pass" in markdown


# -- item 5: a run with results missing is incomplete --------------------------------------------------------


def test_an_interrupted_run_is_incomplete_never_a_pass_and_resumes_without_repeating_a_call(
    tmp_path: Path, scripted: ScriptedProvider
) -> None:
    root = tmp_path / "p"
    write_tree(root, project(URL, {f"c{i}": f"yes {i}" for i in range(6)}))
    answered = 0

    def stop_after_three(request: ProviderRequest) -> str:
        nonlocal answered
        answered += 1
        if answered == 4:
            raise KeyboardInterrupt
        return "yes"

    scripted.responder = stop_after_three
    partial = evaluate(root, options=replace(FAST, concurrency=1, use_cache=False))
    gc.collect()  # the tasks the interrupt left behind are dropped now, while asyncio's log is captured
    (row,) = partial.suites
    assert partial.interrupted and row.gate == "incomplete" and not row.gate_passed
    assert row.missing_runs == 3 and row.pass_rate == 1.0 and exit_code(partial) == 130
    assert "INCOMPLETE answer" in to_text_notes(partial)
    (merged,) = merge([from_dict(json.loads(to_json(partial)))]).suites  # what `report merge` makes of it
    assert merged.gate == "incomplete" and merged.missing_runs == 3
    scripted.responder = None
    resumed = evaluate(root, options=replace(FAST, concurrency=1, use_cache=False))
    assert len(scripted.calls) == 4 + 3  # the three finished cases were not asked again, even without the cache
    assert resumed.suites[0].gate == "pass" and exit_code(resumed) == 0


# -- item 6: a case that checks nothing is unchecked ---------------------------------------------------------


def test_a_case_without_assertions_and_an_unmarked_kill_switch_are_unchecked(
    tmp_path: Path, scripted: ScriptedProvider
) -> None:
    root = tmp_path / "p"
    files = project(URL, {"a": "no a"}, threshold=0.0)
    files["evals/answer.yaml"] = str(files["evals/answer.yaml"]) + "  - id: bare\n    vars: {answer: 'yes'}\n"
    write_tree(root, files)
    report = evaluate(root, all_routes=True)
    verdicts = {(c.case, c.variant): c.verdict for c in report.cases}
    assert verdicts == {
        ("a", "primary"): "fail",
        ("a", "kill-switch"): "unchecked",
        ("bare", "primary"): "unchecked",
        ("bare", "kill-switch"): "unchecked",
    }
    (row,) = report.suites
    assert (row.passed, row.failed, row.unchecked, row.pass_rate) == (0, 1, 3, 0.0)
    assert 'type="unchecked"' not in to_junit(report) and "<skipped" in to_junit(report)
    only_bare = tmp_path / "q"
    files["evals/answer.yaml"] = "prompt: answer\nthreshold: 0\ncases:\n  - id: bare\n    vars: {answer: 'yes'}\n"
    write_tree(only_bare, files)
    nothing = evaluate(only_bare)
    assert not nothing.suites[0].gate_passed and exit_code(nothing) == 1
    assert "nothing was checked" in nothing.suites[0].gate_reasons[0]


# -- item 17: the gates' boundaries --------------------------------------------------------------------------


@pytest.mark.parametrize(("max_flaky", "code"), [(0, 1), (1, 0)])
def test_max_flaky_allows_exactly_that_many_flaky_cases(
    tmp_path: Path, scripted: ScriptedProvider, max_flaky: int, code: int
) -> None:
    answers = itertools.cycle(["yes", "no"])
    scripted.responder = lambda r: next(answers) if "flip" in last_user(r) else "yes"
    root = tmp_path / "p"
    text = suite({"flip": "flip", "steady": "x"}, threshold=0.0, repeat=2) + f"max_flaky: {max_flaky}\n"
    write_tree(root, {**project(URL, {}), "evals/answer.yaml": text})
    report = evaluate(root, options=replace(FAST, concurrency=1))
    assert report.suites[0].flaky == 1 and exit_code(report) == code


@pytest.mark.parametrize(("minimum", "code"), [(0.5, 0), (0.6, 1)])
def test_min_consistency_gates_on_the_share_of_steady_cases(
    tmp_path: Path, scripted: ScriptedProvider, minimum: float, code: int
) -> None:
    answers = itertools.cycle(["yes", "no"])
    scripted.responder = lambda r: next(answers) if "flip" in last_user(r) else "yes"
    root = tmp_path / "p"
    text = suite({"flip": "flip", "steady": "x"}, threshold=0.0, repeat=2) + f"min_consistency: {minimum}\n"
    write_tree(root, {**project(URL, {}), "evals/answer.yaml": text})
    report = evaluate(root, options=replace(FAST, concurrency=1))
    assert report.suites[0].consistency == 0.5 and exit_code(report) == code
    assert any("min_consistency" in r for r in report.suites[0].gate_reasons) == bool(code)


def test_a_matrix_and_a_fallback_drill_do_not_combine(tmp_path: Path, scripted: ScriptedProvider) -> None:
    write_tree(tmp_path, project(URL, {"a": "yes"}))
    with pytest.raises(InputError, match="do not combine"):
        evaluate(tmp_path, models=["main", "backup"], all_routes=True)
    assert scripted.calls == []


# -- properties of pairing -----------------------------------------------------------------------------------

statuses = st.sampled_from(["pass", "fail", "error", "unchecked"])
runs_of_a_side = st.dictionaries(
    st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.sampled_from(["primary", "fallback:1"])),
    st.tuples(st.sampled_from(["main", "backup"]), st.lists(statuses, min_size=1, max_size=3)),
    max_size=6,
)


def side(runs: dict[tuple[str, str], tuple[str, list[str]]]) -> list[TaskResult]:
    return [
        TaskResult(suite="s", case=case, repeat=i, model=model, variant=variant, key=f"{case}{i}", status=status)  # type: ignore[arg-type]
        for (case, variant), (model, statuses_) in runs.items()
        for i, status in enumerate(statuses_)
    ]


@given(base=runs_of_a_side, head=runs_of_a_side)
@settings(max_examples=60, deadline=None)
def test_pairing_never_changes_heads_numbers_and_classifies_by_identity(base: dict, head: dict) -> None:
    definition = Suite(id="s", path="evals/s.yaml", prompt="p", threshold=0.5)
    head_results = side(head)
    alone = summarize_cases(head_results)
    paired, removed = pair(summarize_cases(side(base)), alone)
    assert summarize_suite(definition, paired, head_results, 0) == summarize_suite(definition, alone, head_results, 0)
    assert {(c.case, c.variant) for c in removed} == set(base) - set(head)
    assert {(c.case, c.variant) for c in paired} == set(head)
    for c in paired:
        if (c.case, c.variant) not in base:
            assert (c.baseline, c.base_model) == ("new", None)
            continue
        old = verdict_of(base[(c.case, c.variant)][1])
        assert (c.base_model, c.base_verdict) == (base[(c.case, c.variant)][0], old)  # whatever model served it
        if c.baseline == "regressed":
            assert old == "pass" and c.verdict in ("fail", "error")
        if old == "pass" and c.verdict in ("fail", "error"):
            assert c.baseline in ("regressed", "flaky")
