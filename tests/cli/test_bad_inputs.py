"""Bad inputs through the real CLI: the documented exit code, a file:line message, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import MINIMAL

Cli = Callable[..., tuple[int, str, str]]

# Built at run time so that secret scanners do not flag this test file.
KEY = "sk-proj-" + "Q7xR2m" * 4


def text(*lines: str) -> str:
    """File content from its lines: the Nth argument is line N."""
    return "\n".join(lines) + "\n"


def greet(*extra_front: str, body: tuple[str, ...] = ("Hello {{ name }}!",)) -> str:
    """MINIMAL's greet prompt. Extra frontmatter starts at line 4; `body` replaces the last line, line 11
    (line 11 + N with N extra frontmatter lines)."""
    return text(
        "---",
        "description: greets",
        "owner: '@team'",
        *extra_front,
        "inputs:",
        "  name:",
        "    type: string",
        "---",
        "system:",
        '{% include "shared/_tone.j2" %}',
        "user:",
        *body,
    )


@pytest.fixture
def project(make_repo: Callable[..., Path]) -> Callable[..., Path]:
    """project({path: content or None}) -> MINIMAL with those files replaced (None deletes), committed."""
    return lambda changes, use_git=True: make_repo({**MINIMAL, **changes}, use_git=use_git)


def failed(result: tuple[int, str, str], code: int, where: str) -> str:
    """Assert the exit code, a message at `where` (file:line) and no traceback; returns all output."""
    status, out, err = result
    output = out + err
    assert status == code, output
    assert f"{where}:" in output, output
    assert "Traceback" not in output
    return output


# -- YAML syntax errors --------------------------------------------------------------------------------------

YAML_ERRORS = {
    "routing": ("routing.yaml", text("defaults:", "  model: fast", "models:", "  fast:", "    model: gpt: 4o"), 5),
    "suite": ("evals/greet.yaml", text("prompt: greet", "cases:", "  - id: ada: x", "    vars: {name: Ada}"), 3),
    "frontmatter": ("prompts/greet.prompt", greet("owner2: @team"), 4),
    "config": ("promptops.yaml", text("project: t", "tag_prefix: v: 1"), 2),
}


@pytest.mark.parametrize("kind", YAML_ERRORS)
def test_yaml_syntax_error_fails_lint_at_its_line(project, cli: Cli, kind: str) -> None:
    path, content, line = YAML_ERRORS[kind]
    output = failed(cli("lint", "--repo", project({path: content})), 1, f"{path}:{line}")
    assert "YAML syntax error" in output


def test_yaml_syntax_error_in_a_prompt_fails_render(project, cli: Cli) -> None:
    root = project({"prompts/greet.prompt": greet("owner2: @team")})
    output = failed(cli("render", "greet", "--var", "name=Ada", "--repo", root), 2, "prompts/greet.prompt:4")
    assert "YAML syntax error" in output


def test_yaml_error_at_end_of_file_points_inside_the_file(project, cli: Cli) -> None:
    root = project({"routing.yaml": text("defaults:", "  model: fast", "models:", "  fast:", "    model: [x")})
    failed(cli("lint", "--repo", root), 1, "routing.yaml:5")


# -- schema violations ---------------------------------------------------------------------------------------

SCHEMA_ERRORS = {
    "frontmatter-unknown-key": ("prompts/greet.prompt", greet("colour: blue"), 4, "unknown key 'colour'"),
    "frontmatter-wrong-type": ("prompts/greet.prompt", greet("tags: urgent"), 4, "tags: expected array"),
    "routing": (
        "routing.yaml",
        text("defaults:", "  model: fast", "  retries: many", "models:", "  fast:", "    model: openai/gpt-4o"),
        3,
        "defaults.retries: expected integer",
    ),
    "suite": ("evals/greet.yaml", text("prompt: greet", "threshold: 2", "cases: []"), 2, "threshold"),
    "config": ("promptops.yaml", text("project: t", "tag_prefx: v"), 2, "unknown key 'tag_prefx'"),
}


@pytest.mark.parametrize("kind", SCHEMA_ERRORS)
def test_schema_violation_fails_lint_at_its_line(project, cli: Cli, kind: str) -> None:
    path, content, line, words = SCHEMA_ERRORS[kind]
    output = failed(cli("lint", "--repo", project({path: content})), 1, f"{path}:{line}")
    assert words in output
    assert "promptops schema" in output  # the hint says where the format is described


def test_schema_violation_in_a_prompt_fails_render(project, cli: Cli) -> None:
    root = project({"prompts/greet.prompt": greet("risk: extreme")})
    output = failed(cli("render", "greet", "--var", "name=Ada", "--repo", root), 2, "prompts/greet.prompt:4")
    assert "'extreme'" in output


def test_invalid_prompt_is_not_also_reported_as_unknown(project, cli: Cli) -> None:
    _, out, _ = cli("lint", "--repo", project({"prompts/greet.prompt": greet("colour: blue")}))
    assert "suite-unknown-prompt" not in out


@pytest.mark.parametrize("kind", ["routing", "suite", "frontmatter", "config"])
def test_list_refuses_an_invalid_file(project, cli: Cli, kind: str) -> None:
    path, content, line = YAML_ERRORS[kind]
    failed(cli("list", "--repo", project({path: content})), 2, f"{path}:{line}")


def test_render_refuses_an_invalid_config(project, cli: Cli) -> None:
    path, content, line = YAML_ERRORS["config"]
    failed(cli("render", "greet", "--var", "name=Ada", "--repo", project({path: content})), 2, f"{path}:{line}")


def test_render_case_from_an_invalid_suite_names_the_file(project, cli: Cli) -> None:
    path, content, line = YAML_ERRORS["suite"]
    failed(cli("render", "greet", "--case", "greet:ada", "--repo", project({path: content})), 2, f"{path}:{line}")


# -- templates -----------------------------------------------------------------------------------------------


def test_undeclared_variable_is_a_lint_error(project, cli: Cli) -> None:
    root = project({"prompts/greet.prompt": greet(body=("Hello {{ name }}!", "{{ mood }}"))})
    output = failed(cli("lint", "--repo", root), 1, "prompts/greet.prompt:12")
    assert "[undeclared-variable]" in output
    assert "'mood'" in output


def test_render_names_a_missing_variable(project, cli: Cli) -> None:
    root = project({"prompts/greet.prompt": greet(body=("Hello {{ name }}!", "{{ mood }}"))})
    output = failed(cli("render", "greet", "--var", "name=Ada", "--repo", root), 2, "prompts/greet.prompt:12")
    assert "'mood'" in output


def test_render_names_a_missing_input(project, cli: Cli) -> None:
    output = failed(cli("render", "greet", "--repo", project({})), 2, "prompts/greet.prompt:4")
    assert "missing input 'name'" in output
    assert "--var name=" in output


def test_unused_input_is_a_warning(project, cli: Cli) -> None:
    prompt = MINIMAL["prompts/greet.prompt"].replace("inputs:\n", "inputs:\n  mood:\n    default: calm\n")
    status, out, err = cli("lint", "--repo", project({"prompts/greet.prompt": prompt}))
    assert status == 0, out + err
    assert "prompts/greet.prompt:5: warning: input 'mood' is declared but never used [unused-input]" in out
    assert "Traceback" not in out + err


def test_unknown_partial(project, cli: Cli) -> None:
    root = project({"prompts/greet.prompt": MINIMAL["prompts/greet.prompt"].replace("_tone.j2", "_tones.j2")})
    output = failed(cli("lint", "--repo", root), 1, "prompts/greet.prompt:9")
    assert "unknown partial 'shared/_tones.j2'" in output
    assert "did you mean 'shared/_tone.j2'" in output
    failed(cli("render", "greet", "--var", "name=Ada", "--repo", root), 2, "prompts/greet.prompt:9")


def test_include_cycle(project, cli: Cli) -> None:
    root = project(
        {
            "prompts/shared/_tone.j2": text("Be brief.", '{% include "shared/_more.j2" %}'),
            "prompts/shared/_more.j2": text("More.", '{% include "shared/_tone.j2" %}'),
        }
    )
    # A cycle is told from its smallest name, at the include that closes it, whichever prompt reaches it.
    output = failed(cli("lint", "--repo", root), 1, "prompts/shared/_tone.j2:2")
    assert "include cycle: shared/_more.j2 -> shared/_tone.j2 -> shared/_more.j2 [include-cycle]" in output
    failed(cli("render", "greet", "--var", "name=Ada", "--repo", root), 2, "prompts/shared/_tone.j2:2")


# -- routing -------------------------------------------------------------------------------------------------

ROUTING = ("defaults:", "  model: fast", "models:", "  fast:", "    model: openai/gpt-4o-mini", "routes:")


def test_route_to_an_unknown_prompt(project, cli: Cli) -> None:
    root = project({"routing.yaml": text(*ROUTING, "  greeting:", "    model: fast")})
    output = failed(cli("lint", "--repo", root), 1, "routing.yaml:7")
    assert "route 'greeting' names no prompt [route-unknown-prompt]" in output


def test_route_to_an_unknown_model(project, cli: Cli) -> None:
    root = project({"routing.yaml": text(*ROUTING, "  greet:", "    model: fats")})
    output = failed(cli("lint", "--repo", root), 1, "routing.yaml:8")
    assert "unknown model 'fats' [route-unknown-model]" in output
    assert "known models: fast" in output


# -- eval suites and datasets --------------------------------------------------------------------------------


def test_case_vars_that_do_not_fit_the_inputs(project, cli: Cli) -> None:
    suite = text("prompt: greet", "cases:", "  - id: ada", "    vars: {name: 42}", "  - id: nobody", "    vars: {}")
    root = project({"evals/greet.yaml": suite})
    output = failed(cli("lint", "--repo", root), 1, "evals/greet.yaml:3")
    assert "case 'ada': var name: 42 is not of type 'string' [case-vars]" in output
    assert "evals/greet.yaml:5: error: case 'nobody': 'name' is a required property [case-vars]" in output


def test_duplicate_case_id(project, cli: Cli) -> None:
    suite = text("prompt: greet", "cases:", "  - id: ada", "    vars: {name: A}", "  - id: ada", "    vars: {name: B}")
    output = failed(cli("lint", "--repo", project({"evals/greet.yaml": suite})), 1, "evals/greet.yaml:5")
    assert "duplicate case id 'ada' (first defined at line 3)" in output
    assert "[duplicate-case-id]" in output


def test_dataset_line_that_is_not_json(project, cli: Cli) -> None:
    root = project(
        {
            "evals/greet.yaml": text("prompt: greet", "datasets:", "  - data/greet.jsonl"),
            "evals/data/greet.jsonl": text('{"id": "a", "name": "Ada"}', '{"id": "b", name: Bob}'),
        }
    )
    output = failed(cli("lint", "--repo", root), 1, "evals/data/greet.jsonl:2")
    assert "invalid JSON" in output


# -- secrets -------------------------------------------------------------------------------------------------


def test_literal_key_in_a_prompt_is_reported_not_printed(project, cli: Cli) -> None:
    root = project({"prompts/greet.prompt": greet(body=(f"Hello {{{{ name }}}}! Use {KEY}",))})
    for fmt in ("text", "json", "github", "sarif"):
        status, out, err = cli("lint", "--format", fmt, "--repo", root)
        assert status == 1
        assert KEY not in out + err
    output = failed(cli("lint", "--repo", root), 1, "prompts/greet.prompt:11")
    assert "[literal-secret]" in output


def test_literal_key_in_routing_is_reported_not_printed(project, cli: Cli) -> None:
    root = project({"routing.yaml": text(*ROUTING[:5], f"    api_key: {KEY}")})
    output = failed(cli("lint", "--repo", root), 1, "routing.yaml:6")
    assert "[literal-secret]" in output
    assert KEY not in output


def test_key_pasted_into_api_key_env_is_not_printed(project, cli: Cli) -> None:
    root = project({"routing.yaml": text(*ROUTING[:5], f"    api_key_env: {KEY}")})
    output = failed(cli("lint", "--repo", root), 1, "routing.yaml:6")
    assert KEY not in output


# -- risk ----------------------------------------------------------------------------------------------------

REFUND = (
    "---",
    "owner: '@payments'",
    "risk: high",
    "fallback: A person will review your refund.",
    "inputs:",
    "  order:",
    "    type: string",
    "---",
    "Refund order {{ order }}.",
)
REFUND_SUITE = text("prompt: refund", "cases:", "  - id: one", "    vars: {order: '42'}")


@pytest.mark.parametrize(
    ("missing", "where", "rule"),
    [
        ("evals", "prompts/refund.prompt:1", "missing-evals"),
        ("fallback", "prompts/refund.prompt:3", "high-risk-fallback"),
        ("owner", "prompts/refund.prompt:2", "high-risk-owner"),
    ],
)
def test_high_risk_prompt_needs_evals_fallback_owner(project, cli: Cli, missing: str, where: str, rule: str) -> None:
    lines = [line for line in REFUND if not line.startswith(f"{missing}:")]
    files = {"prompts/refund.prompt": text(*lines), "evals/refund.yaml": None if missing == "evals" else REFUND_SUITE}
    output = failed(cli("lint", "--repo", project(files)), 1, f"{where}: error")
    assert f"[{rule}]" in output
    assert output.count(" error: ") == 1


# -- unreadable files ----------------------------------------------------------------------------------------


def test_file_that_is_not_utf8(project, cli: Cli) -> None:
    root = project({"prompts/greet.prompt": greet(body=("Hello {{ name }}!", "café")).encode("latin-1")})
    output = failed(cli("lint", "--repo", root), 1, "prompts/greet.prompt:12")
    assert "not UTF-8" in output
    failed(cli("render", "greet", "--var", "name=Ada", "--repo", root), 2, "prompts/greet.prompt:12")


# Just over the 1 MB limit: what is checked is the refusal, and a bigger file only costs time.
BIG = text("---", "description: big", "---", "user:", *["x" * 99] * 11_000)


@pytest.mark.parametrize(
    ("path", "content", "words"),
    [
        ("routing.yaml", "", "file is empty"),
        ("prompts/greet.prompt", "", "file is empty"),
        ("prompts/greet.prompt", BIG, "file is 1.1 MB; the limit is 1 MB"),
    ],
    ids=["empty-routing", "empty-prompt", "over-1MB-prompt"],
)
def test_empty_or_huge_file_is_refused(project, cli: Cli, path: str, content: str, words: str) -> None:
    root = project({path: content}, use_git=False)  # committing a big file is slow and tests nothing here
    status, out, err = cli("lint", "--repo", root)
    assert status == 1
    assert f"{path}:1: error: {words}" in out
    assert "Traceback" not in out + err
    if path.startswith("prompts/"):
        status, out, err = cli("render", "greet", "--var", "name=Ada", "--repo", root)
        assert status == 2
        assert f"{path}:1: {words}" in err


@pytest.mark.parametrize(("path", "content"), [("routing.yaml", ""), ("prompts/greet.prompt", BIG)])
def test_empty_or_huge_file_has_a_line(project, cli: Cli, path: str, content: str) -> None:
    failed(cli("lint", "--repo", project({path: content}, use_git=False)), 1, f"{path}:1")


# -- arguments -----------------------------------------------------------------------------------------------


def test_render_unknown_prompt_suggests_one(project, cli: Cli) -> None:
    status, _, err = cli("render", "gret", "--repo", project({}))
    assert status == 2
    assert "unknown prompt 'gret'" in err
    assert "did you mean greet?" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("render", "greet", "--var", "name"), "--var 'name' is not NAME=VALUE"),
        (("render", "greet", "--var", "name=Ada", "--format", "yaml"), "unknown format 'yaml'"),
        (("lint", "--format", "xml"), "unknown format 'xml'"),
        (("list", "--format", "xml"), "unknown format 'xml'"),
    ],
)
def test_bad_argument_is_a_usage_error(project, cli: Cli, args: tuple[str, ...], words: str) -> None:
    status, out, err = cli(*args, "--repo", project({}))
    assert status == 2
    assert words in err
    assert "Traceback" not in out + err


@pytest.mark.parametrize("command", [("lint",), ("list",), ("render", "greet")])
def test_repo_that_does_not_exist(tmp_path: Path, cli: Cli, command: tuple[str, ...]) -> None:
    missing = tmp_path / "nowhere"
    status, out, err = cli(*command, "--repo", missing)
    assert status == 2
    assert f"{missing} is not a directory" in err
    assert "Traceback" not in out + err


# -- internal errors and --debug -----------------------------------------------------------------------------


@pytest.fixture
def broken_jinja(monkeypatch: pytest.MonkeyPatch) -> None:
    """A third-party failure promptops does not expect."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(ImmutableSandboxedEnvironment, "parse", boom)


