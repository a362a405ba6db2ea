"""What CI tools read from the reports: a JUnit consumer agrees with the exit code, a GFM renderer shows model
output as code (no mention, issue link or emphasis), SARIF validates with odd file names, unknown `-o`
extensions are refused, annotations name repository paths."""

from __future__ import annotations

import html.parser
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jsonschema
import pytest
from conftest import git, write_tree
from eval_fixtures import project
from hypothesis import given, settings
from hypothesis import strategies as st
from provider_server import ProviderServer
from test_report_results import check, passing, run, suite_summary, summary, validate_junit

from promptops.evaluate.engine import exit_code
from promptops.model import EvalReport
from promptops.report.junit import to_junit
from promptops.report.markdown import to_markdown

SARIF_SCHEMA = Path(__file__).resolve().parent.parent / "data" / "sarif" / "sarif-schema-2.1.0.json"


def consumer_passes(xml: str) -> bool:
    """What a JUnit consumer decides: the build is green when no testcase has a failure or an error."""
    from junitparser import Error, Failure, JUnitXml, TestSuite

    doc = JUnitXml.fromstring(xml)
    suites = [doc] if isinstance(doc, TestSuite) else list(doc)
    return not any(isinstance(r, Failure | Error) for s in suites for case in s for r in case.result)


# -- JUnit: the consumer agrees with the exit code ------------------------------------------------------------


@pytest.mark.usefixtures("api_key")
@pytest.mark.parametrize(("threshold", "expected"), [(0.5, 0), (0.9, 1)])
def test_a_junit_consumer_agrees_with_eval_for_a_suite_above_and_below_its_threshold(
    make_repo, cli, server: ProviderServer, tmp_path: Path, threshold: float, expected: int
) -> None:
    root = make_repo(project(server.base_url, {"good": "yes", "bad": "no way"}, threshold=threshold))
    report = tmp_path / "report.xml"
    code, out, err = cli("eval", "--repo", root, "-o", report)
    assert code == expected, out + err
    xml = report.read_text(encoding="utf-8")
    validate_junit_text(xml)
    assert consumer_passes(xml) is (code == 0)
    cases = {c.get("name"): c for c in _testcases(xml)}
    assert set(cases) == {"good", "bad", "(gate)"}
    if expected == 0:  # the failed case is reported, as tolerated by the gate
        assert cases["bad"].find("skipped") is not None and "within the suite's gate" in cases["bad"][0].get("message")
    else:
        assert cases["bad"].find("failure") is not None and cases["(gate)"].find("failure") is not None


def validate_junit_text(xml: str) -> None:
    from test_report_results import junit_schema

    junit_schema().validate(xml)


def _testcases(xml: str) -> list[Any]:
    import xml.etree.ElementTree as ET

    return ET.fromstring(xml.encode("utf-8")).findall("testsuite/testcase")


ERROR_KINDS = st.sampled_from(["timeout", "rate_limit", "input", "replay_miss"])


@st.composite
def consistent_reports(draw: st.DrawFn) -> EvalReport:
    """Reports as the engine makes them: a case errors exactly when one of its runs did."""
    suites, cases, results = [], [], []
    for s in range(draw(st.integers(0, 3))):
        name = f"suite{s}"
        members, tasks = [], []
        for c in range(draw(st.integers(1, 3))):
            status = draw(st.sampled_from(["pass", "fail", "error"]))
            kind = draw(ERROR_KINDS) if status == "error" else None
            task = run(name, f"c{c}", 1, status, error="boom" if kind else None, error_kind=kind)
            baseline = draw(st.sampled_from([None, "regressed", "fixed", "unchanged", "new"]))
            members.append(summary(name, f"c{c}", [task], baseline=baseline))
            tasks.append(task)
        cases += members
        results += tasks
        suites.append(suite_summary(name, members, tasks, gate_passed=draw(st.booleans())))
    return replace(
        passing(), suites=tuple(suites), cases=tuple(cases), results=tuple(results), interrupted=draw(st.booleans())
    )


@settings(max_examples=60, deadline=None)
@given(consistent_reports(), st.booleans())
def test_a_junit_consumer_passes_exactly_when_the_exit_code_is_0(report: EvalReport, fail_on_regression: bool) -> None:
    xml = to_junit(report, fail_on_regression=fail_on_regression)
    validate_junit_text(xml)
    assert consumer_passes(xml) is (exit_code(report, fail_on_regression=fail_on_regression) == 0)


def test_junit_suite_time_is_its_own_and_a_regression_fails_its_gate_case() -> None:
    def timed(suite: str, case: str, status: str, ms: float) -> Any:
        return replace(run(suite, case, 1, status), latency_ms=ms)

    slow = [timed("slow", "a", "pass", 4000.0), timed("slow", "b", "pass", 2000.0)]
    fast = [timed("fast", "a", "fail", 10.0), timed("fast", "b", "pass", 10.0)]
    cases = [summary("slow", "a", slow[:1]), summary("slow", "b", slow[1:])]
    cases += [summary("fast", "a", fast[:1], baseline="regressed"), summary("fast", "b", fast[1:])]
    suites = (
        suite_summary("slow", cases[:2], slow, duration_s=6.0),
        suite_summary("fast", cases[2:], fast, duration_s=6.0, threshold=0.5),
    )
    report = replace(passing(), suites=suites, cases=tuple(cases), results=tuple(slow + fast))
    root = validate_junit(report)
    times = {s.get("name"): s.get("time") for s in root.findall("testsuite")}
    assert times == {"slow": "6.000", "fast": "0.020"}
    assert consumer_passes(to_junit(report)) and exit_code(report) == 0
    strict = to_junit(report, fail_on_regression=True)
    assert not consumer_passes(strict) and exit_code(report, fail_on_regression=True) == 1
    assert 'type="regression"' in strict and "1 regressed against the baseline: a" in strict


