"""Eval result writers: the JSON against its published schema and back, JUnit against a strict XSD,
Markdown under its size limit, golden files for what a human reads."""

from __future__ import annotations

import dataclasses
import datetime
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from golden_files import check_golden
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptops import __version__
from promptops.errors import InputError
from promptops.evaluate.summary import summarize_cases, summarize_suite
from promptops.loader import schema
from promptops.model import CaseSummary, CheckResult, EvalReport, Override, Suite, SuiteSummary, TaskResult
from promptops.report import results
from promptops.report.results import (
    SUMMARY_HEADER,
    ResultTexts,
    from_dict,
    github_annotations,
    summary_rows,
    to_dict,
    to_json,
    to_junit,
    to_markdown,
    to_text_failures,
)

XSD = Path(__file__).resolve().parent.parent / "data" / "junit" / "JUnit.xsd"
NASTY = "unicode ✓ façade 日本語 🚀\n\x00\x07\x1b[31mred\x1b[0m\x7f\x85\r\n\ufffe ]]> <b>&amp;</b> ``` | %0A ::"


@cache
def junit_schema() -> Any:
    import xmlschema

    return xmlschema.XMLSchema(str(XSD))


def validate_json(report: EvalReport) -> dict[str, Any]:
    data = json.loads(to_json(report))
    jsonschema.Draft202012Validator(schema("results")).validate(data)
    return data


def validate_junit(report: EvalReport) -> ET.Element:
    text = to_junit(report)
    junit_schema().validate(text)
    return ET.fromstring(text.encode("utf-8"))


# -- reports built by hand -----------------------------------------------------------------------------------


def check(kind: str, passed: bool, reason: str, **kw: Any) -> CheckResult:
    return CheckResult(type=kind, passed=passed, score=1.0 if passed else 0.0, reason=reason, **kw)


def run(suite: str, case: str, repeat: int, status: str, output: str | None = "ok", **kw: Any) -> TaskResult:
    kw.setdefault("model", "gpt-4o-mini")
    kw.setdefault("variant", "primary")
    kw.setdefault("checks", (check("contains", status == "pass", "found 'refund'" if status == "pass" else "x"),))
    return TaskResult(
        suite=suite,
        case=case,
        repeat=repeat,
        key=f"k-{suite}-{case}-{repeat}-{kw['model']}",
        status=status,  # type: ignore[arg-type]
        output=output,
        score=1.0 if status == "pass" else 0.0,
        latency_ms=250.0,
        prompt_tokens=100,
        completion_tokens=20,
        cost=0.0001,
        output_hash=f"h{repeat}",
        **kw,
    )


def summary(suite: str, case: str, runs: list[TaskResult], **kw: Any) -> CaseSummary:
    """The engine's summary of one case's runs (promptops.evaluate.summary), with what a baseline would add."""
    assert all((r.suite, r.case) == (suite, case) for r in runs)
    (made,) = summarize_cases(runs)
    return replace(made, **kw)


def suite_summary(suite: str, cases: list[CaseSummary], results: list[TaskResult], **kw: Any) -> SuiteSummary:
    """The engine's row for a suite (promptops.evaluate.summary), its gate settings given by `kw`."""
    settings = {k: kw.pop(k) for k in ("threshold", "min_consistency", "max_flaky") if k in kw}
    definition = Suite(id=suite, path=f"evals/{suite}.yaml", prompt=suite.replace("-", "_"), **settings)
    return replace(summarize_suite(definition, cases, results, 1.5), **kw)


