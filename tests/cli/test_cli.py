"""Commands end to end through main(argv): init, list, schema, --version, --help, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLE, MINIMAL, commit, git
from golden_files import check_golden

from promptops import __version__
from promptops.cli import main
from promptops.cli.app import COMMANDS, NAMES, build, command_of


def test_init_scaffolds_a_repository_that_lints_clean(tmp_path: Path, cli) -> None:
    target = tmp_path / "new"
    code, _, err = cli("init", target)
    assert code == 0, err
    for rel in (
        "promptops.yaml",
        "routing.yaml",
        "prompts/example/greeting.prompt",
        "evals/example/greeting.yaml",
        ".github/workflows/promptops.yml",
        ".pre-commit-config.yaml",
        ".gitignore",
    ):
        assert (target / rel).is_file(), rel
    assert ".promptops/" in (target / ".gitignore").read_text()
    code, out, err = cli("lint", target, "--strict")
    assert code == 0, out + err
    code, out, _ = cli("render", "example/greeting", "--var", "name=Ada", "--repo", target)
    assert code == 0 and "Ada" in out


def test_init_never_overwrites_and_writes_nothing_when_refusing(tmp_path: Path, cli) -> None:
    (tmp_path / "routing.yaml").write_text("mine\n")
    code, _, err = cli("init", tmp_path)
    assert code == 2
    assert "routing.yaml" in err and "never overwrites" in err
    assert (tmp_path / "routing.yaml").read_text() == "mine\n"
    assert not (tmp_path / "prompts").exists()


def test_list_shows_route_evals_and_last_commit(make_repo, cli) -> None:
    root: Path = make_repo(MINIMAL)
    git(root, "config", "user.name", "Grace")
    commit(root, {"prompts/other.txt": "Hi.\n"}, "add other")
    code, out, _ = cli("list", "--repo", root, "--format", "json")
    assert code == 0
    entries = {e["id"]: e for e in json.loads(out)["prompts"]}
    assert set(entries) == {"greet", "other"}
    assert entries["greet"]["model"] == "fast"
    assert entries["greet"]["eval_cases"] == 1
    assert entries["greet"]["owner"] == "@team"
    assert entries["greet"]["last_commit"]["subject"] == "initial"
    assert entries["other"]["last_commit"]["subject"] == "add other"
    assert entries["other"]["eval_cases"] == 0
    code, out, _ = cli("list", "--repo", root)
    assert code == 0
    assert "greet" in out and "fast" in out and "2026-01-01" in out


def test_list_outside_git_has_no_history(make_repo, cli) -> None:
    root: Path = make_repo(MINIMAL, use_git=False)
    code, out, _ = cli("list", "--repo", root, "--format", "json")
    assert code == 0
    assert json.loads(out)["prompts"][0]["last_commit"] is None


def test_list_of_the_example(cli) -> None:
    code, out, _ = cli("list", "--repo", EXAMPLE, "--format", "json")
    assert code == 0
    ids = [e["id"] for e in json.loads(out)["prompts"]]
    assert "support/refund_answer" in ids and "triage/classify_ticket" in ids


@pytest.mark.parametrize("name", ["prompt", "routing", "eval", "config"])
def test_schema_prints_valid_json_schema(name: str, cli) -> None:
    import jsonschema

    code, out, _ = cli("schema", name)
    assert code == 0
    jsonschema.Draft202012Validator.check_schema(json.loads(out))


def test_schema_lists_and_refuses_unknown(cli) -> None:
    code, out, _ = cli("schema")
    assert code == 0 and {"config", "eval", "prompt", "routing", "results"} <= set(out.split())
    code, _, err = cli("schema", "nope")
    assert code == 2 and "known schemas" in err


def test_example_files_validate_against_the_published_schemas() -> None:
    import jsonschema

    from promptops.loader import schema

    for rel, name in [("routing.yaml", "routing"), ("promptops.yaml", "config")]:
        jsonschema.validate(yaml.safe_load((EXAMPLE / rel).read_text()), schema(name))
    for suite in (EXAMPLE / "evals").rglob("*.yaml"):
        if "data" not in suite.parts:
            jsonschema.validate(yaml.safe_load(suite.read_text()), schema("eval"))


def test_version(cli) -> None:
    code, out, _ = cli("--version")
    assert code == 0 and out.strip() == f"promptops {__version__}"


def test_usage_errors_exit_2(cli) -> None:
    assert cli("no-such-command")[0] == 2
    assert cli("lint", "--no-such-option")[0] == 2
    assert cli()[0] == 2  # no command: help, as a usage error


def test_keyboard_interrupt_exits_130(make_repo, monkeypatch: pytest.MonkeyPatch, cli) -> None:
    root: Path = make_repo(MINIMAL)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    # Ctrl-C while libyaml reads: the YAML reader takes its events one by one (or, for an unusual text, nodes).
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for method in ("get_event", "get_single_node"):
        monkeypatch.setattr(loader, method, interrupted)
    code, _out, err = cli("lint", "--repo", root)
    assert code == 130
    assert "interrupted" in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["", *[name for name, *_ in COMMANDS]])
def test_help_golden(command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("TERM", "dumb")
    args = [command, "--help"] if command else ["--help"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Exit codes" in out
    check_golden(f"help-{command or 'promptops'}.txt", "\n".join(line.rstrip() for line in out.splitlines()) + "\n")


@pytest.mark.parametrize(
    "command", [("status",), ("history",), ("list",), ("render", "greet"), ("lint",), ("diff",), ("audit", "show")]
)
def test_an_unknown_format_is_a_usage_error_listing_the_known_ones(make_repo, cli, command: tuple[str, ...]) -> None:
    root = make_repo(dict(MINIMAL))
    code, out, err = cli(*command, "--format", "yaml", "--repo", root)
    assert code == 2 and "unknown format 'yaml'" in err and "use one of:" in err and out == ""


@pytest.mark.parametrize("args", [[name, "--help"] for name in sorted(NAMES)] + [["status", "--bogus"], ["report"]])
def test_a_command_built_alone_answers_as_in_the_whole_table(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run builds only the parser of the command it names; its help and its usage errors are those of the
    whole application."""
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("TERM", "dumb")
    answers = []
    for only in (None, command_of(args)):
        try:
            code = build(only)(args=args, prog_name="promptops", standalone_mode=False)
        except Exception as exc:  # the parser's usage error (click's, as typer vendors it)
            exc.show()  # type: ignore[attr-defined]
            code = exc.exit_code  # type: ignore[attr-defined]
        captured = capsys.readouterr()
        answers.append((code, captured.out, captured.err))
    assert command_of(args) == args[0]
    assert answers[0] == answers[1]


def test_a_command_run_imports_no_other_command_module() -> None:
    probe = (
        "import sys; from promptops.cli import main; main(['schema', 'config']); "
        "print(sorted(m for m in sys.modules if m.startswith('promptops.cli.') and m.endswith('_cmd')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "['promptops.cli.schema_cmd']"


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["status"], "status"),
        (["--debug", "rollback", "--env", "x"], "rollback"),
        (["report", "show"], "report"),
        (["--help"], None),
        (["--version", "status"], None),
        (["-h"], None),
        (["stauts"], None),
        ([], None),
    ],
)
def test_the_command_is_the_first_argument_past_debug(args: list[str], command: str | None) -> None:
    assert command_of(args) == command


def test_text_that_looks_like_an_emoji_code_is_printed_as_written(make_repo, cli) -> None:
    files = dict(MINIMAL)
    files["prompts/greet.prompt"] = str(files["prompts/greet.prompt"]).replace("greets", "'hot :fire: take'")
    code, out, err = cli("list", "--repo", make_repo(files))
    assert code == 0, err
    assert "hot :fire: take" in out and "\N{FIRE}" not in out
