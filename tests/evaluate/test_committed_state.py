"""A `.promptops/` that git tracks is refused before anything in it is trusted: it holds the response cache,
the results and the kept YAML parses, and a committed copy could carry answers or cases that no review reads."""

from __future__ import annotations

from pathlib import Path

from conftest import MINIMAL, git, write_tree

PLANTED = {".promptops/yaml/" + "0" * 40: "planted", ".promptops/promptops.sqlite": "not a database"}


def test_eval_refuses_a_committed_state_directory_and_names_the_fix(make_repo, cli) -> None:
    root: Path = make_repo({**MINIMAL, **PLANTED})
    code, out, err = cli("eval", "--repo", root)
    assert code == 2 and out == ""
    assert ".promptops/ is committed (2 file(s), e.g. .promptops/promptops.sqlite)" in err
    assert "git rm -r --cached .promptops" in err and "add `.promptops/` to .gitignore" in err
    assert (root / ".promptops/promptops.sqlite").read_text() == "not a database"  # nothing was moved aside


def test_override_refuses_it_too(make_repo, cli) -> None:
    root: Path = make_repo({**MINIMAL, ".promptops/promptops.sqlite": "not a database"})
    code, _, err = cli("override", "greet", "ada", "--verdict", "pass", "--reason", "looked at it", "--repo", root)
    assert code == 2 and ".promptops/ is committed" in err


def test_a_project_in_a_subdirectory_is_named_by_its_path_from_the_repository_root(make_repo, cli) -> None:
    top: Path = make_repo({f"app/{k}": v for k, v in {**MINIMAL, **PLANTED}.items()})
    code, _, err = cli("eval", "--repo", top / "app")
    assert code == 2 and "app/.promptops/ is committed" in err and "git rm -r --cached app/.promptops" in err


def test_once_untracked_the_directory_is_used_again(make_repo, cli) -> None:
    root: Path = make_repo({**MINIMAL, **PLANTED})
    git(root, "rm", "-r", "-q", "--cached", ".promptops")
    write_tree(root, {".gitignore": ".promptops/\n"})
    code, _, err = cli("eval", "--repo", root, "--replay")
    assert ".promptops/ is committed" not in err
    assert code == 2 and "recording" in err.lower()  # it went on to the replay, which has no recordings here
