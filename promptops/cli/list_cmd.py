"""`promptops list`: the prompts with owner, risk, route, eval coverage and last change."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from .common import RefOption, RepoOption, check_format, open_project, out_console, write_out


def list_prompts(
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    ref: RefOption = None,
    repo: RepoOption = None,
) -> int:
    """List prompts: id, description, owner, risk, routed model, eval cases and the last commit touching each."""
    from rich.table import Table

    from ..catalog import catalog

    check_format(fmt, ("text", "json"))
    root, _, snapshot = open_project(repo, ref, strict=True)
    entries = catalog(snapshot, root)
    if fmt == "json":
        write_out(json.dumps({"prompts": [e.as_dict() for e in entries]}, indent=2))
        return 0
    table = Table(box=None, pad_edge=False, header_style="bold")
    widest = max((len(e.id) for e in entries), default=6)
    table.add_column("prompt", no_wrap=True, min_width=widest)
    for column in ("risk", "owner", "model", "evals", "changed"):
        table.add_column(column, no_wrap=True)
    table.add_column("description", overflow="fold", ratio=1)
    for e in entries:
        changed = e.last_commit["date"][:10] if e.last_commit else "-"
        evals = str(e.eval_cases) if e.eval_cases else "none"
        table.add_row(e.id, e.risk, e.owner or "-", e.model or "-", evals, changed, e.description)
    out_console().print(table)
    return 0
