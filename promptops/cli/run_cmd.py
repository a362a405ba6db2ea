"""`promptops run`: one live call through the runtime, as an application makes it, audit-logged."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import RepoOption, check_format, note, root_of, write_out


def run(
    prompt_id: Annotated[str, typer.Argument(metavar="ID", help="The prompt id, e.g. support/refund.")],
    env: Annotated[
        str | None, typer.Option("--env", "-e", help="The environment whose release answers (from the ledger).")
    ] = None,
    bundle: Annotated[
        Path | None,
        typer.Option(
            "--bundle", help="Answer from this `promptops export` file instead of the ledger.", dir_okay=False
        ),
    ] = None,
    var: Annotated[list[str] | None, typer.Option("--var", help="A variable as NAME=VALUE (repeatable).")] = None,
    vars_file: Annotated[
        Path | None, typer.Option("--vars-file", help="A YAML or JSON file of variables.", dir_okay=False)
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Exit 3 when every model fails, instead of answering with the prompt's fallback."
        ),
    ] = False,
    audit: Annotated[
        Path | None,
        typer.Option(
            "--audit-dir", help="Audit log directory (default: audit.dir of promptops.yaml).", file_okay=False
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="text (the answer) or json (the answer and how it came).")
    ] = "text",
    repo: RepoOption = None,
) -> int:
    """Answer one call as an environment's release would, and write it to the audit log.

    The routed model and its fallbacks, the kill switch and the output schema apply as in an application.
    The answer goes to stdout, how it came to stderr."""
    from ..errors import InputError
    from ..runtime import load
    from ..variables import parse_assignments, read_vars_file

    check_format(fmt, ("text", "json"))
    if env is None and bundle is None:
        raise InputError("name what answers: --env ENV (the ledger) or --bundle FILE", hint="e.g. --env staging")
    where = root_of(repo) if bundle is None else Path.cwd()
    with load(
        env=env,
        repo=where,
        bundle=bundle,
        reload_interval=None,
        audit=audit,
        on_failure="raise" if strict else "fallback",
    ) as runtime:
        prompt = runtime.served.prompt(prompt_id)
        values: dict[str, Any] = read_vars_file(vars_file) if vars_file else {}
        values.update(parse_assignments(var or [], prompt))
        result = runtime.run(prompt_id, values)
    if fmt == "json":
        write_out(json.dumps(asdict(result), indent=2, ensure_ascii=False, sort_keys=True))
        return 0
    write_out(result.text)
    by = result.answered_by + (f" ({result.model})" if result.model else "")
    label = result.version or result.digest[:19]
    record = f", audit record {result.record_id}" if result.record_id else ""
    note(f"answered by {by} in {result.latency_ms:.0f} ms; {result.environment or 'bundle'} {label}{record}")
    for error in result.errors:
        note(f"  not answered by {error}")
    return 0
