"""`promptops render`: the messages a prompt produces for given variables."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import RefOption, RepoOption, check_format, open_project, write_out


def render(
    prompt_id: Annotated[
        str | None, typer.Argument(metavar="ID", help="The prompt id, e.g. support/refund.", show_default=False)
    ] = None,
    var: Annotated[list[str] | None, typer.Option("--var", help="A variable as NAME=VALUE (repeatable).")] = None,
    vars_file: Annotated[
        Path | None, typer.Option("--vars-file", help="A YAML or JSON file of variables.", dir_okay=False)
    ] = None,
    case: Annotated[str | None, typer.Option("--case", help="Take the variables of an eval case: SUITE:CASE.")] = None,
    ref: RefOption = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    check: Annotated[
        bool, typer.Option("--check", help="Render every eval case of every prompt; exit 1 naming each that fails.")
    ] = False,
    repo: RepoOption = None,
) -> int:
    """Render a prompt's messages, at the working tree or any git revision (--ref).

    With --check (no ID): render every eval case, as the pre-commit hook does; exit 1 when one does not render.
    """
    from ..errors import InputError
    from ..render import Renderer
    from ..variables import case_vars, parse_assignments, read_vars_file

    check_format(fmt, ("text", "json"))
    if check or prompt_id is None:
        if not check or prompt_id is not None or var or vars_file or case:
            raise InputError("give a prompt ID, or --check alone", hint="e.g. promptops render support/refund")
        return _check(repo, ref)
    _, _, snapshot = open_project(repo, ref)
    renderer = Renderer(snapshot)
    prompt = renderer.prompt(prompt_id)
    values: dict[str, Any] = {}
    if case:
        values.update(case_vars(snapshot, case))
    if vars_file:
        values.update(read_vars_file(vars_file))
    values.update(parse_assignments(var or [], prompt))
    messages = renderer.render_shown(prompt_id, values, os.environ)
    if fmt == "json":
        write_out(
            json.dumps(
                {"prompt": prompt_id, "ref": ref, "messages": [m.as_dict() for m in messages]},
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        write_out("\n\n".join(f"{m.role}:\n{m.content}" for m in messages))
    return 0


def _check(repo: Path | None, ref: str | None) -> int:
    from ..variables import render_cases
    from ..wording import count
    from .common import note

    _, _, snapshot = open_project(repo, ref, strict=True)
    rendered, problems = render_cases(snapshot)
    for line in problems:
        note(f"error: {line}")
    mark = "✗" if problems else "✓"
    note(f"{mark} {count(rendered, 'eval case')} rendered, {count(len(problems), 'failure')}")
    return 1 if problems else 0