def representative() -> EvalReport:
    """Two suites: a refunds suite with repeats, a flaky case, a regression, an override and two models;
    a triage suite with a provider error and a hostile output."""
    override = Override(
        suite="support/refunds",
        case="tone",
        verdict="pass",
        reason="the apology is fine; the rubric is too strict",
        author="Ada Tester <ada@example.test>",
        time="2026-01-02T10:00:00Z",
        output_hash="h1",
    )
    window = [run("support/refunds", "window", i, "pass", "Refunds are possible within 30 days.") for i in (1, 2, 3)]
    flaky = [
        run("support/refunds", "partial", 1, "pass", "You get a partial refund."),
        run(
            "support/refunds",
            "partial",
            2,
            "fail",
            "No refund, sorry.",
            checks=(
                check("contains", False, "expected 'partial refund' in the output, got no match"),
                check("llm-rubric", True, "polite"),
                check("equals", False, "expected 'yes', got 'no'", negate=True),
            ),
        ),
        run("support/refunds", "partial", 3, "pass", "You get a partial refund."),
    ]
    tone = [
        run(
            "support/refunds",
            "tone",
            1,
            "pass",
            "We are sorry!",
            override=override,
            checks=(check("llm-rubric", False, "expected a calm tone, got an exclamation"),),
        )
    ]
    two_models = [
        run("support/refunds", "greeting", 1, "pass", "Hello!"),
        run("support/refunds", "greeting", 1, "fail", "Yo.", model="claude-haiku", checks=(
            check("contains", False, "expected 'Hello', got 'Yo.'"),
        )),
    ]  # fmt: skip
    kill = [run("support/refunds", "greeting", 1, "pass", "Sorry, try later.", variant="kill-switch")]
    refunds = [
        summary("support/refunds", "window", window, baseline="unchanged"),
        summary("support/refunds", "partial", flaky, baseline="regressed"),
        summary("support/refunds", "tone", tone, baseline="fixed"),
        summary("support/refunds", "greeting", two_models[:1], baseline="unchanged"),
        summary("support/refunds", "greeting", two_models[1:], baseline="new"),
        summary("support/refunds", "greeting", kill, baseline="unchanged"),
    ]
    spam = [
        run(
            "triage",
            "spam",
            1,
            "error",
            None,
            error="provider timeout after 60 s (openai: 504)",
            checks=(),
            error_kind="timeout",
        ),
        run("triage", "spam", 2, "pass", "spam"),
    ]
    billing = [run("triage", "billing", 1, "fail", NASTY, checks=(check("equals", False, "expected 'billing'"),))]
    triage = [
        summary("triage", "spam", spam, baseline="still-failing"),
        summary("triage", "billing", billing, baseline="flaky"),
    ]
    return EvalReport(
        run_id="run-20260102-0001",
        project="support-bot",
        label="working tree",
        started="2026-01-02T09:00:00+01:00",
        finished="2026-01-02T09:01:30+01:00",
        suites=(
            suite_summary("triage", triage, spam + billing, threshold=0.9),
            suite_summary(
                "support/refunds",
                refunds,
                window + flaky + tone + two_models + kill,
                threshold=0.9,
                min_consistency=0.8,
                max_flaky=0,
            ),
        ),
        cases=tuple(refunds + triage),
        results=tuple(spam + billing + window + flaky + tone + two_models + kill),
        baseline="main",
        shard="1/2",
    )


def passing() -> EvalReport:
    rs = [run("greet", "hello", 1, "pass", "Hello!")]
    cases = [summary("greet", "hello", rs)]
    return EvalReport(
        run_id="r1",
        project="",
        label="abc1234",
        started="2026-01-01T00:00:00Z",
        finished="2026-01-01T00:00:01Z",
        suites=(suite_summary("greet", cases, rs, threshold=0.9),),
        cases=tuple(cases),
        results=tuple(rs),
    )


# -- Hypothesis: any report the model allows -----------------------------------------------------------------

