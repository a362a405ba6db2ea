"""A project that does not load never passes an eval: every load problem stops `eval` with exit 2 and the
file:line message lint gives."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import MINIMAL, commit

Cli = Callable[..., tuple[int, str, str]]
SUITE = "prompt: greet\ncases:\n  - id: ada\n    vars: {name: Ada}\n    assert:\n      - {type: contains, value: Ada}\n"


def stopped(result: tuple[int, str, str], where: str, *words: str) -> str:
    code, out, err = result
    assert code == 2, out + err
    assert f"{where}" in err, err
    assert "all gates passed" not in out + err and "Traceback" not in out + err
    for word in words:
        assert word in err, err
    return err


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the repositories, where links point."""
    path = tmp_path / "elsewhere"
    path.mkdir()
    return path


def test_a_dataset_linked_outside_the_repository_stops_eval(
    cli: Cli, make_repo: Callable[..., Path], outside: Path
) -> None:
    (outside / "rows.jsonl").write_text('{"name": "Ada"}\n')
    root = make_repo({**MINIMAL, "evals/greet.yaml": SUITE + "datasets: [rows.jsonl]\n"}, use_git=False)
    os.symlink(outside / "rows.jsonl", root / "evals" / "rows.jsonl")
    stopped(cli("eval", "--replay", "--repo", root), "evals/rows.jsonl", "outside the repository")


def test_a_suite_linked_outside_the_repository_stops_eval(
    cli: Cli, make_repo: Callable[..., Path], outside: Path
) -> None:
    (outside / "other.yaml").write_text(SUITE)
    root = make_repo(dict(MINIMAL), use_git=False)
    os.symlink(outside / "other.yaml", root / "evals" / "other.yaml")
    stopped(cli("eval", "--replay", "--repo", root), "evals/other.yaml", "outside the repository")
    code, out, err = cli("lint", "--repo", root)
    assert code == 1 and "evals/other.yaml" in out + err


@pytest.mark.parametrize("where", ["/etc/passwd", "../routing.yaml"])
def test_a_routing_path_outside_the_repository_is_refused_at_its_line(
    cli: Cli, make_repo: Callable[..., Path], where: str
) -> None:
    root = make_repo({**MINIMAL, "promptops.yaml": f"project: t\npaths:\n  routing: {where}\n"}, use_git=False)
    stopped(cli("eval", "--replay", "--repo", root), "promptops.yaml:3:", "inside the repository")


def test_a_broken_prompt_stops_eval_at_its_file_and_line(cli: Cli, make_repo: Callable[..., Path]) -> None:
    broken = MINIMAL["prompts/greet.prompt"].replace("owner: '@team'", "owner: '@team'\nrisk: extreme")
    root = make_repo({**MINIMAL, "prompts/greet.prompt": broken}, use_git=False)
    stopped(cli("eval", "--replay", "--repo", root), "prompts/greet.prompt:4:", "risk")


def test_a_suite_naming_no_prompt_says_which_file_and_line(cli: Cli, make_repo: Callable[..., Path]) -> None:
    root = make_repo(
        {**MINIMAL, "evals/greet.yaml": "description: x\n" + SUITE.replace("greet", "gret")}, use_git=False
    )
    stopped(cli("eval", "--replay", "--repo", root), "evals/greet.yaml:2:", "did you mean 'greet'?")


def test_a_duplicate_prompt_id_stops_eval(cli: Cli, make_repo: Callable[..., Path]) -> None:
    root = make_repo({**MINIMAL, "prompts/greet.txt": "Hello {{ name }}!\n"}, use_git=False)
    stopped(cli("eval", "--replay", "--repo", root), "prompts/greet.txt:1:", "defined twice")


def test_a_broken_file_no_suite_uses_still_stops_eval(cli: Cli, make_repo: Callable[..., Path]) -> None:
    root = make_repo({**MINIMAL, "prompts/other.prompt": "---\nowner: [\n---\nHi\n"}, use_git=False)
    stopped(cli("eval", "--replay", "greet", "--repo", root), "prompts/other.prompt:")


def test_a_repository_without_suites_has_nothing_to_evaluate(cli: Cli, make_repo: Callable[..., Path]) -> None:
    root = make_repo({**MINIMAL, "evals/greet.yaml": None}, use_git=False)
    stopped(cli("eval", "--replay", "--repo", root), "nothing to evaluate", "evals/")


def test_changed_since_with_nothing_affected_passes_and_says_so(cli: Cli, make_repo: Callable[..., Path]) -> None:
    root = make_repo(dict(MINIMAL))
    commit(root, {"README.md": "notes\n"})
    code, out, err = cli("eval", "--replay", "--changed-since", "HEAD~1", "--repo", root)
    assert code == 0, out + err
    assert "no eval suite is affected by changes since HEAD~1" in err


def test_an_unknown_lint_rule_id_is_an_error_naming_the_known_ids(cli: Cli, make_repo: Callable[..., Path]) -> None:
    config = "project: t\nlint:\n  rules:\n    missing-eval: off\n"
    root = make_repo({**MINIMAL, "promptops.yaml": config}, use_git=False)
    code, out, err = cli("lint", "--repo", root)
    assert code == 1, out + err
    assert "promptops.yaml:4" in out and "unknown rule id 'missing-eval'" in out
    assert "did you mean 'missing-evals'?" in out and "literal-secret" in out


def test_a_directory_linked_outside_the_repository_stops_eval_and_lint(
    cli: Cli, make_repo: Callable[..., Path], outside: Path
) -> None:
    (outside / "more.yaml").write_text(SUITE)
    root = make_repo(dict(MINIMAL), use_git=False)
    os.symlink(outside, root / "evals" / "shared")
    stopped(cli("eval", "--replay", "--repo", root), "evals/shared", "outside the repository")
    stopped(cli("lint", "--repo", root), "evals/shared", "outside the repository")
