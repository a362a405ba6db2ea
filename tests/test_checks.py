"""Assertion kinds: each one passing, failing and negated; errors that never pass; python checks against real
files; llm-rubric with a fake judge; verdicts; static validation; and run_checks never raising."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import strategies as s
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from promptops.checks import CHECKS, KINDS, Judge, Observation, run_checks, validate, verdict
from promptops.model import Assertion, CheckResult, Prompt

PROMPT = Prompt(id="support/refund", path="prompts/support/refund.prompt", body="{{ question }}")
STATUS_SCHEMA = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"enum": ["ok", "refused"]}, "items": {"type": "array", "items": {"type": "integer"}}},
}
SCHEMA_PROMPT = dataclasses.replace(PROMPT, output=STATUS_SCHEMA)


def A(kind: str, value: Any = None, **settings: Any) -> Assertion:
    """An assertion as the loader builds it: path/min/max/description go to `config`."""
    config: dict[str, Any] = {k: settings.pop(k) for k in ("path", "min", "max", "description") if k in settings}
    config.update(settings.pop("config", {}))
    return Assertion(type=kind, value=value, config=config, **settings)


def run(
    asserts: Assertion | list[Assertion],
    output: str,
    *,
    prompt: Prompt = PROMPT,
    judge: Judge | None = None,
    **observed: Any,
) -> list[CheckResult]:
    items = asserts if isinstance(asserts, list) else [asserts]
    return asyncio.run(run_checks(items, Observation(output, prompt, **observed), judge))


def one(assertion: Assertion, output: str, **kwargs: Any) -> CheckResult:
    (result,) = run(assertion, output, **kwargs)
    return result


# -- every sync kind: pass and fail --------------------------------------------------------------------------

# (assertion, output, observation extras, passed, score, a piece of the reason)
TABLE: list[Any] = [
    # equals
    (A("equals", "hello"), "hello", {}, True, 1.0, "equals"),
    (A("equals", "hello"), "hello\n", {}, False, 0.0, "differ at character 5"),
    (A("equals", "hello"), "help", {}, False, 0.0, "differ at character 3"),
    (A("equals", {"a": 1, "b": [True]}), ' {"b": [true], "a": 1.0}\n', {}, True, 1.0, "JSON equals"),
    (A("equals", {"a": 1}), '{"a": true}', {}, False, 0.0, 'got {"a": true}'),
    (A("equals", [1, 2]), "[2, 1]", {}, False, 0.0, "expected [1, 2]"),
    (A("equals", [1, 2]), "one, two", {}, False, 0.0, "not JSON"),
    (A("equals", 42), " 42 ", {}, True, 1.0, "JSON equals"),
    (A("equals", True), "1", {}, False, 0.0, "expected true"),
    # contains, icontains
    (A("contains", "refund"), "We refund within 14 days", {}, True, 1.0, "found 'refund'"),
    (A("contains", "Refund"), "We refund within 14 days", {}, False, 0.0, "'Refund' not found in 'We refund"),
    (A("contains", 14), "within 14 days", {}, True, 1.0, "found '14'"),
    (A("icontains", "REFUND"), "We refund", {}, True, 1.0, "ignoring case"),
    (A("icontains", "STRASSE"), "Hauptstraße 1", {}, True, 1.0, "ignoring case"),
    (A("icontains", "money back"), "We refund", {}, False, 0.0, "not found"),
    # contains-any, contains-all
    (A("contains-any", ["refund", "return"]), "You may return it", {}, True, 1.0, "found 'return'"),
    (A("contains-any", ["swap", "credit"]), "You may return it", {}, False, 0.0, 'none of ["swap", "credit"]'),
    (A("contains-all", ["14", "days"]), "within 14 days", {}, True, 1.0, "found all 2"),
    (A("contains-all", ["14", "days", "receipt"]), "within 14 days", {}, False, 2 / 3, 'missing 1 of 3: ["receipt"]'),
    # icontains-any, icontains-all
    (A("icontains-any", ["REFUND", "swap"]), "We refund", {}, True, 1.0, "found 'REFUND' (ignoring case)"),
    (A("icontains-any", ["swap", "Credit"]), "We refund", {}, False, 0.0, 'none of ["swap", "Credit"]'),
    (A("icontains-all", ["WE", "Refund"]), "we refund", {}, True, 1.0, "found all 2 (ignoring case)"),
    (
        A("icontains-all", ["we", "DAYS", "receipt"]),
        "We refund in 14 days",
        {},
        False,
        2 / 3,
        'missing 1 of 3: ["receipt"]',
    ),
    # regex
    (A("regex", r"\b14 days\b"), "within 14 days.", {}, True, 1.0, "matched '14 days' at character 7"),
    (A("regex", r"^\d+$"), "abc", {}, False, 0.0, "no match for"),
    (A("regex", "(?i)REFUND"), "a refund", {}, True, 1.0, "matched 'refund'"),
    # starts-with
    (A("starts-with", "Hello"), "Hello there", {}, True, 1.0, "starts with 'Hello'"),
    (A("starts-with", "Hello"), " Hello there", {}, False, 0.0, "expected to start with 'Hello', got ' Hello"),
    # ends-with
    (A("ends-with", "thanks."), "Bye, thanks.", {}, True, 1.0, "ends with 'thanks.'"),
    (A("ends-with", "thanks."), "Bye, thanks.\n", {}, False, 0.0, "expected to end with 'thanks.'"),
    # is-json
    (A("is-json"), '  {"a": 1}\n', {}, True, 1.0, "a mapping"),
    (A("is-json", STATUS_SCHEMA), '{"status": "ok"}', {}, True, 1.0, "matches the schema"),
    (A("is-json", STATUS_SCHEMA), '{"status": "maybe"}', {}, False, 0.0, "$.status: 'maybe' is not one"),
    (A("is-json", STATUS_SCHEMA), "status: ok", {}, False, 0.0, "not JSON"),
    (A("is-json"), "42", {}, True, 1.0, "a number"),
    (A("is-json"), "{'a': 1}", {}, False, 0.0, "not JSON"),
    (A("is-json"), "NaN", {}, False, 0.0, "NaN is not JSON"),
    (A("is-json"), '{"a": -Infinity}', {}, False, 0.0, "not JSON"),
    (A("is-json"), '```json\n{"a": 1}\n```', {}, False, 0.0, "not JSON"),
    (A("is-json"), "", {}, False, 0.0, "not JSON"),
    # json-schema: given, or the prompt's output schema
    (A("json-schema", STATUS_SCHEMA), '{"status": "ok"}', {}, True, 1.0, "matches the schema"),
    (A("json-schema", STATUS_SCHEMA), "{}", {}, False, 0.0, "$: 'status' is a required property"),
    (A("json-schema", STATUS_SCHEMA), '{"status": "ok", "items": [1, "x"]}', {}, False, 0.0, "$.items[1]: 'x' is not"),
    (A("json-schema"), '{"status": "ok"}', {"prompt": SCHEMA_PROMPT}, True, 1.0, "matches the schema"),
    (A("json-schema"), '{"status": "maybe"}', {"prompt": SCHEMA_PROMPT}, False, 0.0, "$.status: 'maybe' is not one"),
    (A("json-schema"), "status: ok", {"prompt": SCHEMA_PROMPT}, False, 0.0, "not JSON"),
    (A("json-schema", {"type": "string", "format": "email"}), '"nobody"', {}, False, 0.0, "is not a 'email'"),
    (A("json-schema", {"required": ["a", "b"]}), "{}", {}, False, 0.0, "(and 1 more)"),
    # json-path: existence, or equality with `value`
    (A("json-path", path="$.status"), '{"status": "ok"}', {}, True, 1.0, "$.status selects 'ok'"),
    (A("json-path", path="status"), '{"status": "ok"}', {}, True, 1.0, "selects 'ok'"),
    (A("json-path", "ok", path="$.status"), '{"status": "ok"}', {}, True, 1.0, "$.status is 'ok'"),
    (
        A("json-path", "no", path="$.status"),
        '{"status": "ok"}',
        {},
        False,
        0.0,
        "expected $.status to be 'no', got 'ok'",
    ),
    (A("json-path", path="$.missing"), '{"status": "ok"}', {}, False, 0.0, "$.missing selects nothing"),
    (A("json-path", [1, 2], path="$.items[*].id"), '{"items": [{"id": 1}, {"id": 2}]}', {}, True, 1.0, "is [1, 2]"),
    (A("json-path", 2, path="$.items[?@.id > 1].id"), '{"items": [{"id": 1}, {"id": 2}]}', {}, True, 1.0, "is 2"),
    (A("json-path", 1, path="$.n"), '{"n": true}', {}, False, 0.0, "got true"),
    (A("json-path", path="$.status"), "not json", {}, False, 0.0, "not JSON"),
    (A("json-path", "[x", path="$"), '"[x"', {}, True, 1.0, "$ is '[x'"),
    (A("json-path", path="$.a"), '"text"', {}, False, 0.0, "selects nothing"),
    # length
    (A("length", min=3, max=5), "abcd", {}, True, 1.0, "4 characters (at least 3 and at most 5)"),
    (A("length", min=3, max=5), "ab", {}, False, 0.0, "2 characters, expected at least 3"),
    (A("length", min=3, max=5), "abcdef", {}, False, 0.0, "6 characters, expected at most 5"),
    (A("length", 5), "abcdef", {}, False, 0.0, "expected at most 5"),
    (A("length", min=1), "é", {}, True, 1.0, "1 character (at least 1)"),
    (A("length", max=0), "", {}, True, 1.0, "0 characters (at most 0)"),
    # similar
    (A("similar", "the quick brown fox"), "the quick brown fix", {}, True, 18 / 19, "similarity 0.95"),
    (A("similar", "the quick brown fox"), "a slow green turtle", {}, False, None, "(threshold 0.8); got 'a slow"),
    (A("similar", ["zzz", "hello world"]), "hello world!", {}, True, 22 / 23, "to 'hello world'"),
    (A("similar", "hello world", threshold=0.99), "hello world!", {}, False, 22 / 23, "threshold 0.99"),
    (A("similar", "abc"), "abc", {}, True, 1.0, "similarity 1.00"),
    # latency and cost
    (A("latency", 1000), "x", {"latency_ms": 250.0}, True, 1.0, "took 250 ms (limit 1000 ms)"),
    (A("latency", 1000), "x", {"latency_ms": 1500.4}, False, 0.0, "took 1500 ms, limit 1000 ms"),
    (A("cost", 0.01), "x", {"cost": 0.002}, True, 1.0, "cost 0.002 (limit 0.01)"),
    (A("cost", 0.01), "x", {"cost": 0.05}, False, 0.0, "cost 0.05, limit 0.01"),
]


def _ids(row: Any) -> str:
    a = row[0]
    return f"{a.type}-{'pass' if row[3] else 'fail'}-{TABLE.index(row)}"


@pytest.mark.parametrize("row", TABLE, ids=_ids)
def test_each_kind_passes_and_fails(row: Any) -> None:
    assertion, output, extra, passed, score, reason = row
    result = one(assertion, output, **extra)
    assert (result.passed, result.error) == (passed, False), result.reason
    if score is not None:
        assert result.score == pytest.approx(score)
    assert reason in result.reason
    assert result.type == assertion.type
    assert result.weight == assertion.weight


@pytest.mark.parametrize("row", TABLE, ids=_ids)
def test_negation_flips_pass_and_score(row: Any) -> None:
    assertion, output, extra, *_ = row
    plain = one(assertion, output, **extra)
    negated = one(dataclasses.replace(assertion, negate=True), output, **extra)
    assert negated.passed is not plain.passed
    assert negated.score == pytest.approx(1 - plain.score)
    assert negated.reason == f"not: {plain.reason}"
    assert negated.negate and negated.label == f"not-{assertion.type}"


def test_every_kind_is_covered() -> None:
    covered = {row[0].type for row in TABLE} | {"python", "llm-rubric"}
    assert covered == set(KINDS) == {*CHECKS, "llm-rubric"}


def test_reasons_cut_long_outputs() -> None:
    long = "x" * 10_000
    for assertion in (A("contains", "needle"), A("equals", "y"), A("is-json"), A("similar", "abc")):
        result = one(assertion, long)
        assert not result.passed
        assert len(result.reason) < 300
        assert "..." in result.reason


def test_results_keep_order_and_weights() -> None:
    results = run([A("contains", "a", weight=2.0), A("contains", "z", weight=0.5)], "abc")
    assert [(r.passed, r.weight) for r in results] == [(True, 2.0), (False, 0.5)]


# -- errors never pass ---------------------------------------------------------------------------------------

ERRORS: list[Any] = [
    (A("regex", "("), {}, "regex '(' does not compile"),
    (A("contains"), {}, "contains needs a `value`"),
    (A("contains", {"a": 1}), {}, "needs a string `value`, got a mapping"),
    (A("contains-any", "abc"), {}, "needs a non-empty list of strings"),
    (A("contains-all", []), {}, "got an empty list"),
    (A("json-path"), {}, "needs a `path`"),
    (A("json-path", path="$["), {}, "invalid JSONPath '$['"),
    (A("length"), {}, "needs `min`, `max` or `value`"),
    (A("length", min=5, max=2), {}, "`min` 5 is above `max` 2"),
    (A("similar", "abc", threshold=1.5), {}, "similar must be between 0 and 1, got 1.5"),
    (A("latency", 100), {}, "latency of this output is unknown"),
    (A("cost", 0.5), {}, "cost of this output is unknown"),
    (A("llm-rubric", "is polite"), {}, "needs a judge model"),
    (A("json-schema"), {}, "prompt 'support/refund' declares no `output` schema"),
    (A("json-schema", {"type": "nope"}), {}, "not a valid JSON Schema: $.type"),
    (A("json-schema", {"$ref": "https://example.test/schema.json"}), {}, "check failed to run: "),
    (A("python", "evals/checks.py:ok"), {}, "python checks need the repository root"),
    (A("sentiment", "positive"), {}, "unknown assertion type 'sentiment' (known: equals, contains"),
]


@pytest.mark.parametrize(("assertion", "extra", "reason"), ERRORS, ids=lambda x: getattr(x, "type", ""))
@pytest.mark.parametrize("negate", [False, True], ids=["plain", "negated"])
def test_a_check_that_cannot_run_is_an_error_never_a_pass(
    assertion: Assertion, extra: dict[str, Any], reason: str, negate: bool
) -> None:
    result = one(dataclasses.replace(assertion, negate=negate), '{"status": "ok"}', **extra)
    assert result.error and not result.passed and result.score == 0.0
    assert result.reason.startswith("check failed to run: ")
    assert reason in result.reason
    assert result.negate is negate
    assert verdict([result])[0] == "error"


def test_an_error_does_not_stop_the_other_checks() -> None:
    results = run([A("regex", "["), A("contains", "ok")], "ok")
    assert [(r.error, r.passed) for r in results] == [(True, False), (False, True)]


# -- python checks, from real files ---------------------------------------------------------------------------

CHECK_FILE = """
import sys
from dataclasses import dataclass