nasty_texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\x00", "\x1b[2J", "]]>", "\ud800", "\uffff", "<a href='x'>&</a>", "\r\n", NASTY]),
    st.lists(st.sampled_from(["a", "]]>", "\x0c", "`", "|", "\t", "é", "\ud83d", "%", "\n"]), max_size=12).map("".join),
)
names = st.one_of(st.text(min_size=1, max_size=20), st.sampled_from(["a", "support/refunds", "x y", "\x1b", "]]>"]))
floats = st.floats(allow_nan=False, allow_infinity=False, width=64)
shares = st.floats(min_value=0, max_value=1)
counts = st.integers(min_value=0, max_value=10**6)
amounts = st.floats(min_value=0, max_value=1e6)
statuses = st.sampled_from(["pass", "fail", "error", "unchecked"])
variants = st.one_of(st.sampled_from(["primary", "kill-switch"]), st.integers(1, 12).map(lambda n: f"fallback:{n}"))
baselines = st.sampled_from(
    [None, "regressed", "fixed", "still-failing", "flaky", "unchecked", "unchanged", "new", "removed"]
)
cells = st.one_of(st.just({}), st.builds(lambda m: {"model": m}, names))
stamps = st.one_of(
    st.datetimes(timezones=st.sampled_from([None, datetime.timezone.utc])).map(lambda d: d.isoformat()),
    nasty_texts,
)
optional_texts = st.none() | nasty_texts

checks = st.builds(
    CheckResult, type=names, passed=st.booleans(), score=floats, reason=nasty_texts, weight=floats,
    negate=st.booleans(), error=st.booleans(),
)  # fmt: skip
overrides = st.builds(
    Override, suite=names, case=names, verdict=st.sampled_from(["pass", "fail"]), reason=nasty_texts, author=nasty_texts, time=nasty_texts,
    output_hash=nasty_texts,
)  # fmt: skip
task_results = st.builds(
    TaskResult, suite=names, case=names, repeat=st.integers(0, 20), model=nasty_texts, variant=variants,
    key=nasty_texts, status=statuses, output=optional_texts, error=optional_texts,
    checks=st.lists(checks, max_size=3).map(tuple), score=floats, latency_ms=amounts, prompt_tokens=counts,
    completion_tokens=counts, cost=st.none() | amounts, cached=st.booleans(), output_hash=nasty_texts,
    override=st.none() | overrides, error_kind=st.none() | st.sampled_from(["input", "check", "timeout"]) | nasty_texts,
)  # fmt: skip
case_summaries = st.builds(
    CaseSummary, suite=names, case=names, model=nasty_texts, variant=variants, runs=counts, passed_runs=counts,
    failed_runs=counts, error_runs=counts, verdict=statuses, pass_all=st.booleans(), pass_any=st.booleans(),
    agreement=shares, flaky=st.booleans(), baseline=baselines, unchecked_runs=counts, axes=cells,
    base_model=st.none() | nasty_texts, base_verdict=st.none() | statuses,
)  # fmt: skip
suite_summaries = st.builds(
    SuiteSummary, suite=names, prompt=nasty_texts, path=nasty_texts, cases=counts, passed=counts, failed=counts,
    errors=counts, pass_rate=shares, threshold=shares, consistency=shares, flaky=counts,
    min_consistency=st.none() | shares, max_flaky=st.none() | counts, prompt_tokens=counts, completion_tokens=counts,
    cost=amounts, duration_s=amounts, gate_passed=st.booleans(), gate_reasons=st.lists(nasty_texts, max_size=2).map(tuple),
    axes=cells, unchecked=counts, missing_runs=st.integers(0, 3), overrides=counts,
)  # fmt: skip


