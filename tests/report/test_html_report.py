"""The HTML reports in a real headless Chromium (Debian's `chromium`, driven by Playwright's Python package):
opened from a file URL with no console error and no network request, filters that work, model output shown as
text, and the counts, prompt variants and metrics of the JSON report."""

from __future__ import annotations

import html.parser
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE, commit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_report_results import check, nasty_texts, passing, reports, run, suite_summary, summary

from promptops.model import EvalReport, Message
from promptops.report.metrics import metric_scores
from promptops.report.results import to_dict, to_html
from promptops.report.variants import variant_comparisons

# Debian's chromium (.ci/run installs it); another Chromium build can be named, e.g. Chrome on GitHub's runners.
CHROMIUM = Path(os.environ.get("PROMPTOPS_TEST_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ATTACK = '<script>window.__pwned = 1</script><img src="https://evil.test/x.png" onerror="window.__pwned = 2">'


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):  # .ci/run installs it: a CI run without it must not pass quietly
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def in_thread(cli: Any, *args: Any) -> Any:
    """A command that runs an asyncio loop, run beside Playwright's (which owns this thread's loop)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(cli, *args).result()


class Opened:
    """A page loaded from a file URL, with every console message, page error and request it made."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.page = browser.new_page()
        self.console: list[tuple[str, str]] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.console.append(("pageerror", str(e))))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)

    def quiet(self) -> None:
        assert [m for m in self.console if m[0] in ("error", "pageerror", "warning")] == []
        assert self.requests == [self.url]  # the page itself, nothing else

    def shown(self, choice: str) -> int:
        self.page.check(f"input[name=filter][value={choice}]")
        visible = self.page.locator("[data-case]:visible").count()
        assert int(self.page.inner_text("#shown")) == visible
        return visible

    def count(self, key: str) -> int:
        return int(self.page.inner_text(f"[data-count={key}]"))


def hostile_report() -> EvalReport:
    bad = run("s", "bad", 1, "fail", ATTACK, checks=(check("contains", False, f"got {ATTACK}"),))
    regressed = run("s", "was-fine", 1, "fail", "no")
    flaky = [run("t", "coin", 1, "pass"), run("t", "coin", 2, "fail", "tails")]
    good = run("t", "fine", 1, "pass")
    cases = (
        summary("s", "bad", [bad]),
        summary("s", "was-fine", [regressed], baseline="regressed", base_verdict="pass"),
        summary("t", "coin", flaky, baseline="flaky"),
        summary("t", "fine", [good]),
    )
    suites = (
        suite_summary("s", list(cases[:2]), [bad, regressed], gate_passed=False),
        suite_summary("t", list(cases[2:]), [*flaky, good]),
    )
    gone = summary("s", "gone", [run("s", "gone", 1, "pass")], baseline="removed", base_verdict="pass")
    return replace(
        passing(), suites=suites, cases=cases, results=(bad, regressed, *flaky, good), baseline="main", removed=(gone,)
    )


def test_the_eval_page_is_quiet_filters_work_and_model_output_is_text(browser: Any, tmp_path: Path) -> None:
    report = hostile_report()
    path = tmp_path / "report.html"
    messages = {("s", "bad", "gpt-4o-mini", "primary"): (Message("user", f"Say {ATTACK}"),)}
    path.write_text(to_html(report, messages), encoding="utf-8")
    opened = Opened(browser, path)
    opened.quiet()
    assert opened.page.evaluate("window.__pwned") is None
    texts = opened.page.locator("pre").all_inner_texts()
    assert ATTACK in texts and f"Say {ATTACK}" in texts  # shown as text, not markup
    assert opened.page.locator("img").count() == 0
    assert (opened.shown("failed"), opened.shown("regressed"), opened.shown("flaky"), opened.shown("all")) == (
        3,
        1,
        1,
        4,
    )
    body = opened.page.inner_text("body")
    assert "regressed: baseline pass" in body and "Removed since the baseline (1)" in body
    totals = to_dict(report)["totals"]
    assert {k: opened.count(k) for k in ("suites", "cases", "passed", "failed", "errors")} == {
        k: totals[k] for k in ("suites", "cases", "passed", "failed", "errors")
    }
    opened.quiet()


