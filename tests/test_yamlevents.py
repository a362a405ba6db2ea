"""The YAML reader's fast path (libyaml's events) reads every text as the node reader does, or leaves it to it."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import strategies as s
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from promptops import yamlevents, yamltext
from promptops.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
YAML_FILES = sorted(
    path.relative_to(ROOT).as_posix()
    for top in ("tests", "examples")
    for path in (ROOT / top).rglob("*")
    if path.suffix in (".yaml", ".yml") and path.is_file()
)


def typed(value: Any) -> Any:
    """The value with the type of every piece and the order of every mapping: True is not 1, 1 is not 1.0."""
    if isinstance(value, dict):
        return ("dict", [(typed(key), typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [typed(item) for item in value])
    return (type(value).__name__, repr(value))


def outcome(read: Any, text: str, first_line: int = 1) -> tuple[Any, ...]:
    """What a caller sees: the data and lines (in order), or the refusal's message, file, line and hint."""
    try:
        data, lines = read(text, "evals/a.yaml", first_line)
    except InputError as exc:
        return ("refused", exc.message, exc.file, exc.line, exc.hint)
    return ("parsed", typed(data), list(lines.items()))


def fast(text: str, first_line: int = 1) -> tuple[Any, dict[Any, int]]:
    """The fast path alone (raises yamlevents.Unusual where it leaves the text to the node reader)."""
    return yamlevents.parse(yamltext._Loader, text, first_line, yamltext.MAX_NODES, yamltext.MAX_DEPTH)


def same_as_node_reader(text: str, first_line: int = 1) -> tuple[Any, ...]:
    expected = outcome(yamltext._parse_nodes, text, first_line)
    assert outcome(yamltext._parse, text, first_line) == expected
    return expected


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(s.readable_yaml, st.sampled_from([1, 3]))
@example("a: yes\nb: on\nc: 0x1F\nd: 0o17\ne: +1\nf: -0.0\ng: 1_000\nh: 1e3\ni: ~\nj: null\nk: 1:30\n", 1)
@example("- .inf\n", 1)
@example("a: &x 1\nb: *x\n", 2)
@example("base: &b {a: 1}\nuse:\n  <<: *b\n  c: 2\n", 1)
@example("a: 1\na: 2\n", 1)
@example("1: a\ntrue: b\n", 1)
@example("a: !!str 1\n", 1)
@example("--- a\n--- b\n", 1)
@example("a:\n\t- b\n", 1)
@example("a: \x07\n", 1)
def test_the_fast_path_reads_every_text_as_the_node_reader(text: str, first_line: int) -> None:
    same_as_node_reader(text, first_line)


@pytest.mark.parametrize("path", YAML_FILES)
def test_every_yaml_file_of_the_project_is_read_alike_and_fast(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    expected = same_as_node_reader(text, 2)
    if expected[0] == "parsed":
        data, lines = fast(text, 2)
        assert ("parsed", typed(data), list(lines.items())) == expected


@settings(max_examples=150, deadline=None, database=None)
@given(s.json_values, st.sampled_from([False, True]))
def test_data_written_by_pyyaml_is_read_by_the_fast_path(value: object, flow: bool) -> None:
    # PyYAML quotes every string that could be read as something else, and writes no anchor for tree data.
    text = yaml.safe_dump(value, default_flow_style=flow, sort_keys=False)
    data, lines = fast(text, 3)
    assert ("parsed", typed(data), list(lines.items())) == same_as_node_reader(text, 3)


def test_a_long_suite_with_block_scalars_is_read_by_the_fast_path_with_every_line() -> None:
    cases = "".join(
        f"  - id: c{i}\n    vars:\n      q: |\n        first {i}\n        second: yes\n      n: {i}\n"
        f"    assert:\n      - {{type: contains, value: 'yes'}}\n"
        for i in range(300)
    )
    text = f"prompt: answer\nthreshold: 1.0\nrepeat: 1\ncases:\n{cases}"
    data, lines = fast(text)
    assert outcome(yamltext._parse_nodes, text) == ("parsed", typed(data), list(lines.items()))
    assert data["threshold"] == 1.0 and type(data["repeat"]) is int
    assert data["cases"][299] == {
        "id": "c299",
        "vars": {"q": "first 299\nsecond: yes\n", "n": 299},
        "assert": [{"type": "contains", "value": "yes"}],
    }
    assert lines[("cases", 299, "vars", "n")] == 5 + 8 * 299 + 5


UNUSUAL = {
    "anchor": "a: &x 1\n",
    "alias": "a: &x 1\nb: *x\n",
    "explicit tag": "a: !!str 1\n",
    "local tag": "a: !x 1\n",
    "non-specific tag": "a: ! 1\n",
    "tag on a mapping": "a: !!map {b: 1}\n",
    "merge key": "b: &b {a: 1}\nc:\n  <<: *b\n",
    "plain merge key alone": "<<: {a: 1}\n",
    "value key": "=: 1\n",
    "value as a value": "a: =\n",
    "duplicate key": "a: 1\nb: 2\na: 3\n",
    "integer key": "1: a\n",
    "boolean key": "true: a\n",
    "null key": "~: a\n",
    "empty key": ": a\n",
    "sequence key": "? [a]\n: 1\n",
    "infinity": "a: .inf\n",
    "not a number": "- .nan\n",
    "huge float": "a: 1.0e+1000\n",
    "unreadable integer": "a: 0b_\n",
    "too many digits": "a: " + "9" * 5000 + "\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "syntax error": "a: [1, 2\n",
    "tab indentation": "a:\n\tb: 1\n",
    "control character": "a: \x07\n",
    "surrogate": "a: \ud800\n",
    "too deep": "a: " + "[" * (yamltext.MAX_DEPTH + 1) + "]" * (yamltext.MAX_DEPTH + 1) + "\n",
    "too many nodes": "- x\n" * yamltext.MAX_NODES,  # and the sequence itself
}


@pytest.mark.parametrize("text", UNUSUAL.values(), ids=UNUSUAL.keys())
def test_what_the_node_reader_treats_specially_is_left_to_it(text: str) -> None:
    gc.disable()  # as eval reads (the node trees of "too many nodes" keep the collector busy for seconds)
    try:
        with pytest.raises(yamlevents.Unusual):
            fast(text)
        same_as_node_reader(text)
    finally:
        gc.enable()


def test_the_node_reader_still_refuses_as_before() -> None:
    refusal = same_as_node_reader("a: 1\nb:\n  c: .inf\n", 4)
    assert refusal == (
        "refused",
        "'.inf' is not a finite number",
        "evals/a.yaml",
        6,
        "numbers must be finite: write a plain number (YAML .nan and .inf are refused)",
    )


def test_the_fast_path_needs_libyaml_and_is_taken_with_it() -> None:
    script = (
        "import sys\n"
        "if sys.argv[1] == 'without': sys.modules['yaml._yaml'] = None\n"
        "from promptops import yamltext\n"
        "assert yamltext.parse('a: [1, yes, true]\\n', 'f.yaml') == ({'a': [1, 'yes', True]}, "
        "{(): 1, ('a',): 1, ('a', 0): 1, ('a', 1): 1, ('a', 2): 1})\n"
        "print('promptops.yamlevents' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    found = {}
    for libyaml in ("with", "without"):
        run = subprocess.run(
            [sys.executable, "-c", script, libyaml], capture_output=True, text=True, env=env, check=False, timeout=60
        )
        assert run.returncode == 0, run.stderr
        found[libyaml] = run.stdout.strip()
    assert found == {"with": "True", "without": "False"}
