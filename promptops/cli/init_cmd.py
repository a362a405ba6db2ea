"""`promptops init`: scaffold a new project and the CI loop around it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import err_console


def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the project.", file_okay=False)] = Path("."),
    merge: Annotated[
        bool, typer.Option("--merge", help="Add promptops' lines to an existing .gitignore instead of refusing.")
    ] = False,
) -> int:
    """Scaffold a project and its CI loop: prompts, routing, evals, a workflow, pre-commit and editor settings.

    The project directory gets prompts/, routing.yaml, evals/ (with a sample recording), promptops.yaml and
    .gitignore; the git root gets a GitHub workflow using the promptops action (lint, eval, PR diff), the action,
    a pre-commit config, CODEOWNERS and VS Code's yaml.schemas mapping. In a monorepo's subdirectory the root
    files name the project's path; a root file that exists already is left as it is and init prints what to add
    to it. Never overwrites a file.
    """
    from ..git import toplevel
    from ..scaffold import apply, plan

    project = directory.resolve()
    top = toplevel(project)
    todo = plan(project, top, merge)
    written = apply(todo)
    console = err_console()
    for rel in written:
        console.print(f"  created {rel}" if not rel.endswith("(added lines)") else f"  updated {rel}", markup=False)
    owners = _codeowners(project, top)
    if owners:
        console.print(f"  {owners}", markup=False)
    for item in todo.todo:
        console.print(f"note: {item}", markup=False)
    where = "" if todo.project == "." else f" (at {todo.project} in the repository {top})"
    console.print(
        f"Initialised a promptops project in {project}{where}. Next: `promptops lint`, "
        "`promptops eval --replay` (answers from the sample recording), then commit; record real answers with "
        "`promptops eval --record` once the model's key is set.",
        markup=False,
    )
    return 0


def _codeowners(project: Path, top: Path | None) -> str:
    """Write .github/CODEOWNERS from the new prompts' owners when the repository has none yet."""
    if top is None or (top / ".github" / "CODEOWNERS").exists():
        return "" if top is None else "note: add the prompts' owners to .github/CODEOWNERS with `promptops codeowners`"
    from ..release.codeowners import codeowners as sync
    from .common import open_project

    _, _, snapshot = open_project(project)
    done = sync(project, snapshot, Path(".github/CODEOWNERS"))
    return f"created {done.shown}"