def test_eval_writes_an_html_report_with_the_json_counts_and_rendered_messages(
    browser: Any, cli, tmp_path: Path
) -> None:
    repo = shutil.copytree(EXAMPLE, tmp_path / "support-bot")
    html, data = tmp_path / "report.html", tmp_path / "report.json"
    code, out, err = in_thread(cli, "eval", "--repo", repo, "--replay", "-o", html, "-o", data)
    assert code == 0, out + err
    totals = json.loads(data.read_text(encoding="utf-8"))["totals"]
    opened = Opened(browser, html)
    opened.quiet()
    assert {k: opened.count(k) for k in ("suites", "cases", "passed", "failed", "errors")} == {
        k: totals[k] for k in ("suites", "cases", "passed", "failed", "errors")
    }
    assert opened.shown("all") == totals["cases"] and opened.shown("failed") == totals["failed"] + totals["errors"]
    assert opened.page.locator(".message").count() >= totals["cases"]  # every case shows what it was sent


def test_diff_html_is_quiet_and_shows_templates_as_text(browser: Any, make_repo, cli, minimal_files, tmp_path) -> None:
    root = make_repo(minimal_files)
    commit(
        root, {"prompts/greet.prompt": minimal_files["prompts/greet.prompt"] + "<script>window.__pwned = 3</script>\n"}
    )
    path = tmp_path / "diff.html"
    code, out, err = cli("diff", "HEAD~1", "HEAD", "--repo", root, "--format", "html", "-o", path)
    assert code == 0, out + err
    opened = Opened(browser, path)
    opened.quiet()
    assert opened.page.evaluate("window.__pwned") is None
    assert any("<script>window.__pwned = 3</script>" in t for t in opened.page.locator("pre").all_text_contents())


class _Inert(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.handlers: list[str] = []
        self.cases = 0
        self.counts: dict[str, int] = {}
        self.current: str | None = None
        self.metas: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.metas += [dict(attrs)] if tag == "meta" else []
        names = dict(attrs)
        self.handlers += [name for name in names if name.startswith("on") or name in ("src", "href", "action")]
        self.cases += "data-case" in names
        self.current = names.get("data-count")

    def handle_data(self, data: str) -> None:
        if self.current:
            self.counts[self.current] = int(data)
            self.current = None


ALLOWED = {"html", "head", "meta", "title", "link", "style", "body", "h1", "h2", "h4", "p", "span", "table", "thead",
           "tbody", "tr", "th", "td", "details", "summary", "code", "pre", "div", "ul", "li", "label", "input", "script"}  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reports())
def test_any_report_gives_an_inert_page_with_its_counts(report: EvalReport) -> None:
    """Whatever text a report holds, the page has only the tags and the one script promptops writes, no handler
    or link (the favicon is data:), one case element per case, and the JSON report's totals."""
    page = to_html(report)
    parsed = _Inert()
    parsed.feed(page)
    assert parsed.tags <= ALLOWED and page.count("<script") == 1
    assert parsed.handlers == ["href"]  # <link rel="icon" href="data:,">
    assert parsed.cases == len(report.cases)
    totals = to_dict(report)["totals"]
    assert {k: parsed.counts[k] for k in ("suites", "cases", "passed", "failed", "errors")} == {
        k: totals[k] for k in ("suites", "cases", "passed", "failed", "errors")
    }


@pytest.mark.usefixtures("api_key")
def test_diff_eval_html_filters_the_paired_cases(browser: Any, make_repo, cli, server, tmp_path: Path) -> None:
    from eval_fixtures import ANSWER_PROMPT, project

    root = make_repo(project(server.base_url, {"a": "yes a", "b": "yes b", "c": "<script>window.__pwned = 4</script>"}))
    (root / "prompts" / "answer.prompt").write_text(
        ANSWER_PROMPT.replace("REPLY: {{ answer }}", "REPLY: {{ answer | replace('yes b', 'no b') }} !")
    )
    path = tmp_path / "diff.html"
    code, out, err = in_thread(cli, "diff", "HEAD", "--eval", "--repo", root, "--format", "html", "-o", path)
    assert code == 0, out + err
    opened = Opened(browser, path)
    opened.quiet()
    assert opened.page.evaluate("window.__pwned") is None
    assert (opened.shown("regressed"), opened.shown("failed"), opened.shown("all")) == (1, 2, 3)
    assert any("window.__pwned = 4" in t for t in opened.page.locator("pre").all_text_contents())


LOUD_SUITE = """variants: {plain: answer, loud: loud}
cases:
  - id: lower
    vars: {answer: 'yes'}
    assert: [{type: contains, value: 'YES', metric: shout}]
  - id: upper
    vars: {answer: 'YES'}
    assert: [{type: contains, value: 'YES', metric: shout}]
"""