@pytest.mark.usefixtures("broken_jinja")
def test_internal_error_is_one_line_and_exit_4(project, cli: Cli) -> None:
    status, out, err = cli("lint", "--repo", project({}))
    assert status == 4
    assert err.count("\n") == 1
    assert err.startswith("internal error: RuntimeError: boom")
    assert "--debug" in err
    assert "Traceback" not in out + err


@pytest.mark.usefixtures("broken_jinja")
def test_debug_shows_the_traceback_of_an_internal_error(project, cli: Cli) -> None:
    status, _, err = cli("--debug", "lint", "--repo", project({}))
    assert status == 4
    assert "Traceback (most recent call last)" in err
    assert err.rstrip().splitlines()[-1].startswith("internal error: RuntimeError: boom")


@pytest.mark.usefixtures("broken_jinja")
def test_debug_after_the_command_is_accepted(project, cli: Cli) -> None:
    status, _, err = cli("lint", "--repo", project({}), "--debug")
    assert status == 4
    assert "Traceback (most recent call last)" in err


def test_debug_adds_a_traceback_to_an_input_error(project, cli: Cli) -> None:
    status, _, err = cli("--debug", "render", "gret", "--repo", project({}))
    assert status == 2
    assert "Traceback (most recent call last)" in err
    assert "error: unknown prompt 'gret'" in err
