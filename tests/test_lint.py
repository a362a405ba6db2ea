"""Lint rules one by one on projects built from dicts, then the report formats through the CLI."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import MINIMAL

from promptops.lint import lint
from promptops.model import Finding
from promptops.workspace import DictSource

Cli = Callable[..., tuple[int, str, str]]

# Built at run time so that secret scanners do not flag this test file.
KEY = "sk-proj-" + "Q7xR2m" * 4


def text(*lines: str) -> str:
    """File content from its lines: the Nth argument is line N."""
    return "\n".join(lines) + "\n"


def greet(*front: str, inputs: tuple[str, ...] = ("  name:", "    type: string"), body: tuple[str, ...] = ()) -> str:
    """The greet prompt. Line 2 is `owner`, extra frontmatter starts at line 3; with no extras and the
    default inputs, `inputs:` is line 3 and extra body lines start at line 11."""
    return text(
        "---",
        "owner: '@team'",
        *front,
        "inputs:",
        *inputs,
        "---",
        "system:",
        '{% include "shared/_tone.j2" %}',
        "user:",
        "Hello {{ name }}!",
        *body,
    )


ROUTING = ("defaults:", "  model: fast", "models:", "  fast:", "    model: openai/gpt-4o-mini")
SUITE = ("prompt: greet", "cases:", "  - id: ada", "    vars: {name: Ada}")


def run(changes: dict[str, str | None]) -> list[Finding]:
    """Lint MINIMAL with some files replaced (None deletes one)."""
    files = {k: v for k, v in {**MINIMAL, **changes}.items() if v is not None}
    return lint(DictSource(files))


def found(findings: list[Finding], rule: str) -> tuple[str, str, str, int]:
    """The one finding of a rule, as (rule, severity, file, line)."""
    hits = [(f.rule, f.severity, f.file, f.line) for f in findings if f.rule == rule]
    assert len(hits) == 1, findings
    return hits[0]


def test_minimal_project_has_no_findings() -> None:
    assert run({}) == []


GREET = "prompts/greet.prompt"
CASES: dict[str, tuple[dict[str, str | None], tuple[str, str, int]]] = {
    "invalid-file": ({GREET: greet("colour: blue")}, ("error", GREET, 3)),
    "template-syntax": ({GREET: greet(body=("{{ name }",))}, ("error", GREET, 11)),
    "unknown-partial": ({GREET: greet(body=('{% include "shared/_nope.j2" %}',))}, ("error", GREET, 11)),
    "include-cycle": (
        {"prompts/shared/_tone.j2": text("Be brief.", '{% include "shared/_tone.j2" %}')},
        ("error", "prompts/shared/_tone.j2", 2),
    ),
    "unsafe-template": ({GREET: greet(body=("{{ self }}",))}, ("error", GREET, 11)),
    "unlisted-source": ({GREET: greet(body=('{{ source("docs/secret.md") }}',))}, ("error", GREET, 11)),
    "dynamic-include": ({GREET: greet(body=("{% include name %}",))}, ("warning", GREET, 11)),
    "unused-partial": ({"prompts/shared/_spare.j2": "Spare.\n"}, ("warning", "prompts/shared/_spare.j2", 1)),
    "undeclared-variable": ({GREET: greet(body=("{{ mood }}",))}, ("error", GREET, 11)),
    "undeclared-variable-txt": ({"prompts/note.txt": "Note.\nFor {{ who }}.\n"}, ("warning", "prompts/note.txt", 2)),
    "unused-input": (
        {GREET: greet(inputs=("  name:", "    type: string", "  mood:", "    default: calm"))},
        ("warning", GREET, 6),
    ),
    "fallback": ({GREET: greet("fallback: Sorry {{ nme }}.")}, ("error", GREET, 3)),
    "route-unknown-model": (
        {"routing.yaml": text("defaults:", "  model: slow", *ROUTING[2:])},
        ("error", "routing.yaml", 2),
    ),
    "route-unknown-prompt": (
        {"routing.yaml": text(*ROUTING, "routes:", "  greeting:", "    model: fast")},
        ("error", "routing.yaml", 7),
    ),
    "route-unknown-prompt-glob": (
        {"routing.yaml": text(*ROUTING, "routes:", "  support/*:", "    model: fast")},
        ("warning", "routing.yaml", 7),
    ),
    "unrouted-prompt": ({"routing.yaml": text(*ROUTING[2:])}, ("warning", GREET, 1)),
    "suite-unknown-prompt": (
        {"evals/greet.yaml": text("prompt: greeet", *SUITE[1:])},
        ("error", "evals/greet.yaml", 1),
    ),
    "empty-suite": ({"evals/greet.yaml": text("prompt: greet", "cases: []")}, ("error", "evals/greet.yaml", 1)),
    "unchecked-case": ({"evals/greet.yaml": text(*SUITE)}, ("warning", "evals/greet.yaml", 3)),
    "case-vars": ({"evals/greet.yaml": text(*SUITE[:3], "    vars: {name: 42}")}, ("error", "evals/greet.yaml", 3)),
    "case-vars-extra": (
        {"evals/greet.yaml": text(*SUITE[:3], "    vars: {name: Ada, mood: calm}")},
        ("warning", "evals/greet.yaml", 3),
    ),
    "no-judge": (
        {"evals/greet.yaml": text(*SUITE, "    assert:", "      - {type: llm-rubric, value: friendly}")},
        ("error", "evals/greet.yaml", 6),
    ),
    "no-output-schema": (
        {"evals/greet.yaml": text(*SUITE, "    assert:", "      - {type: json-schema}")},
        ("error", "evals/greet.yaml", 6),
    ),
    "assertion": (
        {"evals/greet.yaml": text(*SUITE, "    assert:", "      - {type: regex, value: '(unclosed'}")},
        ("error", "evals/greet.yaml", 6),
    ),
    "missing-evals": ({"evals/greet.yaml": None}, ("warning", GREET, 1)),
    "missing-evals-high-risk": (
        {GREET: greet("risk: high", "fallback: Sorry."), "evals/greet.yaml": None},
        ("error", GREET, 1),
    ),
    "high-risk-owner": (
        {GREET: text("---", "risk: high", "fallback: Sorry.", "---", "Hello.")},
        ("error", GREET, 2),
    ),
    "high-risk-fallback": ({GREET: greet("risk: high")}, ("error", GREET, 3)),
    "missing-source": ({GREET: greet("sources: [docs/*.md]")}, ("error", GREET, 3)),
    "literal-secret": ({GREET: greet(body=(f"Use {KEY}",))}, ("error", GREET, 11)),
    "duplicate-prompt": ({"prompts/greet.txt": "Hello {{ name }}!\n"}, ("error", "prompts/greet.txt", 1)),
    "duplicate-case-id": (
        {"evals/greet.yaml": text(*SUITE, "  - id: ada", "    vars: {name: Bob}")},
        ("error", "evals/greet.yaml", 5),
    ),
    "unknown-file": ({"prompts/notes.csv": "a,b\n"}, ("warning", "prompts/notes.csv", 0)),
    "missing-routing": ({"routing.yaml": None}, ("warning", "routing.yaml", 0)),
    "imported-stub": (
        {
            "evals/greet.yaml": text(
                *SUITE, "    assert:", "      - {type: python, value: 'evals/checks/g.py:check_1'}"
            ),
            "evals/checks/g.py": text(
                "def check_1(output, context):",
                "    # promptops: imported stub: rewrite",
                "    raise NotImplementedError",
            ),
        },
        ("warning", "evals/greet.yaml", 6),
    ),
    "case-options": (
        {"evals/greet.yaml": text(*SUITE, "    options: {model: slow}")},
        ("error", "evals/greet.yaml", 3),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_rule(case: str) -> None:
    changes, (severity, file, line) = CASES[case]
    rule = case.removesuffix("-txt").removesuffix("-glob").removesuffix("-extra").removesuffix("-high-risk")
    assert found(run(changes), rule) == (rule, severity, file, line)


def test_every_rule_id_has_a_case() -> None:
    """A new rule id in the package (lint findings, loader findings, render errors) needs a case above."""
    package = Path(__file__).parent.parent / "promptops"
    patterns = {
        "lint/*.py": r'make_finding\(\s*"([a-z-]+)"',
        "loader.py": r'Finding\(\s*"([a-z-]+)"',
        "render.py": r'rule="([a-z-]+)"',
    }
    rules = {
        rule
        for name, rx in patterns.items()
        for path in sorted(package.glob(name))
        for rule in re.findall(rx, path.read_text())
    }
    assert "undeclared-variable" in rules
    # These need git: change-reason history (tests/release/test_trail.py), ignored-source a .gitignore
    # (tests/test_ignored_sources.py).
    assert rules - set(CASES) - {"change-reason", "ignored-source"} == set()


def test_literal_secret_is_never_in_the_finding() -> None:
    (finding,) = [f for f in run({GREET: greet(body=(f"Use {KEY}",))}) if f.rule == "literal-secret"]
    assert KEY not in finding.message + finding.hint


# -- severities from promptops.yaml --------------------------------------------------------------------------

UNUSED = {GREET: greet(inputs=("  name:", "    type: string", "  mood:", "    default: calm"))}


def test_config_turns_a_rule_off() -> None:
    config = text("project: t", "lint:", "  rules:", "    unused-input: 'off'")
    assert run({**UNUSED, "promptops.yaml": config}) == []


def test_config_promotes_a_warning_to_an_error() -> None:
    config = text("project: t", "lint:", "  rules:", "    unused-input: error")
    assert found(run({**UNUSED, "promptops.yaml": config}), "unused-input") == ("unused-input", "error", GREET, 6)


def test_config_turns_a_rule_off_unquoted() -> None:
    config = text("project: t", "lint:", "  rules: {unused-input: off}")
    assert run({**UNUSED, "promptops.yaml": config}) == []


# -- the command line: formats, --strict, exit codes ---------------------------------------------------------

# One error (prompts/greet.prompt:11) and one warning (prompts/shared/_spare.j2:1).
FLAWED = {GREET: greet(body=("{{ mood }}",)), "prompts/shared/_spare.j2": "Spare.\n"}


@pytest.fixture
def flawed(make_repo: Callable[..., Path]) -> Path:
    return make_repo({**MINIMAL, **FLAWED})


def test_clean_project_exits_0(make_repo: Callable[..., Path], cli: Cli) -> None:
    code, out, err = cli("lint", "--repo", make_repo(MINIMAL))
    assert (code, out) == (0, "")
    assert "0 errors, 0 warnings" in err


def test_errors_exit_1_with_text_findings(flawed: Path, cli: Cli) -> None:
    code, out, err = cli("lint", "--repo", flawed)
    assert code == 1
    assert "prompts/greet.prompt:11: error: variable 'mood' is used but not declared" in out
    assert "prompts/shared/_spare.j2:1: warning: partial is not included by any prompt [unused-partial]" in out
    assert "1 error, 1 warning" in err


def test_warnings_pass_unless_strict(make_repo: Callable[..., Path], cli: Cli) -> None:
    root = make_repo({**MINIMAL, "prompts/shared/_spare.j2": "Spare.\n"})
    assert cli("lint", "--repo", root)[0] == 0
    assert cli("lint", "--strict", "--repo", root)[0] == 1


def test_json_format(flawed: Path, cli: Cli) -> None:
    code, out, _ = cli("lint", "--format", "json", "--repo", flawed)
    report = json.loads(out)
    assert code == 1
    assert (report["errors"], report["warnings"]) == (1, 1)
    assert [(f["rule"], f["severity"], f["file"], f["line"]) for f in report["findings"]] == [
        ("undeclared-variable", "error", GREET, 11),
        ("unused-partial", "warning", "prompts/shared/_spare.j2", 1),
    ]


def test_github_format(flawed: Path, cli: Cli) -> None:
    code, out, _ = cli("lint", "--format", "github", "--repo", flawed)
    lines = out.splitlines()
    assert code == 1
    assert lines[0].startswith(
        "::error file=prompts/greet.prompt,line=11,title=promptops undeclared-variable::variable 'mood' is used"
    )
    assert lines[1].startswith("::warning file=prompts/shared/_spare.j2,line=1,title=promptops unused-partial::")
    assert len(lines) == 2


def test_sarif_format(flawed: Path, cli: Cli) -> None:
    code, out, _ = cli("lint", "--format", "sarif", "--repo", flawed)
    sarif = json.loads(out)
    results = sarif["runs"][0]["results"]
    assert code == 1
    assert sarif["version"] == "2.1.0"
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("undeclared-variable", "error"),
        ("unused-partial", "warning"),
    ]
    location = results[0]["locations"][0]["physicalLocation"]
    assert location == {"artifactLocation": {"uri": GREET}, "region": {"startLine": 11}}


def test_sarif_describes_the_rule_of_every_result(flawed: Path, cli: Cli) -> None:
    sarif = json.loads(cli("lint", "--format", "sarif", "--repo", flawed)[1])
    driver_rules = {r["id"]: r["shortDescription"]["text"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    for result in sarif["runs"][0]["results"]:
        assert driver_rules.get(result["ruleId"], result["ruleId"]) != result["ruleId"]


# -- every problem, once -------------------------------------------------------------------------------------


def test_every_schema_problem_of_a_file_is_a_finding_at_its_line(cli: Cli, make_repo) -> None:
    suite = text("prompt: greet", "treshold: 0.9", "repeat: zero", "cases:", "  - id: ada", "    varz: {name: Ada}")
    root = make_repo({**MINIMAL, "evals/greet.yaml": suite})
    code, out, _ = cli("lint", "--repo", root, "--format", "json")
    assert code == 1
    problems = [(f["line"], f["message"]) for f in json.loads(out)["findings"] if f["rule"] == "invalid-file"]
    assert [line for line, _ in problems] == [2, 3, 6], problems
    assert "unknown key 'treshold'" in problems[0][1] and "repeat: expected integer" in problems[1][1]
    assert "cases.0: unknown key 'varz'" in problems[2][1]
    assert not any("more problem" in m for _, m in problems)
    code, out, _ = cli("lint", "--repo", root)
    assert "evals/greet.yaml:2:" in out and "evals/greet.yaml:3:" in out and "evals/greet.yaml:6:" in out


CSV = "name,label,mood,__expected\n" + "".join(f"P{i},l{i},calm,x\n" for i in range(68))


def test_a_dataset_gives_one_warning_per_kind_naming_every_extra_column() -> None:
    suite = text("prompt: greet", "datasets: [data/people.csv]")
    findings = run({"evals/greet.yaml": suite, "evals/data/people.csv": CSV})
    assert [(f.rule, f.file, f.line, f.severity, f.message) for f in findings] == [
        (
            "case-vars",
            "evals/data/people.csv",
            2,
            "warning",
            "68 cases (first: 'people-1'): vars 'label', 'mood' are not an input of 'greet'",
        ),
        (
            "unchecked-case",
            "evals/data/people.csv",
            2,
            "warning",
            "68 cases (first: 'people-1') have no assertion: eval reports them as unchecked, never as a pass",
        ),
    ]


def test_metadata_columns_are_not_reported_as_extra_vars() -> None:
    suite = text("prompt: greet", "metadata: [label, mood]", "defaults:", "  assert: [{type: contains, value: P}]")
    suite += "datasets: [data/people.csv]\n"
    assert run({"evals/greet.yaml": suite, "evals/data/people.csv": CSV}) == []