@st.composite
def reports(draw: st.DrawFn) -> EvalReport:
    """Reports whose cases and runs often share a suite and case id, so the grouping paths are exercised."""
    suites = draw(st.lists(suite_summaries, max_size=3))
    ids = [s.suite for s in suites] + ["s"]
    same = st.sampled_from(ids)
    cases = draw(st.lists(st.one_of(case_summaries, st.builds(replace, case_summaries, suite=same)), max_size=4))
    pairs = [(c.suite, c.case, c.model, c.variant) for c in cases] or [("s", "c", "m", "primary")]
    results_ = draw(
        st.lists(
            st.one_of(
                task_results,
                st.builds(
                    lambda r, p: replace(r, suite=p[0], case=p[1], model=p[2], variant=p[3]),
                    task_results,
                    st.sampled_from(pairs),
                ),
            ),
            max_size=5,
        )
    )
    return EvalReport(
        run_id=draw(nasty_texts),
        project=draw(nasty_texts),
        label=draw(nasty_texts),
        started=draw(stamps),
        finished=draw(stamps),
        suites=tuple(suites),
        cases=tuple(cases),
        results=tuple(results_),
        baseline=draw(optional_texts),
        interrupted=draw(st.booleans()),
        shard=draw(optional_texts),
        axes=draw(st.sampled_from([(), ("model",)])),
        removed=tuple(draw(st.lists(st.builds(replace, case_summaries, baseline=st.just("removed")), max_size=2))),
        base_suites=tuple(draw(st.lists(suite_summaries, max_size=2))),
    )


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- JSON ----------------------------------------------------------------------------------------------------


def test_json_has_the_run_gate_totals_and_every_result() -> None:
    report = representative()
    data = validate_json(report)
    assert data["format_version"] == 1 and data["promptops_version"] == __version__
    assert (data["run_id"], data["baseline"], data["shard"], data["interrupted"]) == (
        "run-20260102-0001",
        "main",
        "1/2",
        False,
    )
    assert data["passed"] is False
    assert data["totals"] == {
        "suites": 2, "cases": 8, "passed": 4, "failed": 3, "errors": 1, "prompt_tokens": 1300,
        "completion_tokens": 260, "tokens": 1560, "cost": pytest.approx(0.0013),
    }  # fmt: skip
    assert [s["suite"] for s in data["suites"]] == ["support/refunds", "triage"]  # sorted
    assert [(c["case"], c["model"], c["variant"]) for c in data["cases"][:3]] == [
        ("greeting", "claude-haiku", "primary"),
        ("greeting", "gpt-4o-mini", "kill-switch"),
        ("greeting", "gpt-4o-mini", "primary"),
    ]
    partial = [r for r in data["results"] if r["case"] == "partial"]
    assert [r["repeat"] for r in partial] == [1, 2, 3]
    assert [c["type"] for c in partial[1]["checks"]] == ["contains", "llm-rubric", "equals"]  # assertion order kept
    billing = next(r for r in data["results"] if r["case"] == "billing")
    assert billing["output"] == NASTY  # everything, exactly: outputs are redacted upstream, not here
    tone = next(r for r in data["results"] if r["case"] == "tone")
    assert tone["override"]["author"] == "Ada Tester <ada@example.test>"


def test_passing_report_passes_and_interrupted_does_not() -> None:
    assert validate_json(passing())["passed"] is True
    assert validate_json(replace(passing(), interrupted=True))["passed"] is False


def test_round_trip_of_a_hand_built_report() -> None:
    data = to_dict(representative())
    assert to_dict(from_dict(data)) == data
    assert to_dict(from_dict(json.loads(json.dumps(data)))) == data


@PROPERTY
@given(reports())
def test_any_report_validates_and_round_trips(report: EvalReport) -> None:
    data = validate_json(report)
    assert to_dict(from_dict(data)) == data == to_dict(from_dict(to_dict(report)))


@PROPERTY
@given(reports())
def test_the_json_file_is_the_indented_text_of_the_document_byte_for_byte(report: EvalReport) -> None:
    # `-o FILE.json` writes the report's objects directly: the same bytes as indenting `to_dict`'s document.
    assert to_json(report) == json.dumps(to_dict(report), indent=2)


@PROPERTY
@given(reports(), st.data())
def test_results_written_as_they_arrived_give_the_same_json(report: EvalReport, data: st.DataObject) -> None:
    # An eval makes each result's JSON text as the result arrives; the report holds some of those results
    # unchanged, others replaced (an override makes a new result), and never the baseline's.
    texts = ResultTexts()
    for r in report.results:
        if data.draw(st.booleans()):
            texts.add(r)
            if data.draw(st.booleans()):
                texts.add(replace(r, status="fail"))  # an equal-looking result that is not the one reported
    texts.add(replace(report.results[0], case="elsewhere") if report.results else run("s", "base", 0, "pass"))
    assert to_json(report, texts) == to_json(report) == json.dumps(to_dict(report), indent=2)


