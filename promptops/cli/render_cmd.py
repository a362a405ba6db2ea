"""`promptops render`: the messages a prompt produces for given variables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import RefOption, RepoOption, check_format, open_project, write_out


def render(
    prompt_id: Annotated[str, typer.Argument(metavar="ID", help="The prompt id, e.g. support/refund.")],
    var: Annotated[list[str] | None, typer.Option("--var", help="A variable as NAME=VALUE (repeatable).")] = None,
    vars_file: Annotated[
        Path | None, typer.Option("--vars-file", help="A YAML or JSON file of variables.", dir_okay=False)
    ] = None,
    case: Annotated[str | None, typer.Option("--case", help="Take the variables of an eval case: SUITE:CASE.")] = None,
    ref: RefOption = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    repo: RepoOption = None,
) -> int:
    """Render a prompt's messages, at the working tree or any git revision (--ref)."""
    from ..render import Renderer
    from ..variables import case_vars, parse_assignments, read_vars_file

    check_format(fmt, ("text", "json"))
    _, _, snapshot = open_project(repo, ref)
    renderer = Renderer(snapshot)
    prompt = renderer.prompt(prompt_id)
    values: dict[str, Any] = {}
    if case:
        values.update(case_vars(snapshot, case))
    if vars_file:
        values.update(read_vars_file(vars_file))
    values.update(parse_assignments(var or [], prompt))
    messages = renderer.render(prompt_id, values)
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
