"""Laws of diff over generated projects: a snapshot has no change against itself, swapping the sides swaps
added and removed, and every document validates and fits a PR comment."""

from __future__ import annotations

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptops import diff as d
from promptops import loader
from promptops.loader import schema
from promptops.report import diff as writers
from promptops.workspace import DictSource

laws = settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

PROMPT_IDS = ("a", "b", "sub/c")
BODIES = (
    "Hello {{ name }}.\n",
    "system:\n{% include 'shared/_p.j2' %}\nuser:\nHi {{ name }}\n",
    "system:\nBe kind.\nuser:\n{{ name }}?\n",
)
INPUTS = ("  name: {type: string}\n", "  name: {type: string, minLength: 2}\n", "  name: {type: [string, 'null']}\n")
OUTPUTS = ("", "output: {type: object, properties: {x: {type: string}}, required: [x]}\n")


@st.composite
def prompt_files(draw: st.DrawFn) -> str:
    risk = draw(st.sampled_from(("low", "high")))
    front = f"risk: {risk}\ninputs:\n{draw(st.sampled_from(INPUTS))}{draw(st.sampled_from(OUTPUTS))}"
    return f"---\n{front}---\n{draw(st.sampled_from(BODIES))}"


@st.composite
def suites(draw: st.DrawFn, prompt: str) -> str:
    cases = draw(st.lists(st.sampled_from(("x", "y", "z")), unique=True, min_size=1, max_size=3))
    threshold = draw(st.sampled_from((0.5, 0.9, 1.0)))
    lines = [f"prompt: {prompt}", f"threshold: {threshold}", f"repeat: {draw(st.sampled_from((1, 3)))}", "cases:"]
    for case in cases:
        lines.append(f"  - id: {case}\n    vars: {{name: {draw(st.sampled_from(('Ada', 'Bob')))}}}")
        if draw(st.booleans()):
            lines.append("    assert:\n      - {type: contains, value: A}")
    return "\n".join(lines) + "\n"


@st.composite
def projects(draw: st.DrawFn) -> dict[str, str]:
    files = {
        "promptops.yaml": "project: gen\n",
        "prompts/shared/_p.j2": draw(st.sampled_from(("Rule one.\n", "Rule two.\n", "Rule {{ name }}.\n"))),
        "routing.yaml": (
            f"defaults:\n  model: {draw(st.sampled_from(('fast', 'smart')))}\n"
            "models:\n  fast: {model: openai/mini}\n  smart: {model: openai/big}\n"
            + ("routes:\n  'sub/*': {model: smart}\n" if draw(st.booleans()) else "")
        ),
    }
    for pid in draw(st.lists(st.sampled_from(PROMPT_IDS), unique=True, max_size=3)):
        files[f"prompts/{pid}.prompt"] = draw(prompt_files())
        if draw(st.booleans()):
            files[f"evals/{pid}.yaml"] = draw(suites(pid))
    return files


def compare(a: dict[str, str], b: dict[str, str]) -> d.DiffReport:
    x, y = DictSource(a, "base"), DictSource(b, "head")
    return d.diff(loader.load(x), loader.load(y), base_source=x, head_source=y)


def by_status(report: d.DiffReport) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {"added": set(), "removed": set(), "modified": set()}
    for p in report.prompts:
        out[p.status].add(p.id)
    return out


@laws
@given(projects())
def test_a_project_has_no_change_against_itself(project: dict[str, str]) -> None:
    report = compare(project, dict(project))
    assert not report.changed and d.version_bump(report) is None


@laws
@given(projects(), projects())
def test_swapping_the_sides_swaps_added_and_removed(a: dict[str, str], b: dict[str, str]) -> None:
    forward, backward = compare(a, b), compare(b, a)
    f, r = by_status(forward), by_status(backward)
    assert (f["added"], f["removed"], f["modified"]) == (r["removed"], r["added"], r["modified"])
    swap = {"added": "removed", "removed": "added", "modified": "modified"}
    assert {(s.id, swap[s.status]) for s in forward.suites} == {(s.id, s.status) for s in backward.suites}
    assert {(p.name, swap[p.status]) for p in forward.partials} == {(p.name, p.status) for p in backward.partials}
    assert forward.changed == backward.changed
    assert (d.version_bump(forward) is None) == (not forward.changed)


@laws
@given(projects(), projects())
def test_every_document_validates_and_every_writer_copes(a: dict[str, str], b: dict[str, str]) -> None:
    doc = d.as_dict(compare(a, b))
    jsonschema.validate(doc, schema("diff"))
    assert writers.to_text(doc)
    markdown = writers.to_markdown(doc, limit=3_000)
    assert len(markdown) <= 3_000 and markdown.startswith(writers.MARKER)
