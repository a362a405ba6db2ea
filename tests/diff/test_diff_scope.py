"""Diff loads only what a change reaches: on generated repositories (real git), the scoped comparison that
`open_sides` makes from git's list of changed files equals a full comparison of both sides loaded whole."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import git, write_tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import diff_changes, diff_projects
from test_diff_properties import projects

from promptops import diff as d
from promptops import loader
from promptops.errors import InputError
from promptops.workspace import GitSource, Source, TreeSource

_COUNTER = itertools.count()


def full(base: Source, head: Source, renames: dict[str, str]) -> dict[str, Any]:
    """Both sides loaded whole; the renames are git's, as the scoped comparison gets them."""
    report = d.diff(loader.load(base), loader.load(head), base_source=base, head_source=head, renames=renames)
    return d.as_dict(report)


def scoped(root: Path, base: str, head: str | None) -> dict[str, Any]:
    sides = d.open_sides(root, base, head)
    report = d.diff(
        sides.base,
        sides.head,
        base_source=sides.base_source,
        head_source=sides.head_source,
        renames=sides.renames,
        changed=sides.changed,
    )
    return d.as_dict(report)


def essence(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("base", "head")}  # labels name the sides differently


def replace_tree(root: Path, old: dict[str, str], new: dict[str, str]) -> None:
    write_tree(root, {**dict.fromkeys(set(old) - set(new)), **new})


def assert_scoped_equals_full(root: Path, a: dict[str, str], b: dict[str, str]) -> None:
    """Commit `a`, leave `b` in the working tree and compare; then commit `b` and compare the two revisions."""
    root.mkdir()
    git(root, "init", "-q")
    write_tree(root, a)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    base = git(root, "rev-parse", "HEAD")

    replace_tree(root, a, b)  # HEAD is the working tree
    expected = essence(full(GitSource(root, base), TreeSource(root), d.open_sides(root, base, None).renames))
    assert essence(scoped(root, base, None)) == expected

    git(root, "add", "-A")
    git(root, "commit", "-qm", "head", "--allow-empty")
    head = git(root, "rev-parse", "HEAD")  # two revisions: compared tree to tree
    renames = d.open_sides(root, base, head).renames
    assert essence(scoped(root, base, head)) == essence(full(GitSource(root, base), GitSource(root, head), renames))


@settings(max_examples=10, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=projects(), b=projects())
def test_the_scoped_diff_equals_the_full_comparison(tmp_path: Path, a: dict[str, str], b: dict[str, str]) -> None:
    assert_scoped_equals_full(tmp_path / f"repo{next(_COUNTER)}", a, b)


@st.composite
def changed_projects(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, str]]:
    before = draw(diff_projects())
    return before, draw(diff_changes(before))


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(change=changed_projects())
def test_what_a_change_reaches_through_partials_renames_and_deletions_is_all_compared(
    tmp_path: Path, change: tuple[dict[str, str], dict[str, str]]
) -> None:
    """Partials including partials, prompts including prompts, includes in comments or computed, suites naming
    their prompt in any YAML style, files deleted or renamed: the scoped diff still equals the full one."""
    assert_scoped_equals_full(tmp_path / f"repo{next(_COUNTER)}", *change)


def read_outcome(read: Any, path: str) -> Any:
    try:
        return read(path)
    except InputError as exc:
        return ("error", str(exc), exc.file, exc.hint)


@pytest.mark.skipif(os.name == "nt", reason="symbolic links and FIFOs")
def test_the_working_tree_side_reads_links_and_special_files_as_the_checked_read_does(
    make_repo, tmp_path: Path
) -> None:
    """Files the listing found are read without the full check; a link (inside or leading outside the
    repository) or a FIFO is still read, refused or skipped exactly as before."""
    outside = tmp_path / "outside.txt"
    outside.write_text("not part of the project\n")
    root: Path = make_repo(
        {
            "promptops.yaml": "project: x\n",
            "prompts/shared/_p.j2": "Be brief.\n",
            "prompts/a.prompt": "---\ninputs:\n  name: {type: string}\n---\n{% include 'shared/_p.j2' %}{{ name }}\n",
            "evals/a.yaml": "prompt: a\ncases:\n  - id: x\n    vars: {name: Ada}\n",
        }
    )
    (root / "prompts" / "linked.prompt").symlink_to("a.prompt")
    (root / "prompts" / "out.prompt").symlink_to(outside)
    os.mkfifo(root / "prompts" / "pipe.prompt")
    write_tree(root, {"prompts/shared/_p.j2": "Be kind.\n"})
    sides = d.open_sides(root, "HEAD", None)
    checked = TreeSource(root)
    listed = checked.list_dir("prompts")
    assert {"prompts/linked.prompt", "prompts/out.prompt", "prompts/pipe.prompt"} <= set(listed)
    for path in listed:
        assert read_outcome(sides.head_source.read, path) == read_outcome(checked.read, path), path
    assert sides.head.prompts["linked"].body == sides.head.prompts["a"].body
    assert any(p.file == "prompts/out.prompt" and "outside the repository" in p.message for p in sides.head.problems)
