"""Catastrophic regular expressions (ReDoS) in a `regex` assertion, an output schema's `pattern` or an input
schema's `pattern` run under a time budget: an error naming the pattern, never a hung run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import MINIMAL
from eval_fixtures import project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from provider_server import ProviderServer

from promptops import checks
from promptops.model import Assertion, Prompt

Cli = Callable[..., tuple[int, str, str]]

# Each backtracks for hours on its subject with the standard library's engine.
REDOS = [r"^(a|aa)+$", r"(x+x+)+y", r"^(a|a?)+b$", r"^(\w+\s?)*\d$", r"(.*a){20}$"]
SUBJECT = {r"(x+x+)+y": "x" * 5000, r"^(\w+\s?)*\d$": "word " * 40 + "!"}


def subject(pattern: str) -> str:
    return SUBJECT.get(pattern, "a" * 60 + "!")


PROMPT = Prompt(id="p", path="prompts/p.prompt", body="x", body_line=1)


@settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(REDOS), st.booleans())
def test_a_catastrophic_regex_check_is_an_error_within_its_budget(pattern: str, negate: bool) -> None:
    started = time.monotonic()
    [result] = asyncio.run(
        checks.run_checks(
            [Assertion("regex", pattern, negate=negate)], checks.Observation(subject(pattern), PROMPT), None
        )
    )
    assert time.monotonic() - started < 10
    if result.error:  # the budget stopped it: an error, never a pass or a fail
        assert not result.passed and "longer than" in result.reason


@pytest.mark.parametrize("pattern", REDOS)
def test_a_catastrophic_output_schema_pattern_is_an_error_within_its_budget(pattern: str) -> None:
    import json

    schema = {"type": "object", "properties": {"a": {"type": "string", "pattern": pattern}}}
    started = time.monotonic()
    [result] = asyncio.run(
        checks.run_checks(
            [Assertion("json-schema", schema)], checks.Observation(json.dumps({"a": subject(pattern)}), PROMPT), None
        )
    )
    assert time.monotonic() - started < 10
    assert result.error or result.passed is False


def test_eval_with_a_catastrophic_regex_assertion_ends_in_an_error(
    cli: Cli, make_repo: Callable[..., Path], server: ProviderServer, api_key: str
) -> None:
    files = project(server.base_url, {"a": "a" * 60 + "!"})
    files["evals/answer.yaml"] = files["evals/answer.yaml"].replace(
        "{type: contains, value: yes}", "{type: regex, value: '^(a|aa)+$'}"
    )
    started = time.monotonic()
    code, out, err = cli("eval", "--repo", make_repo(files))
    assert time.monotonic() - started < 30
    assert code == 2, out + err
    assert "longer than 1 s" in out + err and "internal error" not in err


def test_render_with_a_catastrophic_input_pattern_is_an_input_error(cli: Cli, make_repo: Callable[..., Path]) -> None:
    prompt = MINIMAL["prompts/greet.prompt"].replace(
        "    type: string\n", "    type: string\n    pattern: '^(a|aa)+$'\n"
    )
    root = make_repo({**MINIMAL, "prompts/greet.prompt": prompt}, use_git=False)
    started = time.monotonic()
    code, out, err = cli("render", "greet", "--var", "name=" + "a" * 60 + "!", "--repo", root)
    assert time.monotonic() - started < 30
    assert code == 2, out + err
    assert "prompts/greet.prompt:" in err and "longer than 1 s" in err
