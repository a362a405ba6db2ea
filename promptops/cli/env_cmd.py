"""Environments: `promote`, `rollback`, `kill`, `revive`, `status`, `history`, `export`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .common import (
    HmacEnvOption,
    RepoOption,
    SigningKeyOption,
    SignOption,
    check_format,
    err_console,
    open_config,
    open_project,
    out_console,
    write_out,
)

if TYPE_CHECKING:
    from ..release.environments import Context, Event

EnvOption = Annotated[str, typer.Option("--env", "-e", help="The environment, e.g. production.")]
PushOption = Annotated[bool, typer.Option("--push", help="Push the ledger branch to the remote afterwards.")]
RemoteOption = Annotated[str, typer.Option("--remote", help="The remote for --push.")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why; recorded on the ledger (required).")]


def _context(repo: Path | None, push: bool = False, remote: str = "origin") -> Context:
    from ..release.environments import open_context

    root, config = open_config(repo)
    return open_context(root, config, sync_from=remote if push else None)


def _done(ctx: Context, event: Event, push: bool, remote: str) -> int:
    from ..release.environments import publish

    if push:
        publish(ctx, event, remote)
    err_console().print(f"{event.title()} (ledger {event.commit[:12]}){'; pushed' if push else ''}", markup=False)
    return 0


def promote(
    version: Annotated[str, typer.Argument(help="The release (version or tag).")],
    env: EnvOption,
    reason: ReasonOption,
    approved_by: Annotated[
        str,
        typer.Option("--approved-by", help="Who approved (environments that require it; not the release's author)."),
    ] = "",
    push: PushOption = False,
    remote: RemoteOption = "origin",
    repo: RepoOption = None,
) -> int:
    """Point an environment at a release (one ledger commit)."""
    from ..release.environments import promote as promote_env

    ctx = _context(repo, push, remote)
    return _done(ctx, promote_env(ctx, version, env, reason, approved_by), push, remote)


def rollback(
    env: EnvOption,
    reason: ReasonOption,
    to: Annotated[
        str | None,
        typer.Option("--to", help="The release to go back to (default: the one that ran before the current one)."),
    ] = None,
    approved_by: Annotated[
        str,
        typer.Option(
            "--approved-by",
            help="Who approved, for --to a release that never ran in an environment that requires approval.",
        ),
    ] = "",
    push: PushOption = False,
    remote: RemoteOption = "origin",
    repo: RepoOption = None,
) -> int:
    """Point an environment back at the previous (or a named) release, at once and offline."""
    from ..release.environments import rollback as rollback_env

    ctx = _context(repo, push, remote)
    return _done(ctx, rollback_env(ctx, env, reason, to, approved_by), push, remote)


def kill(
    prompt: Annotated[str, typer.Argument(metavar="ID", help="The prompt id.")],
    env: EnvOption,
    reason: ReasonOption,
    allow_error: Annotated[
        bool,
        typer.Option("--allow-error", help="Kill a prompt that has no fallback: calls to it then fail with an error."),
    ] = False,
    push: PushOption = False,
    remote: RemoteOption = "origin",
    repo: RepoOption = None,
) -> int:
    """Kill switch: the prompt answers with its deterministic fallback in that environment."""
    from ..release.environments import kill as kill_env

    ctx = _context(repo, push, remote)
    return _done(ctx, kill_env(ctx, prompt, env, reason, allow_error), push, remote)


def revive(
    prompt: Annotated[str, typer.Argument(metavar="ID", help="The prompt id.")],
    env: EnvOption,
    reason: ReasonOption,
    push: PushOption = False,
    remote: RemoteOption = "origin",
    repo: RepoOption = None,
) -> int:
    """Turn the kill switch off again."""
    from ..release.environments import revive as revive_env

    ctx = _context(repo, push, remote)
    return _done(ctx, revive_env(ctx, prompt, env, reason), push, remote)


def status(
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    repo: RepoOption = None,
) -> int:
    """Which release each environment runs, its digest, what is killed, and the last change."""
    from rich.table import Table

    from ..release.environments import ledger_warning
    from ..release.environments import status as environment_rows

    check_format(fmt, ("text", "json"))
    ctx = _context(repo)
    rows = environment_rows(ctx)
    warning = ledger_warning(ctx)
    if warning:
        err_console().print(f"warning: {warning}", markup=False)
    if fmt == "json":
        write_out(
            json.dumps({"environments": rows, "ledger": {"replays": warning is None, "warning": warning}}, indent=2)
        )
        return 0
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("environment", "release", "digest", "killed", "last change"):
        table.add_column(column, no_wrap=column != "last change", overflow="fold")
    for r in rows:
        last = r["last_change"]
        table.add_row(
            r["environment"],
            r["version"] or "-",
            (r["digest"] or "-")[:19],
            ", ".join(r["killed"]) or "-",
            f"{last['title']} by {last['by']} at {last['time']}: {last['reason']}" if last else "-",
        )
    out_console().print(table)
    return 0


def history(
    env: Annotated[str | None, typer.Option("--env", "-e", help="Only this environment.")] = None,
    prompt: Annotated[str | None, typer.Option("--prompt", help="Only events touching this prompt.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json (JSON Lines).")] = "text",
    repo: RepoOption = None,
) -> int:
    """The deployment history from the ledger: every promote, rollback, kill and revive, newest first."""
    from dataclasses import asdict

    from ..release.environments import history as ledger_events

    check_format(fmt, ("text", "json"))
    ctx = _context(repo)
    events = ledger_events(ctx, env, prompt)
    if fmt == "json":
        write_out("\n".join(json.dumps(asdict(e), sort_keys=True) for e in events))
        return 0
    lines = [
        f"{e.time}  {e.title()}  by {e.by}"
        + (f", approved by {e.approved_by}" if e.approved_by else "")
        + f"  ({e.reason})"
        for e in events
    ]
    write_out("\n".join(lines) if lines else "no events yet")
    return 0


def export(
    env: EnvOption,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the bundle to this file.", dir_okay=False)
    ] = None,
    sign: SignOption = False,
    signing_key: SigningKeyOption = None,
    hmac_env: HmacEnvOption = None,
    repo: RepoOption = None,
) -> int:
    """Write the bundle an environment runs, named and with its kill list, for a deploy pipeline.

    Refuses a ledger that does not replay, and a release that no longer builds its promoted digest.

    --sign embeds a signature: an SSH key (as git signs with) or an HMAC key from an environment variable."""
    from ..release.exporting import export_document
    from .common import signed

    root, _, snapshot = open_project(repo)
    data = export_document(root, snapshot.config, env)
    data = signed(data, root, sign, signing_key, hmac_env)
    write_out(data.decode("utf-8"), output)
    if output is not None:
        doc = json.loads(data)
        err_console().print(f"wrote {output}: {env} runs {doc['version']} ({doc['digest']})", markup=False)
    return 0