def _rows(opened: Opened, selector: str) -> list[list[str]]:
    tables = opened.page.locator(selector)
    return [[cell.strip() for cell in row.locator("td").all_inner_texts()] for row in tables.locator("tbody tr").all()]


@pytest.mark.usefixtures("api_key")
def test_the_eval_page_shows_prompt_variants_and_metrics_as_the_json_report(
    browser: Any, make_repo, cli, server, tmp_path: Path
) -> None:
    from eval_fixtures import ANSWER_PROMPT, project

    files = {**project(server.base_url, {}), "evals/answer.yaml": LOUD_SUITE}
    files["prompts/loud.prompt"] = ANSWER_PROMPT.replace("REPLY: {{ answer }}", "REPLY: {{ answer | upper }}")
    root = make_repo(files)
    page, data = tmp_path / "report.html", tmp_path / "report.json"
    code, out, err = in_thread(cli, "eval", "--repo", root, "-o", page, "-o", data)
    assert code == 1, out + err  # the plain variant's gate fails
    report = json.loads(data.read_text(encoding="utf-8"))
    opened = Opened(browser, page)
    opened.quiet()
    (group,) = report["variants"]
    assert opened.page.locator("[data-section=variants] p code").all_inner_texts() == [group["suite"]]
    expected = [
        [v["variant"], v["prompt"], str(v["cases"]), str(v["passed"]), f"{v['pass_rate']:.0%}",
         "" if i == 0 else f"{v['pass_rate_change'] * 100:+g} points", "passed" if v["gate_passed"] else "failed"]
        for i, v in enumerate(group["variants"])
    ]  # fmt: skip
    assert _rows(opened, "[data-section=variants] table >> nth=0") == expected
    assert expected == [["loud", "loud", "2", "2", "100%", "", "passed"], ["plain", "answer", "2", "1", "50%",
                                                                           "-50 points", "failed"]]  # fmt: skip
    differing = [[d["case"], d["model"], *d["verdicts"].values()] for d in group["differences"]]
    assert _rows(opened, "[data-section=variants] table >> nth=1") == differing == [["lower", "main", "pass", "fail"]]
    metrics = [
        [m["suite"], m["model"], m["metric"], str(m["checks"]), str(m["passed"]), f"{m['score']:.2f}"]
        for m in report["metrics"]
    ]
    assert (
        _rows(opened, "[data-section=metrics] table")
        == metrics
        == [
            ["answer@loud", "main", "shout", "2", "2", "1.00"],
            ["answer@plain", "main", "shout", "2", "1", "0.50"],
        ]
    )
    opened.quiet()