@dataclass
class Verdict:
    ok: bool


def returns_true(output, context):
    return Verdict(ok=True).ok


def returns_false(output, context):
    return False


def score_high(output, context):
    return 0.9


def score_low(output, context):
    return 0.2


def full(output, context):
    return {"pass": "refund" in output, "score": 0.75, "reason": f"{len(output)} characters looked at"}


def score_only(output, context):
    return {"score": 0.7}


def pass_only(output, context):
    return {"pass": False}


def context_seen(output, context):
    expected = {"vars": {"name": "Ada", "tags": ["vip"]}, "prompt": "support/refund", "latency_ms": 12.5, "cost": 0.25}
    return context == expected


def mutates(output, context):
    context["vars"]["tags"].append("changed")
    return True


def raises(output, context):
    raise ValueError("boom")


def exits(output, context):
    sys.exit(3)


def says_yes(output, context):
    return "yes"


def too_high(output, context):
    return 1.5


def empty_dict(output, context):
    return {}


async def is_async(output, context):
    return True


NOT_A_FUNCTION = 3
"""

# (function, passed, score, error, a piece of the reason)
PYTHON: list[Any] = [
    ("returns_true", True, 1.0, False, "evals/checks.py:returns_true returned True"),
    ("returns_false", False, 0.0, False, "returned False"),
    ("score_high", True, 0.9, False, "scored 0.90 (threshold 0.5)"),
    ("score_low", False, 0.2, False, "scored 0.20"),
    ("full", True, 0.75, False, "17 characters looked at"),
    ("score_only", True, 0.7, False, "returned pass=True"),
    ("pass_only", False, 0.0, False, "returned pass=False"),
    ("context_seen", True, 1.0, False, "returned True"),
    ("raises", False, 0.0, True, "check failed to run: ValueError: boom"),
    ("exits", False, 0.0, True, "check failed to run: SystemExit: 3"),
    ("says_yes", False, 0.0, True, "returned a string; expected a bool, a score from 0 to 1, or a dict"),
    ("too_high", False, 0.0, True, "gave the score 1.5; scores are from 0 to 1"),
    ("empty_dict", False, 0.0, True, "neither `pass` nor `score`"),
    ("is_async", False, 0.0, True, "is async; python checks must be plain functions"),
    ("NOT_A_FUNCTION", False, 0.0, True, "evals/checks.py has no function 'NOT_A_FUNCTION'"),
    ("missing", False, 0.0, True, "has no function 'missing'"),
]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "evals").mkdir(parents=True)
    (root / "evals" / "checks.py").write_text(textwrap.dedent(CHECK_FILE), encoding="utf-8")
    return root


def py(function: str, **settings: Any) -> Assertion:
    return A("python", f"evals/checks.py:{function}", **settings)


def observe(repo: Path) -> dict[str, Any]:
    return {"root": repo, "vars": {"name": "Ada", "tags": ["vip"]}, "latency_ms": 12.5, "cost": 0.25}


@pytest.mark.parametrize(("function", "passed", "score", "error", "reason"), PYTHON, ids=[r[0] for r in PYTHON])
def test_python_checks_from_a_file(
    repo: Path, function: str, passed: bool, score: float, error: bool, reason: str
) -> None:
    result = one(py(function), "a refund, granted", **observe(repo))
    assert (result.passed, result.error) == (passed, error), result.reason
    assert result.score == pytest.approx(score)
    assert reason in result.reason


def test_python_threshold_and_negation(repo: Path) -> None:
    assert one(py("score_low", threshold=0.1), "x", root=repo).passed
    negated = one(py("score_low", negate=True), "x", root=repo)
    assert negated.passed and negated.score == pytest.approx(0.8)
    raised = one(py("raises", negate=True), "x", root=repo)
    assert raised.error and not raised.passed


def test_a_python_check_cannot_change_the_vars_the_next_one_sees(repo: Path) -> None:
    variables = {"name": "Ada", "tags": ["vip"]}
    results = run([py("mutates"), py("context_seen")], "x", root=repo, vars=variables, latency_ms=12.5, cost=0.25)
    assert [r.passed for r in results] == [True, True]
    assert variables == {"name": "Ada", "tags": ["vip"]}


def test_python_checks_outside_the_root_are_refused(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("def f(output, context):\n    return True\n", encoding="utf-8")
    (repo / "evals" / "link.py").symlink_to(outside)
    refused = {
        "../outside.py:f": "must be a path inside the repository",
        f"{outside}:f": "must be a path inside the repository",
        "evals/link.py:f": "refusing to load 'evals/link.py': it resolves outside the repository",
    }
    for value, reason in refused.items():
        result = one(A("python", value), "x", root=repo)
        assert result.error and not result.passed, value
        assert reason in result.reason


def test_python_file_problems_are_errors(repo: Path) -> None:
    (repo / "evals" / "broken.py").write_text("def f(output, context)\n    return True\n", encoding="utf-8")
    (repo / "evals" / "crash.py").write_text("raise RuntimeError('at import')\n", encoding="utf-8")
    cases = {
        "evals/nope.py:f": "evals/nope.py not found in the repository",
        "evals/broken.py:f": "SyntaxError",
        "evals/crash.py:f": "RuntimeError: at import",
        "evals/checks.py": "needs `value` as 'path/to/file.py:function'",
    }
    for value, reason in cases.items():
        result = one(A("python", value), "x", root=repo)
        assert result.error and not result.passed, value
        assert reason in result.reason


def test_a_changed_check_file_is_loaded_again_and_no_bytecode_is_written(repo: Path) -> None:
    target = repo / "evals" / "flip.py"
    target.write_text("def f(output, context):\n    return True\n", encoding="utf-8")
    assert one(A("python", "evals/flip.py:f"), "x", root=repo).passed
    target.write_text("def f(output, context):\n    return False  # changed\n", encoding="utf-8")
    assert not one(A("python", "evals/flip.py:f"), "x", root=repo).passed
    assert not (repo / "evals" / "__pycache__").exists()


def test_keyboard_interrupt_in_a_python_check_propagates(repo: Path) -> None:
    (repo / "evals" / "stop.py").write_text("def f(output, context):\n    raise KeyboardInterrupt\n", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        run(A("python", "evals/stop.py:f"), "x", root=repo)


# -- llm-rubric, with a fake judge ---------------------------------------------------------------------------


class FakeJudge:
    """Scores 0.9 when the output mentions a refund, else 0.1; remembers what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Mapping[str, Any]]] = []

    async def __call__(self, rubric: str, output: str, variables: Mapping[str, Any]) -> tuple[float, str]:
        self.calls.append((rubric, output, variables))
        await asyncio.sleep(0)
        return (0.9, "mentions the refund") if "refund" in output else (0.1, "no refund in sight")