# -- Markdown through GitHub's renderer ------------------------------------------------------------------------

HOSTILE = (
    "Ping @octocat and @acme/security, see #1 and GH-2, *shout* _this_ [click](https://evil.test) <script>x</script>"
)


class _Tags(html.parser.HTMLParser):
    """The text outside <code>/<pre>, and every tag, of rendered HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.outside, self.tags = 0, [], []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)
        self.depth += tag in ("code", "pre")

    def handle_endtag(self, tag: str) -> None:
        self.depth -= tag in ("code", "pre")

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.outside.append(data)


def test_model_output_renders_as_code_in_github_markdown() -> None:
    import cmarkgfm
    from cmarkgfm.cmark import Options

    bad = run("s", "c", 1, "fail", HOSTILE, error=None, checks=(check("contains", False, f"got {HOSTILE!r}"),))
    erred = run("s", "e", 1, "error", None, error=f"provider said: {HOSTILE}", error_kind="server", checks=())
    cases = (summary("s", "c", [bad]), summary("s", "e", [erred]))
    report = replace(passing(), suites=(suite_summary("s", list(cases), [bad, erred], gate_passed=False),),
                     cases=cases, results=(bad, erred))  # fmt: skip
    rendered = cmarkgfm.github_flavored_markdown_to_html(to_markdown(report), options=Options.CMARK_OPT_UNSAFE)
    parsed = _Tags()
    parsed.feed(rendered)
    outside = " ".join(parsed.outside)
    for token in ("@octocat", "@acme/security", "#1", "GH-2", "shout", "click"):
        assert token in rendered and token not in outside, token
    assert not {"em", "a", "script"} & set(parsed.tags)


# -- SARIF -----------------------------------------------------------------------------------------------------

# RFC 3986 relative-ref whose path has no scheme-like first segment: unreserved, pct-encoded, sub-delims, ":", "@".
PCHAR = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-F]{2})"
RELATIVE_URI = re.compile(rf"^(?:[A-Za-z0-9\-._~!$&'()*+,;=@]|%[0-9A-F]{{2}})+(?:/{PCHAR}*)*$")


def test_sarif_validates_with_odd_file_names_and_describes_its_rules(make_repo, cli) -> None:
    secret = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z" * 2
    files = {
        "promptops.yaml": "project: odd\n",
        "prompts/odd dir/my prompt #1 100%é?.prompt": f"---\ndescription: odd\n---\nuser:\nkey {secret}\n",
    }
    mono = make_repo({"README.md": "x\n"})
    write_tree(mono / "sub project", files)
    git(mono, "add", "-A")
    git(mono, "commit", "-q", "-m", "odd names")
    code, out, _ = cli("lint", "--format", "sarif", "--repo", mono / "sub project")
    assert code == 1
    doc = json.loads(out)
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))).validate(doc)
    uris = [
        loc["physicalLocation"]["artifactLocation"]["uri"] for r in doc["runs"][0]["results"] for loc in r["locations"]
    ]
    assert uris and all(RELATIVE_URI.match(u) for u in uris), uris
    assert "sub project/prompts/odd dir/my prompt #1 100%é?.prompt" in {unquote(u) for u in uris}
    rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    for rule in rules.values():
        assert rule["fullDescription"]["text"] and rule["help"]["text"] and rule["helpUri"].startswith("https://")
    assert float(rules["literal-secret"]["properties"]["security-severity"]) >= 9.0
    assert "security" in rules["literal-secret"]["properties"]["tags"]
    assert secret not in out


# -- files and paths -------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("api_key")
def test_an_unknown_report_extension_is_refused_before_any_call(
    make_repo, cli, server: ProviderServer, tmp_path
) -> None:
    root = make_repo(project(server.base_url, {"a": "yes"}))
    code, _, err = cli("eval", "--repo", root, "-o", tmp_path / "report.txt")
    assert code == 2 and "unknown report file extension '.txt'" in err and ".html" in err
    assert server.requests_received == 0 and not (tmp_path / "report.txt").exists()
    code, _, _ = cli("eval", "--repo", root, "-o", tmp_path / "report.data", "--format", "junit")
    assert code == 0 and (tmp_path / "report.data").read_text().startswith("<?xml")
    code, _, err = cli("report", "merge", tmp_path / "missing.json", "-o", tmp_path / "merged.yaml")
    assert code == 2 and "unknown report file extension '.yaml'" in err


@pytest.mark.usefixtures("api_key")
def test_eval_annotations_name_paths_from_the_repository_root(
    make_repo, cli, server: ProviderServer, monkeypatch
) -> None:
    mono = make_repo({"README.md": "monorepo\n"})
    write_tree(mono / "services" / "bot", project(server.base_url, {"bad": "no"}))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    code, out, _ = cli("eval", "--repo", mono / "services" / "bot")
    assert code == 1
    assert "::error file=services/bot/evals/answer.yaml,title=promptops eval answer::gate failed" in out


def test_lint_at_a_monorepo_root_says_where_the_projects_are(make_repo, cli) -> None:
    mono = make_repo({"README.md": "x\n", "apps/support/promptops.yaml": "project: s\n"})
    code, out, err = cli("lint", mono)
    assert code == 2 and out == ""
    assert "no promptops project in" in err and "apps/support" in err
