"""Lint lists every bad row of a dataset, each at its line; eval still stops at the first one (exit 2)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from conftest import MINIMAL
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptops.lint import lint
from promptops.workspace import DictSource

Cli = Callable[..., tuple[int, str, str]]

JSONL = (
    '{"name": "Ada", "assert": [{"type": "contains", "value": "Ada"}]}\n'
    "[1, 2]\n"  # 2: not an object
    "{bad\n"  # 3: not JSON
    "\n"
    '{"name": "Bo", "assert": [{"type": "contains", "value": "Bo"}]}\n'
    '{"vars": 3}\n'  # 6: vars not an object
    '{"name": "Cy", "assert": [{"type": "nope"}]}\n'  # 7: invalid assertion
)
CSV = "name,mood\nAda,calm\nBo,calm,extra\nCy,calm\nDi,calm,x,y\nEd,calm\n"  # 3 and 5: too many fields
YAML = (
    "- {name: Ada}\n"
    "- just a string\n"  # 2: not an object
    "- vars: [1]\n"  # 3: vars not an object
    "- name: Bo\n"
    "  assert: {type: contains}\n"  # 4: assert not a list
    "- name: Cy\n"
    "  assert:\n"
    "    - {type: contains, valu: x}\n"  # 6: invalid assertion
)
BAD = {
    "evals/data/people.jsonl": ([2, 3, 6, 7], ["got a list", "invalid JSON", "`vars`", "invalid assertion"]),
    "evals/data/people.csv": ([3, 5], ["more fields than the header"] * 2),
    "evals/data/people.yaml": ([2, 3, 4, 6], ["got a string", "`vars`", "`assert` must be a list", "'valu'"]),
}


def project(make_repo: Callable[..., Path], *datasets: str) -> Path:
    suite = f"prompt: greet\ndatasets: [{', '.join(d.removeprefix('evals/') for d in datasets)}]\n"
    files = {"evals/data/people.jsonl": JSONL, "evals/data/people.csv": CSV, "evals/data/people.yaml": YAML}
    return make_repo({**MINIMAL, "evals/greet.yaml": suite, **{d: files[d] for d in datasets}}, use_git=False)


def test_lint_lists_every_bad_row_of_each_dataset_in_text_and_json(cli: Cli, make_repo: Callable[..., Path]) -> None:
    root = project(make_repo, *BAD)
    code, out, _ = cli("lint", "--repo", root, "--format", "json")
    assert code == 1
    report = json.loads(out)
    for file, (lines, words) in BAD.items():
        found = [f for f in report["findings"] if f["file"] == file]
        assert [f["line"] for f in found] == lines, found
        assert all(f["rule"] == "invalid-file" and f["severity"] == "error" for f in found)
        for finding, word in zip(found, words, strict=True):
            assert word in finding["message"], finding
            assert finding["hint"], finding
    assert report["errors"] == 10
    code, out, _ = cli("lint", "--repo", root)
    assert code == 1
    for file, (lines, _) in BAD.items():
        for line in lines:
            assert f"{file}:{line}: error:" in out, (file, line, out)
    assert "Traceback" not in out


def test_eval_stops_at_the_first_bad_row_in_file_order(cli: Cli, make_repo: Callable[..., Path]) -> None:
    """Line 2 (not an object) comes before line 3 (not JSON): eval names line 2 and how to fix it, exit 2."""
    root = project(make_repo, "evals/data/people.jsonl")
    code, out, err = cli("eval", "--repo", root, "--replay")
    assert code == 2
    assert "evals/data/people.jsonl:2: a dataset row must be an object, got a list" in err
    assert "hint: write each row as an object" in err
    assert "people.jsonl:3" not in err and "Traceback" not in err + out


def test_a_csv_quote_left_open_ends_the_reading_after_the_rows_before_it(
    cli: Cli, make_repo: Callable[..., Path]
) -> None:
    csv = 'name,mood\nAda,calm\nBo,calm,extra\n"Cy,calm\nDi,calm\n'
    files = {**MINIMAL, "evals/greet.yaml": "prompt: greet\ndatasets: [data/p.csv]\n", "evals/data/p.csv": csv}
    code, out, _ = cli("lint", "--repo", make_repo(files, use_git=False), "--format", "json")
    found = [(f["line"], f["message"]) for f in json.loads(out)["findings"] if f["file"] == "evals/data/p.csv"]
    assert code == 1
    assert found == [
        (3, "row has more fields than the header"),
        (4, "a quoted field opened on this line is never closed"),
    ]


ROW_KINDS = {
    "good": '{"name": "x", "assert": [{"type": "contains", "value": "x"}]}',
    "list": "[1]",
    "json": "{nope",
    "vars": '{"vars": "x"}',
    "assert": '{"name": "x", "assert": {"type": "contains"}}',
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(sorted(ROW_KINDS)), min_size=1, max_size=12))
def test_every_bad_line_of_a_jsonl_dataset_is_one_error_at_its_line(kinds: list[str]) -> None:
    data = "".join(ROW_KINDS[k] + "\n" for k in kinds)
    suite = "prompt: greet\ndatasets: [data/p.jsonl]\n"
    findings = lint(DictSource({**MINIMAL, "evals/greet.yaml": suite, "evals/data/p.jsonl": data}))
    bad = [f.line for f in findings if f.file == "evals/data/p.jsonl" and f.rule == "invalid-file"]
    assert bad == [n for n, k in enumerate(kinds, 1) if k != "good"]


def test_a_dataset_row_whose_assertion_has_a_transform_loads_and_a_bad_one_is_named(
    cli: Cli, make_repo: Callable[..., Path]
) -> None:
    """An assertion's `transform` refers to a shared definition of the eval schema: a dataset row may use it."""
    rows = (
        '{"name": "Ada", "assert": [{"type": "contains", "value": "ada", "transform": ["lower"]}]}\n'
        '{"name": "Bo", "assert": [{"type": "contains", "value": "bo", "transform": ["shout"]}]}\n'
    )
    suite = "prompt: greet\ndatasets: [data/people.jsonl]\n"
    root = make_repo({**MINIMAL, "evals/greet.yaml": suite, "evals/data/people.jsonl": rows}, use_git=False)
    code, out, _ = cli("lint", "--repo", root, "--format", "json")
    assert code == 1
    found = [f for f in json.loads(out)["findings"] if f["file"] == "evals/data/people.jsonl"]
    assert [(f["line"], f["rule"]) for f in found] == [(2, "invalid-file")], found
    assert "invalid assertion" in found[0]["message"]