def test_llm_rubric_asks_the_judge() -> None:
    judge = FakeJudge()
    rubric = A("llm-rubric", "Offers a refund politely")
    good = one(rubric, "We will refund you.", judge=judge, vars={"name": "Ada"})
    assert (good.passed, good.score) == (True, 0.9)
    assert good.reason == "judge scored 0.90 (threshold 0.5): mentions the refund"
    assert judge.calls == [("Offers a refund politely", "We will refund you.", {"name": "Ada"})]
    bad = one(rubric, "No.", judge=judge)
    assert (bad.passed, bad.score, bad.error) == (False, 0.1, False)
    strict = one(dataclasses.replace(rubric, threshold=0.95), "We will refund you.", judge=judge)
    assert not strict.passed and "threshold 0.95" in strict.reason
    negated = one(dataclasses.replace(rubric, negate=True), "We will refund you.", judge=judge)
    assert not negated.passed and negated.score == pytest.approx(0.1)


async def judge_out_of_range(rubric: str, output: str, variables: Mapping[str, Any]) -> tuple[float, str]:
    return 7.0, "seven out of ten"


async def judge_failing(rubric: str, output: str, variables: Mapping[str, Any]) -> tuple[float, str]:
    raise ConnectionError("judge model unreachable")


async def judge_malformed(rubric: str, output: str, variables: Mapping[str, Any]) -> tuple[float, str]:
    return "great"  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("judge", "reason"),
    [
        (judge_out_of_range, "the judge gave the score 7.0"),
        (judge_failing, "ConnectionError: judge model unreachable"),
        (judge_malformed, "ValueError"),
        (None, "llm-rubric needs a judge model"),
    ],
)
def test_a_judge_that_fails_is_an_error(judge: Judge | None, reason: str) -> None:
    result = one(A("llm-rubric", "is helpful"), "x", judge=judge)
    assert result.error and not result.passed
    assert reason in result.reason


