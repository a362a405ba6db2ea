"""`diff` and `lint` load only what their answer needs: no GitPython, eval engine, `regex` engine, JSONPath
parser, detect-secrets (and the `requests` it imports) or rich (for one summary line) on the everyday paths,
and the shortcuts that avoid them answer exactly as the full machinery does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import regex
from conftest import EXAMPLE, MINIMAL, write_tree
from hypothesis import given
from hypothesis import strategies as st

from promptops import fastcheck
from promptops.checks import validate
from promptops.model import Assertion

PROBE = """
import json, sys
from promptops.cli import main
code = main(sys.argv[1:])
watched = ("git", "regex", "asyncio", "jsonpath", "promptops.evaluate", "promptops.report.diff_html",
           "detect_secrets", "requests", "rich")
print("\\n" + json.dumps({"code": code, "loaded": [m for m in watched if m in sys.modules]}))
"""


def loaded_by(*args: str | Path) -> tuple[int, list[str], str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *map(str, args)], capture_output=True, text=True, check=False)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["code"], result["loaded"], done.stdout


def test_diff_of_a_working_tree_change_loads_no_gitpython_eval_engine_regex_engine_detect_secrets_or_rich(
    make_repo,
) -> None:
    root: Path = make_repo(MINIMAL)
    write_tree(root, {"prompts/greet.prompt": MINIMAL["prompts/greet.prompt"].replace("Hello", "Hi")})
    code, loaded, out = loaded_by("diff", "HEAD", "--format", "json", "--repo", root)
    assert code == 0
    assert json.loads(out[: out.rindex("\n{")])["summary"]["prompts"]["modified"] == 1
    assert loaded == []


@pytest.mark.skipif(os.name == "nt", reason="the git wrapper is a shell script")
def test_a_working_tree_diff_of_one_prompt_asks_git_four_things(make_repo, tmp_path: Path) -> None:
    """The revision, what changed, what is untracked, and the base versions of the changed files in one read."""
    log = tmp_path / "git.log"
    wrapper = tmp_path / "bin" / "git"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$1" >> "{log}"\nexec "{shutil.which("git")}" "$@"\n')
    wrapper.chmod(0o755)
    root: Path = make_repo(MINIMAL)
    write_tree(root, {"prompts/greet.prompt": MINIMAL["prompts/greet.prompt"].replace("Hello", "Hi")})
    env = {**os.environ, "PATH": f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}"}
    argv = [sys.executable, "-m", "promptops", "diff", "HEAD", "--format", "json", "--repo", str(root)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["prompts"]["modified"] == 1
    assert log.read_text().split() == ["rev-parse", "diff", "ls-files", "cat-file"]


def test_lint_of_the_example_loads_neither_the_jsonpath_parser_nor_the_event_loop() -> None:
    code, loaded, _ = loaded_by("lint", EXAMPLE)
    assert code == 0
    assert "jsonpath" not in loaded and "asyncio" not in loaded


def test_lint_still_reports_an_invalid_json_path() -> None:
    bad = Assertion(type="json-path", config={"path": "$.a[?("}, value=1)
    problem = validate(bad, None)
    assert problem is not None and "invalid JSONPath" in problem
    assert validate(Assertion(type="json-path", config={"path": "$.answer.status_2"}, value=1), None) is None


# A plain pattern: anchored, literals and sets, at most one quantifier. Text drawn from the same alphabet.
ALPHABET = "ab_Z9.:-é "
ATOM = st.one_of(
    st.sampled_from([c for c in ALPHABET if c not in ".-"]),
    st.builds(
        lambda neg, chars: f"[{'^' if neg else ''}{chars}]",
        st.booleans(),
        st.sampled_from(["a-z", "A-Za-z0-9_", "a_.:-", "0-9", "é", "ab"]),
    ),
)


@st.composite
def plain_patterns(draw: st.DrawFn) -> str:
    head = "".join(draw(st.lists(ATOM, max_size=3)))
    quantified = draw(st.sampled_from(["", "*", "+", "?"])) if head else ""
    tail = "".join(draw(st.lists(ATOM, max_size=3)))
    return "^" + head + quantified + tail + draw(st.sampled_from(["", "$"]))


@given(plain_patterns(), st.text(alphabet=ALPHABET + "\n", max_size=12))
def test_a_plain_pattern_matches_as_the_regex_engine_does(pattern: str, text: str) -> None:
    assert fastcheck._search(pattern, text) == (regex.search(pattern, text) is not None)
