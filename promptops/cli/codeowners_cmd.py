"""`promptops codeowners`: write or check the CODEOWNERS lines derived from prompt owners."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..wording import count
from .common import RepoOption, err_console, open_project, write_out

DEFAULT = Path(".github/CODEOWNERS")


def codeowners(
    check: Annotated[
        bool,
        typer.Option("--check", help="Change nothing; exit 1 and print the expected block when it is out of date."),
    ] = False,
    path: Annotated[
        Path,
        typer.Option(
            "--path",
            help="The CODEOWNERS file; a relative path is taken from the git repository's root.",
            dir_okay=False,
        ),
    ] = DEFAULT,
    repo: RepoOption = None,
) -> int:
    """Write or check the CODEOWNERS lines derived from the `owner` field of prompts.

    One line per prompt file with an owner, inside a block between promptops markers; the rest of the file is
    left as it is. --check changes nothing and exits 1, printing the expected block, when it is out of date."""
    from ..release.codeowners import OutOfDate
    from ..release.codeowners import codeowners as sync

    root, _, snapshot = open_project(repo)
    try:
        done = sync(root, snapshot, path, check)
    except OutOfDate as exc:
        write_out(exc.expected)
        raise
    note = f" ({count(done.skipped, 'prompt')} without owner skipped)" if done.skipped else ""
    if check:
        err_console().print(f"✓ {done.shown} is up to date: {done.lines} prompt lines{note}", markup=False)
    elif done.written:
        err_console().print(f"wrote {done.shown}: {done.lines} prompt lines{note}", markup=False)
    else:
        err_console().print(f"{done.shown} is up to date: {done.lines} prompt lines{note}", markup=False)
    return 0