def test_cancellation_propagates() -> None:
    async def scenario() -> None:
        started = asyncio.Event()

        async def slow_judge(rubric: str, output: str, variables: Mapping[str, Any]) -> tuple[float, str]:
            started.set()
            await asyncio.sleep(60)
            return 1.0, "never"

        task = asyncio.ensure_future(run_checks([A("llm-rubric", "r")], Observation("x", PROMPT), slow_judge))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())


# -- verdict -------------------------------------------------------------------------------------------------


def result(passed: bool, score: float, weight: float = 1.0, error: bool = False) -> CheckResult:
    return CheckResult(type="contains", passed=passed, score=score, reason="", weight=weight, error=error)


@pytest.mark.parametrize(
    ("results", "status", "score"),
    [
        ([], "pass", 1.0),
        ([result(True, 1.0)], "pass", 1.0),
        ([result(True, 1.0, weight=3), result(False, 0.0)], "fail", 0.75),
        ([result(True, 0.9, weight=2), result(True, 0.6)], "pass", 0.8),
        ([result(True, 1.0, weight=5), result(False, 0.0, error=True)], "error", 5 / 6),
        ([result(False, 0.0), result(False, 0.0, error=True)], "error", 0.0),
        ([result(True, 1.0, weight=0), result(False, 0.5, weight=0)], "fail", 0.75),
        ([result(False, 0.2, weight=0), result(True, 1.0)], "fail", 1.0),
    ],
)
def test_verdict(results: list[CheckResult], status: str, score: float) -> None:
    got_status, got_score = verdict(results)
    assert got_status == status
    assert got_score == pytest.approx(score)


