"""git missing from PATH: every command that needs it says so (exit 3), never an internal error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import MINIMAL

Cli = Callable[..., tuple[int, str, str]]


@pytest.mark.parametrize(
    "command",
    [
        ["list"],
        ["diff"],
        ["status"],
        ["history"],
        ["release", "--dry-run"],
        ["eval", "--replay", "--changed-since", "HEAD"],
    ],
    ids=lambda c: " ".join(c),
)
def test_a_command_that_needs_git_says_git_is_missing(
    cli: Cli, make_repo: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    root = make_repo(dict(MINIMAL))
    empty = tmp_path / "no-git-here"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, out, err = cli(*command, "--repo", root)
    assert code == 3, out + err
    assert "git is not installed" in err and "PATH" in err
    assert "internal error" not in err and "Traceback" not in out + err
    assert cli("lint", "--repo", root)[0] == 0  # what needs no git still works without it
    assert cli("render", "greet", "--var", "name=Ada", "--repo", root)[0] == 0