@PROPERTY
@given(task_results)
def test_a_results_report_text_on_one_line_is_what_the_store_keeps(result: TaskResult) -> None:
    from promptops.evaluate.store import to_json
    from promptops.report import jsontext

    texts = ResultTexts()
    line = texts.add(result)
    assert line == to_json(result) == json.dumps(dataclasses.asdict(result))
    assert jsontext.compact(texts.text_or_result(result)) == line  # the report's text of it, on one line


def test_a_replaced_result_is_written_as_it_is_now_not_as_it_arrived() -> None:
    arrived = run("s", "c", 0, "fail")
    texts = ResultTexts()
    texts.add(arrived)
    overridden = replace(arrived, status="pass")  # what an override does to a result after the run
    report = replace(passing(), results=(overridden,))
    assert json.loads(to_json(report, texts))["results"][0]["status"] == "pass"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format_version=2), "format_version 2"),
        (lambda d: d.pop("format_version"), "format_version None"),
        (lambda d: d.pop("run_id"), "the document has no run_id"),
        (lambda d: d["suites"][1].pop("threshold"), "suites[1] has no threshold"),
        (lambda d: d["results"][0].update(checks={}), "results[0].checks must be a list"),
        (lambda d: d["results"][0].update(checks=[3]), "results[0].checks[0] must be an object"),
        (lambda d: d.update(cases=None), "cases must be a list"),
    ],
)
def test_from_dict_names_what_is_wrong(mutate: Any, message: str) -> None:
    data = to_dict(representative())
    mutate(data)
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        from_dict(data)
    with pytest.raises(InputError):
        from_dict([])


def test_the_schema_refuses_what_to_dict_never_writes() -> None:
    validator = jsonschema.Draft202012Validator(schema("results"))
    data = to_dict(representative())
    assert validator.is_valid(data)
    for path, value in [
        (("suites", 0, "surprise"), 1),
        (("results", 0, "status"), "skipped"),
        (("cases", 0, "baseline"), "worse"),
        (("results", 0, "variant"), "secondary"),
        (("totals", "tokens"), -1),
    ]:
        broken = json.loads(json.dumps(data))
        target = broken
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        assert not validator.is_valid(broken), path


# -- JUnit ---------------------------------------------------------------------------------------------------


def test_junit_validates_and_holds_suites_cases_gates_and_outputs() -> None:
    root = validate_junit(representative())
    suites = root.findall("testsuite")
    assert [(s.get("name"), s.get("tests"), s.get("failures"), s.get("errors"), s.get("skipped")) for s in suites] == [
        ("support/refunds", "7", "3", "0", "0"),
        ("triage", "3", "2", "1", "0"),
    ]
    assert suites[0].get("timestamp") == "2026-01-02T08:00:00"  # UTC, as the Ant form wants
    assert suites[0].get("time") == "2.500"  # the suite's own calls, not the whole run's wall time
    refunds = {c.get("name"): c for c in suites[0].findall("testcase")}
    assert sorted(refunds) == [
        "(gate)",
        "greeting [claude-haiku/primary]",
        "greeting [gpt-4o-mini/kill-switch]",
        "greeting [gpt-4o-mini/primary]",
        "partial",
        "tone",
        "window",
    ]
    assert {c.get("classname") for c in refunds.values()} == {"support/refunds"}
    assert refunds["window"].get("time") == "0.750" and len(refunds["window"]) == 0
    failure = refunds["partial"].find("failure")
    assert failure is not None and failure.get("type") == "assertion"
    assert failure.get("message") == (
        "contains: expected 'partial refund' in the output, got no match; not-equals: expected 'yes', got 'no'"
    )
    assert "No refund, sorry." in (failure.text or "") and "run 2: fail" in (failure.text or "")
    props = {p.get("name"): p.get("value") for p in suites[0].iter("property")}
    assert props["promptops.gate"] == "failed" and props["promptops.threshold"] == "0.9"
    assert props["promptops.min_consistency"] == "0.8" and props["promptops.max_flaky"] == "0"
    assert props["promptops.baseline"] == "main"
    triage = {c.get("name"): c for c in suites[1].findall("testcase")}
    error = triage["spam"].find("error")
    assert error is not None and error.get("type") == "provider"
    assert error.get("message") == "provider timeout after 60 s (openai: 504)"
    out = suites[1].findtext("system-out") or ""
    assert "]]> <b>&amp;</b>" in out and "日本語 🚀" in out  # escaped on the way in, intact on the way out
    assert "\\x1b[31mred" in out and "\x1b" not in out and "\\x00" in out and "\\ufffe" in out