@given(
    st.lists(
        st.tuples(st.floats(0, 1.7e308), st.floats(0, 1), st.booleans()),
        min_size=1,
        max_size=6,
    )
)
@example(checks=[(5e-324, 0.5, False)])  # a subnormal weight: its product with the score underflowed to 0
@example(checks=[(1.7e308, 1.0, True), (1.7e308, 0.0, False)])  # the sum of the weights overflowed
def test_a_verdict_s_score_is_a_weighted_mean_even_for_weights_near_the_float_limits(
    checks: list[tuple[float, float, bool]],
) -> None:
    results = [result(passed, score, weight=weight) for weight, score, passed in checks]
    _, got = verdict(results)
    assert min(score for _, score, _ in checks) - 1e-9 <= got <= max(score for _, score, _ in checks) + 1e-9
    if len({w for w, _, _ in checks}) == 1 and checks[0][0] > 0:  # equal weights: the plain mean
        assert got == pytest.approx(math.fsum(score for _, score, _ in checks) / len(checks))


def test_verdict_of_run_checks_with_weights() -> None:
    results = run([A("contains", "refund", weight=3.0), A("no-such-kind", "x"), A("contains", "nope")], "refund")
    assert verdict(results)[0] == "error"
    results = run([A("contains", "refund", weight=3.0), A("contains", "nope")], "refund")
    assert verdict(results) == ("fail", 0.75)
    results = run([A("contains", "refund", weight=3.0), A("contains", "nope", negate=True)], "refund")
    assert verdict(results) == ("pass", 1.0)


