"""Diff loads only what a change reaches: on generated repositories (real git), the scoped comparison that
`open_sides` makes from git's list of changed files equals a full comparison of both sides loaded whole."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from conftest import git, write_tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import diff_changes, diff_projects
from test_diff_properties import projects

from promptops import diff as d
from promptops import loader
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