@st.composite
def compared_reports(draw: st.DrawFn) -> EvalReport:
    """Reports whose suites are variants of one suite file (hostile names) and whose checks name metrics."""
    report = draw(reports())
    base, names = draw(nasty_texts.filter(bool)), draw(st.lists(nasty_texts.filter(bool), min_size=1, max_size=3))
    ids = {s.suite: f"{base}@{names[i % len(names)]}" for i, s in enumerate(report.suites)}
    ids |= {c.suite: ids.get(c.suite, f"{base}@{names[0]}") for c in report.cases}
    metric = draw(nasty_texts.filter(bool))
    results = tuple(
        replace(r, suite=ids.get(r.suite, r.suite), checks=tuple(replace(c, metric=metric) for c in r.checks))
        for r in report.results
    )
    return replace(
        report,
        suites=tuple(replace(s, suite=ids[s.suite]) for s in report.suites),
        cases=tuple(replace(c, suite=ids[c.suite]) for c in report.cases),
        results=results,
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(compared_reports())
def test_variants_and_metrics_with_any_names_stay_inert_text(report: EvalReport) -> None:
    """Variant, suite, case, model and metric names are shown as text: only promptops' tags, no handler, and one
    table row per variant, differing case and metric row of the JSON report."""
    page = to_html(report)
    parsed = _Inert()
    parsed.feed(page)
    assert parsed.tags <= ALLOWED and page.count("<script") == 1 and parsed.handlers == ["href"]
    groups, metrics = variant_comparisons(report), metric_scores(report)
    variant_rows = sum(1 + len(g["variants"]) + (1 + len(g["differences"]) if g["differences"] else 0) for g in groups)
    assert _section(page, "variants").count("<tr>") == variant_rows  # header rows included
    assert _section(page, "metrics").count("<tr>") == (1 + len(metrics) if metrics else 0)


def _section(page: str, name: str) -> str:
    start = page.find(f'<div data-section="{name}">')
    return "" if start < 0 else page[start : page.index("</div>", start)]


META = '"><meta http-equiv="refresh" content="0;url=https://evil.test/"><b x="'


def _metas(page: str) -> list[dict[str, str | None]]:
    parsed = _Inert()
    parsed.feed(page)
    return parsed.metas


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reports(), st.one_of(st.just(META), nasty_texts))
def test_hostile_values_in_every_rendered_field_stay_text(report: EvalReport, text: str) -> None:
    """Verdicts, statuses, baseline classes, repeat numbers, roles and error kinds (the fields a report read from
    elsewhere could hold anything in) are shown as text: no tag, meta or handler beyond promptops' own."""
    cases = tuple(
        replace(c, verdict=text, baseline=text, base_verdict=text, base_model=text, model=text, variant=text)
        for c in report.cases
    )
    results = tuple(
        replace(r, status=text, repeat=text, error_kind=text, model=text, variant=text) for r in report.results
    )
    hostile = replace(report, cases=cases, results=results, removed=cases, label=text, run_id=text, shard=text)
    page = to_html(hostile, {("s", "c", "m", "primary"): [Message(text, text)]})
    parsed = _Inert()
    parsed.feed(page)
    assert parsed.tags <= ALLOWED and page.count("<script") == 1 and parsed.handlers == ["href"]
    assert parsed.metas == _metas(to_html(passing()))
    assert parsed.cases == len(cases)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("verdict", META, "cases[0].verdict must be one of pass, fail, error, unchecked"),
        ("runs", "<i>RUNS</i>", "cases[0].runs must be an integer"),
        ("flaky", "yes", "cases[0].flaky must be true or false"),
    ],
)
def test_report_merge_refuses_a_shard_with_a_hostile_field(
    cli, tmp_path: Path, field: str, value: Any, named: str
) -> None:
    """A shard report whose field holds markup (or the wrong type) is refused with its file and field, exit 2,
    and no page is written."""
    doc = to_dict(passing())
    doc["cases"][0][field] = value
    shard = tmp_path / "shard.json"
    shard.write_text(json.dumps(doc), "utf-8")
    code, out, err = cli("report", "merge", shard, "-o", tmp_path / "merged.html")
    assert code == 2, out + err
    assert str(shard) in err and named in err and "Traceback" not in err
    assert value not in out + err
    assert not (tmp_path / "merged.html").exists()


def test_report_merge_refuses_a_hostile_repeat_status_and_shard(cli, tmp_path: Path) -> None:
    doc = to_dict(passing())
    for at, key, value in [("results", "repeat", META), ("results", "status", META), (None, "shard", "x/1")]:
        bad = json.loads(json.dumps(doc))
        (bad[at][0] if at else bad)[key] = value
        shard = tmp_path / f"{key}.json"
        shard.write_text(json.dumps(bad), "utf-8")
        code, out, err = cli("report", "merge", shard, "-o", tmp_path / "merged.html")
        assert code == 2 and str(shard) in err and key in err, out + err
        assert value not in out + err
    assert not (tmp_path / "merged.html").exists()


def test_eval_html_messages_are_redacted_as_the_results_keep_them(cli, tmp_path: Path, monkeypatch) -> None:
    """The rendered messages on the page go through the project's redaction: the value of a key routing.yaml
    names (whatever the variable is called) and the project's own patterns (ORD-\\d{6}) never reach the page."""
    repo = shutil.copytree(EXAMPLE, tmp_path / "support-bot")
    routing = repo / "routing.yaml"
    routing.write_text(routing.read_text("utf-8").replace("OPENAI_API_KEY", "OPENAI_CREDS"), "utf-8")
    key = "bank statement shows"  # a key whose value the ticket happens to contain
    monkeypatch.setenv("OPENAI_CREDS", key)
    html = tmp_path / "report.html"
    code, out, err = in_thread(cli, "eval", "triage/classify_ticket", "--repo", repo, "--replay", "-o", html)
    assert code == 0, out + err
    page = html.read_text("utf-8")
    assert "Rendered messages" in page and "[REDACTED:secret]" in page and "[REDACTED:pattern]" in page
    assert key not in page + out + err and "ORD-118204" not in page