# -- validate ------------------------------------------------------------------------------------------------

NEEDS_VALUE = [
    "equals",
    "contains",
    "icontains",
    "contains-any",
    "contains-all",
    "regex",
    "starts-with",
    "similar",
    "llm-rubric",
    "python",
    "latency",
    "cost",
]


@pytest.mark.parametrize("kind", NEEDS_VALUE)
def test_validate_missing_value(kind: str) -> None:
    assert validate(A(kind), PROMPT) == f"{kind} needs a `value`"
    assert validate(A(kind, negate=True), PROMPT) == f"not-{kind} needs a `value`"


PROBLEMS: list[Any] = [
    (A("regex", "(unclosed"), PROMPT, "regex '(unclosed' does not compile: missing ), unterminated subpattern"),
    (A("regex", ["a"]), PROMPT, "regex needs a string `value`, got a list"),
    (A("contains", True), PROMPT, "contains needs a string `value`, got a boolean"),
    (A("contains-any", "refund"), PROMPT, "contains-any needs a non-empty list of strings as `value`, got a string"),
    (A("contains-all", []), PROMPT, "got an empty list"),
    (A("contains-all", ["a", {"b": 1}]), PROMPT, "got a list holding a mapping"),
    (A("json-path"), PROMPT, "json-path needs a `path`"),
    (A("json-path", path="  "), PROMPT, "json-path needs a `path`"),
    (A("json-path", "ok", path="$.items[?(@.x"), PROMPT, "invalid JSONPath '$.items[?(@.x': unbalanced parentheses"),
    (A("length"), PROMPT, "length needs `min`, `max` or `value`"),
    (A("length", min=10, max=5), PROMPT, "`min` 10 is above `max` 5"),
    (A("length", min="ten"), PROMPT, "`min` must be a number of at least 0, got 'ten'"),
    (A("length", 10, max=5), PROMPT, "give the maximum as `max` or as `value`, not both"),
    (A("similar", "x", threshold=1.5), PROMPT, "`threshold` of similar must be between 0 and 1, got 1.5"),
    (A("similar", "x", threshold=math.nan), PROMPT, "must be between 0 and 1"),
    (A("similar", [1, None]), PROMPT, "got a list holding nothing"),
    (A("llm-rubric", "polite", threshold=-0.1), PROMPT, "`threshold` of llm-rubric must be between 0 and 1"),
    (A("llm-rubric", "   "), PROMPT, "llm-rubric needs the rubric as `value`, and it is blank"),
    (A("python", "checks.py"), PROMPT, "python needs `value` as 'path/to/file.py:function', got 'checks.py'"),
    (A("python", "checks.py:1st"), PROMPT, "'path/to/file.py:function'"),
    (A("python", "checks.txt:f"), PROMPT, "'path/to/file.py:function'"),
    (A("python", "/etc/checks.py:f"), PROMPT, "'/etc/checks.py' must be a path inside the repository"),
    (A("python", "../checks.py:f"), PROMPT, "must be a path inside the repository"),
    (A("python", "C:/checks.py:f"), PROMPT, "must be a path inside the repository"),
    (A("python", "c.py:f", threshold=2), PROMPT, "`threshold` of python must be between 0 and 1"),
    (A("json-schema", {"type": "nope"}), PROMPT, "not a valid JSON Schema: $.type: 'nope' is not valid"),
    (A("json-schema", "an object"), PROMPT, "the schema must be a mapping, got a string"),
    (A("json-schema", {"$schema": 5}), PROMPT, "not a valid JSON Schema"),
    (A("json-schema"), PROMPT, "json-schema has no schema: give one as `value` (prompt 'support/refund' declares no"),
    (A("latency", -1), PROMPT, "latency needs a number of at least 0 as `value`, got -1"),
    (A("cost", "cheap"), PROMPT, "cost needs a number of at least 0 as `value`, got 'cheap'"),
    (A("sentiment", "happy"), PROMPT, "unknown assertion type 'sentiment'"),
]


