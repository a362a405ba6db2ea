"""Numbers are finite in every file format: YAML .nan/.inf and JSON NaN/Infinity are refused at their line,
and a NaN threshold that reached the diff anyway counts as a weakened gate."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import MINIMAL
from hypothesis import given
from hypothesis import strategies as st

from promptops import diff as d
from promptops import loader
from promptops.errors import InputError
from promptops.workspace import DictSource

Cli = Callable[..., tuple[int, str, str]]

SUITE = "prompt: greet\nthreshold: {threshold}\ncases:\n  - id: ada\n    vars: {{name: Ada}}\n    assert:\n      - {{type: contains, value: Ada, weight: {weight}}}\n"
ROUTING = MINIMAL["routing.yaml"].replace("defaults:\n", "defaults:\n  timeout: {timeout}\n")

NON_FINITE = [".nan", ".NaN", ".inf", "-.inf", ".Inf", "1.0e+999", "-1.0e+999"]


@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize(
    ("path", "template", "line"),
    [
        ("evals/greet.yaml", SUITE.format(threshold="{v}", weight=1), 2),
        ("evals/greet.yaml", SUITE.format(threshold=1, weight="{v}"), 7),
        ("routing.yaml", ROUTING.format(timeout="{v}"), 2),
        ("promptops.yaml", "project: t\neval:\n  max_cost: {v}\n", 3),
    ],
    ids=["threshold", "weight", "timeout", "max_cost"],
)
def test_a_non_finite_number_is_refused_at_its_line(
    cli: Cli, make_repo: Callable[..., Path], value: str, path: str, template: str, line: int
) -> None:
    root = make_repo({**MINIMAL, path: template.replace("{v}", value)}, use_git=False)
    code, out, err = cli("eval", "--replay", "--repo", root)
    assert code == 2, out + err
    assert f"{path}:{line}:" in err and "finite" in err, err
    code, out, err = cli("lint", "--repo", root)
    assert code == 1 and f"{path}:{line}:" in out, out + err


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_non_finite_json_number_in_a_dataset_is_refused(cli: Cli, make_repo: Callable[..., Path], value: str) -> None:
    files = {
        **MINIMAL,
        "evals/greet.yaml": "prompt: greet\ndatasets: [rows.jsonl]\n",
        "evals/rows.jsonl": '{"name": "Ada"}\n{"name": "Bo", "assert": [{"type": "contains", "weight": W}]}\n'.replace(
            "W", value
        ),
    }
    code, out, err = cli("eval", "--replay", "--repo", make_repo(files, use_git=False))
    assert code == 2, out + err
    assert "evals/rows.jsonl:2:" in err and "finite" in err, err


@given(st.sampled_from([math.nan, math.inf, -math.inf]), st.sampled_from(["threshold", "min_consistency"]))
def test_the_schemas_refuse_non_finite_numbers_given_by_a_program(value: float, key: str) -> None:
    with pytest.raises(InputError, match="number"):
        loader.validate("eval", {"prompt": "greet", key: value}, "evals/x.yaml", {})


def test_a_nan_threshold_that_got_through_is_a_weakened_gate() -> None:
    files = {**MINIMAL, "evals/greet.yaml": SUITE.format(threshold=0.9, weight=1)}
    base = loader.load(DictSource(files, "base"))
    head = loader.load(DictSource(files, "head"))
    suite = head.suites["greet"]
    head = dataclasses.replace(head, suites={"greet": dataclasses.replace(suite, threshold=math.nan)})
    report = d.diff(base, head, base_source=DictSource(files), head_source=DictSource(files))
    weakened = [c for _, c in report.changes() if c.weakened]
    assert any(c.field == "threshold" for c in weakened), report.changes()
    assert d.policy_failures(report, ["weakened-gate"])


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_non_finite_var_is_refused(cli: Cli, make_repo: Callable[..., Path], value: str) -> None:
    prompt = MINIMAL["prompts/greet.prompt"].replace("inputs:\n", "inputs:\n  n:\n    type: number\n")
    root = make_repo(
        {**MINIMAL, "prompts/greet.prompt": prompt.replace("{{ name }}", "{{ name }} {{ n }}")}, use_git=False
    )
    code, out, err = cli("render", "greet", "--var", "name=Ada", "--var", f"n={value}", "--repo", root)
    assert code == 2, out + err
    assert "--var n" in err and "nan" not in out.lower()


@pytest.mark.parametrize("bad", ["NaN", "Infinity"])
def test_report_merge_refuses_a_report_with_non_finite_numbers(cli: Cli, tmp_path: Path, bad: str) -> None:
    import json
    import re

    from test_report_results import representative

    from promptops.report.results import to_json

    text = to_json(representative())
    assert '"latency_ms":' in text
    path = tmp_path / "shard.json"
    path.write_text(re.sub(r'"latency_ms": [0-9.]+', f'"latency_ms": {bad}', text, count=1))
    json.loads(path.read_text())  # Python's own reader takes it: the check is ours
    code, out, err = cli("report", "merge", path)
    assert code == 2, out + err
    assert "shard.json" in err and bad in err
