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
    from ..errors import GateFailed, InputError
    from ..git import toplevel
    from ..loader import raise_problem
    from ..release.codeowners import block, current_block, owner_lines, updated
    from ..workspace import atomic_write

    root, _, snapshot = open_project(repo)
    prompts_dir = snapshot.config.prompts_dir + "/" if snapshot.config.prompts_dir else ""
    raise_problem(snapshot, {p.file for p in snapshot.problems if p.file.startswith(prompts_dir)})
    top = toplevel(root) or root
    rel = root.relative_to(top).as_posix()
    lines = owner_lines(snapshot.prompts.values(), "" if rel == "." else rel + "/")
    target = path if path.is_absolute() else top / path
    shown = target.relative_to(top).as_posix() if target.is_relative_to(top) else str(target)
    try:
        text = target.read_bytes().decode("utf-8") if target.is_file() else None  # keeps CRLF as it is
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the CODEOWNERS file: {exc}", file=shown) from None
    skipped = len(snapshot.prompts) - len(lines)
    note = f" ({count(skipped, 'prompt')} without owner skipped)" if skipped else ""
    if check:
        found = current_block(text, shown)
        if found != block(lines):
            write_out("\n".join(block(lines)))
            state = (
                "does not exist" if text is None else "has no promptops block" if found is None else "is out of date"
            )
            raise GateFailed(f"{shown} {state}", hint="run `promptops codeowners` and commit the result")
        err_console().print(f"✓ {shown} is up to date: {len(lines)} prompt lines{note}", markup=False)
        return 0
    new = updated(text, lines, shown)
    if new == text:
        err_console().print(f"{shown} is up to date: {len(lines)} prompt lines{note}", markup=False)
        return 0
    atomic_write(target, new)
    err_console().print(f"wrote {shown}: {len(lines)} prompt lines{note}", markup=False)
    return 0