@pytest.mark.parametrize(("assertion", "prompt", "problem"), PROBLEMS, ids=lambda x: getattr(x, "type", ""))
def test_validate_reports_the_problem(assertion: Assertion, prompt: Prompt | None, problem: str) -> None:
    found = validate(assertion, prompt)
    assert found is not None and problem in found


@pytest.mark.parametrize(("assertion", "prompt", "problem"), PROBLEMS, ids=lambda x: getattr(x, "type", ""))
def test_a_problem_validate_reports_is_an_error_at_run_time(assertion: Assertion, prompt: Prompt, problem: str) -> None:
    result = one(assertion, "anything", latency_ms=1.0, cost=0.0, judge=FakeJudge())
    assert result.error and problem in result.reason


FINE: list[Any] = [
    (A("equals", {"a": 1}), PROMPT),
    (A("contains", 14), PROMPT),
    (A("contains-any", ["a", "b"]), PROMPT),
    (A("regex", r"\d+ days"), PROMPT),
    (A("is-json"), None),
    (A("json-schema", STATUS_SCHEMA), None),
    (A("json-schema"), SCHEMA_PROMPT),
    (A("json-schema"), None),  # the prompt is unknown: that is reported on its own
    (A("json-path", path="$.items[?@.id > 1].name"), PROMPT),
    (A("length", max=280), PROMPT),
    (A("length", 280, min=1), PROMPT),
    (A("similar", ["a", "b"], threshold=0.5), PROMPT),
    (A("llm-rubric", "polite", threshold=1), PROMPT),
    (A("python", "evals/checks/tone.py:polite"), PROMPT),
    (A("latency", 2000), PROMPT),
    (A("cost", 0), PROMPT),
]


@pytest.mark.parametrize(("assertion", "prompt"), FINE, ids=lambda x: getattr(x, "type", ""))
def test_validate_accepts_good_settings(assertion: Assertion, prompt: Prompt | None) -> None:
    assert validate(assertion, prompt) is None


# -- the module stays light ----------------------------------------------------------------------------------