def test_junit_output_is_cut_at_4_kb() -> None:
    big = [run("s", "c", 1, "fail", "é" * 5000)]
    report = replace(passing(), suites=(suite_summary("s", [summary("s", "c", big)], big),),
                     cases=(summary("s", "c", big),), results=tuple(big))  # fmt: skip
    root = validate_junit(report)
    out = root.find("testsuite/system-out")
    assert out is not None and out.text is not None
    assert "truncated: 10,000 bytes in all" in out.text and out.text.count("é") == 2048


def test_junit_of_an_empty_report_validates() -> None:
    empty = replace(passing(), suites=(), cases=(), results=())
    assert validate_junit(empty).findall("testsuite") == []


@PROPERTY
@given(reports())
def test_any_report_gives_valid_junit(report: EvalReport) -> None:
    root = validate_junit(report)
    for suite in root.findall("testsuite"):
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "")) == len(cases)
        assert int(suite.get("failures", "")) == sum(c.find("failure") is not None for c in cases)
        assert int(suite.get("errors", "")) == sum(c.find("error") is not None for c in cases)


# -- Markdown ------------------------------------------------------------------------------------------------


def test_markdown_golden() -> None:
    check_golden("eval-report.md", to_markdown(representative()))


def test_markdown_of_a_passing_report() -> None:
    text = to_markdown(passing())
    assert text.startswith("## ✅ promptops eval passed")
    assert "<details>" not in text and "Left out" not in text
    assert to_markdown(replace(passing(), interrupted=True)).startswith("## ⚠️ promptops eval interrupted")


def test_markdown_keeps_hostile_output_inert() -> None:
    text = to_markdown(representative())
    assert "\x1b" not in text and "\x00" not in text
    block = text[text.index("triage / billing") :]
    assert "````text\n" in block  # a longer fence than the ``` inside the output


def huge(suites: int, cases: int, output: int = 4000) -> EvalReport:
    rs, cs, ss = [], [], []
    for i in range(suites):
        mine = []
        for j in range(cases):
            r = run(f"suite-{i:04d}", f"case-{j:03d}", 1, "fail", "x" * output)
            rs.append(r)
            mine.append(summary(r.suite, r.case, [r]))
        cs += mine
        ss.append(suite_summary(f"suite-{i:04d}", mine, rs))
    return replace(passing(), suites=tuple(ss), cases=tuple(cs), results=tuple(rs))


def test_markdown_of_a_huge_report_drops_details_first_and_says_so() -> None:
    report = huge(40, 25)
    text = to_markdown(report)
    assert len(text) <= 65000
    assert text.count("| `suite-") == 40  # the whole summary table stayed
    shown = text.count("<details>")
    assert 0 < shown < 1000 and text.count("</details>") == shown
    assert f"the details of {1000 - shown} of 1000 failed or errored cases" in text
    assert text.rstrip().endswith("have everything.")


def test_markdown_cuts_the_summary_when_even_that_is_too_long() -> None:
    report = huge(3000, 1, output=10)
    text = to_markdown(report, limit=20000)
    assert len(text) <= 20000
    assert "the details of 3000 of 3000 failed or errored cases and the last" in text
    assert "<details>" not in text
    assert all(len(to_markdown(report, limit=n)) <= n for n in (0, 50, 400, 1000))


