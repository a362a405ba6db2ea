"""Generated bad files for every format: parsers raise only promptops errors, a CSV quote left open is an
error at its line, and no generated project makes `eval` exit 4."""

from __future__ import annotations

import shutil
import string
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import strategies as s
import yaml
from conftest import MINIMAL, write_tree
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from promptops import loader, yamltext
from promptops.cli import main
from promptops.errors import InputError, PromptopsError
from promptops.workspace import DictSource

Cli = Callable[..., tuple[int, str, str]]
hostile = settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))

PLAIN = st.text(alphabet=string.ascii_letters + " ", min_size=1, max_size=8)
plain_rows = st.lists(st.tuples(PLAIN, PLAIN).map(",".join), max_size=4)


@hostile
@given(plain_rows, PLAIN, plain_rows)
def test_a_csv_quote_left_open_is_an_error_at_the_line_that_opened_it(
    before: list[str], opened: str, after: list[str]
) -> None:
    text = "\n".join(["id,name", *before, f'x,"{opened}', *after]) + "\n"
    with pytest.raises(InputError) as caught:
        loader.load_dataset(DictSource({"evals/d.csv": text}), "evals/d.csv")
    assert caught.value.line == len(before) + 2
    assert "never closed" in caught.value.message


def test_eval_stops_on_a_csv_quote_left_open(cli: Cli, make_repo: Callable[..., Path]) -> None:
    files = {
        **MINIMAL,
        "evals/greet.yaml": "prompt: greet\ndatasets: [rows.csv]\n",
        "evals/rows.csv": 'id,name\na,Ada\nb,"Bo\nc,Cy\nd,Di\n',
    }
    code, out, err = cli("eval", "--replay", "--repo", make_repo(files, use_git=False))
    assert code == 2, out + err
    assert "evals/rows.csv:3:" in err and "never closed" in err


# A mapping key YAML reads as a string (not `NULL`, `yes`, `Off`: null and booleans are refused as keys).
KEY = PLAIN.map(str.strip).filter(lambda k: bool(k) and isinstance(yaml.safe_load(k), str))
NON_FINITE_YAML = st.sampled_from([".nan", ".NAN", ".inf", "+.inf", "-.Inf", "1.0e+400", "-2.5e+999"])


@hostile
@given(s.json_objects, st.lists(KEY, min_size=1, max_size=3), NON_FINITE_YAML)
def test_a_non_finite_number_anywhere_in_yaml_is_refused(data: dict[str, object], path: list[str], bad: str) -> None:
    doc = "\n".join(f"{'  ' * i}{key}:" for i, key in enumerate(path)) + f" {bad}\n"
    with pytest.raises(InputError) as caught:
        yamltext.parse(doc, "f.yaml")
    assert caught.value.line == len(path) and "finite" in caught.value.message


@hostile
@given(s.json_values, st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1E+999"]))
def test_a_non_finite_number_anywhere_in_json_is_refused(value: object, bad: str) -> None:
    import json

    with pytest.raises(ValueError):
        loader.parse_json(json.dumps([value, {"n": 0}]).replace("0}", bad + "}"))


FILES = {
    "promptops.yaml": s.anything_like(s.dumped_yaml),
    "routing.yaml": s.anything_like(s.dumped_yaml),
    "prompts/greet.prompt": s.anything_like(st.just(MINIMAL["prompts/greet.prompt"])),
    "evals/greet.yaml": s.anything_like(st.just(MINIMAL["evals/greet.yaml"])),
    "evals/rows.csv": s.csv_texts,
    "evals/rows.jsonl": s.json_lines,
    "evals/recordings/greet.jsonl": st.one_of(s.json_lines, s.texts),
    "evals/overrides/greet.yaml": s.anything_like(s.dumped_yaml),
    "evals/rows.yaml": s.anything_like(s.dumped_yaml),
}


@settings(hostile, max_examples=15)
@example(("prompts/greet.prompt", MINIMAL["prompts/greet.prompt"].replace("{{ name }}", "{{ name|nosuch }}")))
@given(st.sampled_from(sorted(FILES)).flatmap(lambda name: st.tuples(st.just(name), FILES[name])))
def test_no_generated_file_makes_eval_exit_4(change: tuple[str, str]) -> None:
    name, text = change
    root = Path(tempfile.mkdtemp(prefix="hostile-"))
    try:
        files = {
            **MINIMAL,
            "evals/greet.yaml": MINIMAL["evals/greet.yaml"] + "datasets: [rows.csv, rows.jsonl, rows.yaml]\n",
        }
        files.update(
            {
                "evals/rows.csv": "id,name\nb,Bo\n",
                "evals/rows.jsonl": '{"name": "Cy"}\n',
                "evals/rows.yaml": "- name: Di\n",
            }
        )
        files[name] = text
        write_tree(root, files)
        for command in (["eval", "--replay"], ["lint"], ["render", "greet", "--var", "name=x"]):
            code = main([*command, "--repo", str(root)])
            assert code in (0, 1, 2, 3), (command, name, text)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@hostile
@example('{"key": "k", "text": "t", "cost": NaN}')
@example('{"key": "k", "text": "t", "latency_ms": Infinity}')
@given(st.one_of(s.texts, s.json_lines))
def test_recordings_raise_only_promptops_errors_and_hold_finite_numbers(text: str) -> None:
    import math

    from promptops.evaluate import recordings

    try:
        found = recordings.read_all(DictSource({"evals/recordings/x.jsonl": text}), "evals")
    except PromptopsError as exc:
        assert exc.exit_code in (1, 2, 3)
        return
    for c in found.values():
        assert all(math.isfinite(n) for n in (c.latency_ms, c.cost or 0.0))