def test_importing_checks_loads_nothing_heavy() -> None:
    code = (
        "import sys, promptops.checks\n"
        "heavy = ['jsonschema', 'jsonpath', 'typer', 'rich', 'litellm', 'git', 'promptops.cli']\n"
        "print([m for m in heavy if m in sys.modules])"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert done.stdout.strip() == "[]"


# -- properties ----------------------------------------------------------------------------------------------

kinds = st.sampled_from([*KINDS, "no-such-kind"])
tricky_values = st.sampled_from(["(", "[a-", "$[", "evals/x.py:f", "../x.py:f", "x.py", " ", "", "{{", "\x00"])
values = st.one_of(st.none(), s.json_values, st.lists(s.texts, max_size=3), tricky_values)
bounds = st.one_of(st.none(), st.integers(-5, 400), st.floats(), s.scalars)
configs = st.fixed_dictionaries(
    {},
    optional={
        "path": st.one_of(st.sampled_from(["$", "$.a", "a.b", "$[*]", "$..*", "$[?@.a > 1]", "$["]), s.scalars),
        "min": bounds,
        "max": bounds,
    },
)
assertions = st.builds(
    Assertion,
    type=kinds,
    value=values,
    negate=st.booleans(),
    weight=st.floats(min_value=0, max_value=10),
    threshold=st.one_of(st.none(), st.floats(), st.integers(-2, 2)),
    config=configs,
)
outputs = st.one_of(s.texts, s.json_values.map(json.dumps), st.sampled_from(['{"a": 1}', "[1, 2]", '"$"', "NaN"]))
judges = st.sampled_from([None, FakeJudge(), judge_out_of_range, judge_failing, judge_malformed])
measures = st.one_of(st.none(), st.floats(min_value=0, max_value=1e6))


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    asserts=st.lists(assertions, max_size=4),
    output=outputs,
    judge=judges,
    latency=measures,
    cost=measures,
    prompt=st.sampled_from([PROMPT, SCHEMA_PROMPT]),
)
def test_run_checks_never_raises(
    asserts: list[Assertion],
    output: str,
    judge: Judge | None,
    latency: float | None,
    cost: float | None,
    prompt: Prompt,
) -> None:
    obs = Observation(output, prompt, vars={"q": output}, latency_ms=latency, cost=cost)
    results = asyncio.run(run_checks(asserts, obs, judge))
    assert len(results) == len(asserts)
    for assertion, r in zip(asserts, results, strict=True):
        assert 0.0 <= r.score <= 1.0
        assert r.reason and isinstance(r.passed, bool)
        assert (r.type, r.negate, r.weight) == (assertion.type, assertion.negate, assertion.weight)
        if r.error:
            assert not r.passed and r.reason.startswith("check failed to run: ")
        if validate(assertion, prompt) is not None:
            assert r.error
    status, score = verdict(results)
    assert status == (
        "error" if any(r.error for r in results) else "pass" if all(r.passed for r in results) else "fail"
    )
    assert 0.0 <= score <= 1.0


# -- transforms, metrics and is-json's schema ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("transform", "output", "expected"),
    [
        ("strip", "  ok \n", "ok"),
        (["strip", "lower"], " OK ", "ok"),
        ({"json-path": "$.a"}, '{"a": "x"}', "x"),
        ({"json-path": "$.a"}, '{"a": {"b": [1, 2]}}', '{"b": [1, 2]}'),
        ({"json-path": "$.items[*]"}, '{"items": [1, 2]}', "[1, 2]"),
        ({"regex": r"label=(\w+)"}, "label=spam score=1", "spam"),
        ({"regex": r"label=\w+"}, "label=spam score=1", "label=spam"),
        ({"regex": r"(?P<k>\w+)=(?P<v>\w+)", "group": "v"}, "label=spam", "spam"),
    ],
)
def test_a_transform_turns_the_output_into_what_the_check_judges(transform: Any, output: str, expected: str) -> None:
    result = one(A("equals", expected, config={"transform": transform}), output)
    assert result.passed, result.reason


def test_a_python_transform_runs_a_repository_function(tmp_path: Path) -> None:
    (tmp_path / "pick.py").write_text("def first_word(output, context):\n    return output.split()[0]\n")
    a = A("equals", "Yes", config={"transform": {"python": "pick.py:first_word"}})
    assert one(a, "Yes indeed", root=tmp_path).passed


@pytest.mark.parametrize(
    "transform",
    ["upper", {"regex": "(", "group": 1}, {"regex": "a", "group": 2}, {"json-path": ""}, {"python": "x"}, [{}]],
)
def test_a_transform_that_cannot_work_is_a_lint_problem_and_an_error(transform: Any) -> None:
    a = A("equals", "x", config={"transform": transform})
    assert validate(a, PROMPT) is not None
    result = one(a, "x")
    assert result.error and not result.passed


def test_metric_travels_to_the_result_and_is_json_validates_its_schema() -> None:
    assert one(A("contains", "a", metric="acc"), "a").metric == "acc"
    assert validate(A("is-json", ["not", "a", "schema"]), PROMPT) is not None
    assert validate(A("is-json", STATUS_SCHEMA), PROMPT) is None