def test_markdown_limit_is_exact_at_the_edge() -> None:
    report = huge(3, 5, output=300)
    full = to_markdown(report, limit=10**9)
    assert to_markdown(report, limit=len(full)) == full
    cut = to_markdown(report, limit=len(full) - 1)
    assert len(cut) <= len(full) - 1 and "Left out" in cut


# -- text, annotations, summary rows -------------------------------------------------------------------------


def test_text_failures_golden() -> None:
    text = to_text_failures(representative())
    assert "\x1b" not in text and "\r" not in text
    check_golden("eval-failures.txt", text)
    assert to_text_failures(passing()) == ""


def test_text_output_is_truncated() -> None:
    rs = [run("s", "c", 1, "fail", "y" * 5000)]
    text = to_text_failures(replace(passing(), cases=(summary("s", "c", rs),), results=tuple(rs)))
    assert "y" * 1000 + "\n" in text and "y" * 1001 not in text and "truncated: 5,000 characters in all" in text


def test_github_annotations() -> None:
    lines = github_annotations(representative()).splitlines()
    assert lines == [
        "::error file=evals/support/refunds.yaml,title=promptops eval support/refunds::"
        "gate failed: pass rate 80%25 is below the threshold 90%25; 1 flaky cases exceed max_flaky 0",
        "::error file=evals/triage.yaml,title=promptops eval triage::"
        "gate failed: pass rate 33%25 is below the threshold 90%25; 1 case ended in error",
        "::error file=evals/triage.yaml,title=promptops eval triage::"
        "case spam [gpt-4o-mini] errored: provider timeout after 60 s (openai: 504)",
    ]
    assert github_annotations(passing()) == ""
    interrupted = github_annotations(replace(passing(), interrupted=True))
    assert interrupted == "::error title=promptops eval::the run was interrupted; the results are partial"


def test_annotations_escape_newlines_and_property_separators() -> None:
    s = suite_summary("a,b:c", [summary("x", "y", [run("x", "y", 1, "pass")])], [], path="evals/a,b.yaml",
                      gate_passed=False, gate_reasons=("line one\nline two 100%",))  # fmt: skip
    line = github_annotations(replace(passing(), suites=(s,)))
    assert (
        line == "::error file=evals/a%2Cb.yaml,title=promptops eval a%2Cb%3Ac::gate failed: line one%0Aline two 100%25"
    )


def test_summary_rows() -> None:
    rows = summary_rows(representative())
    assert all(len(row) == len(SUMMARY_HEADER) for row in rows)
    assert rows[0] == [
        "support/refunds", "6", "4", "2", "0", "80% / 90%", "83.3% (min 80%)", "1 (max 0)", "1,200", "$0.0010", "1.5 s",
        "fail",
    ]  # fmt: skip
    assert rows[1][0] == "triage" and rows[1][4] == "1"


def test_the_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, promptops.report.results; "
        "print(sorted(m for m in ('typer', 'rich', 'click', 'litellm', 'git', 'jinja2', 'jsonschema', 'yaml') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    assert results.__doc__


def test_only_the_writer_of_the_format_asked_for_is_imported() -> None:
    code = (
        "import sys\n"
        "from promptops.model import EvalReport\n"
        "from promptops.report import results\n"
        "writers = ('junit', 'markdown', 'results_html', 'html_page')\n"
        "def loaded(): return [w for w in writers if 'promptops.report.' + w in sys.modules]\n"
        "report = EvalReport('r', 'p', 'working tree', 's', 'f', (), (), ())\n"
        "results.render('json', report)\n"
        "print(loaded())\n"
        "results.render('junit', report)\n"
        "print(loaded())\n"
        "print(results.to_markdown.__module__, results.to_html.__module__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [
        "[]",
        "['junit']",
        "promptops.report.markdown promptops.report.results_html",
    ]
