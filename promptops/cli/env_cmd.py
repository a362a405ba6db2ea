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
    note,
    open_config,
    open_project,
    out_console,
    prompt_ids,
    write_out,
)

if TYPE_CHECKING:
    from ..release.environments import Context, Event

EnvOption = Annotated[str, typer.Option("--env", "-e", help="The environment, e.g. production.")]
PushOption = Annotated[bool, typer.Option("--push", help="Push the ledger branch to the remote afterwards.")]
RemoteOption = Annotated[str, typer.Option("--remote", help="The remote for --push.")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why; recorded on the ledger (required).")]
UnverifiedOption = Annotated[
    bool, typer.Option("--unverified", help="Accept the typed --approved-by name where a signed approval is required.")
]


def _context(repo: Path | None, push: bool = False, remote: str = "origin", writes: bool = True) -> Context:
    from ..release.environments import open_context

    root, config = open_config(repo)
    return open_context(root, config, sync_from=remote if push else None, writes=writes)


def _done(ctx: Context, event: Event, push: bool, remote: str) -> int:
    from ..release.environments import publish

    if push:
        publish(ctx, event, remote)
    note(f"{event.title()} (ledger {event.commit[:12]}){'; pushed' if push else ''}")
    return 0


def promote(
    version: Annotated[str, typer.Argument(help="The release (version or tag).")],
    env: EnvOption,
    reason: ReasonOption,
    approved_by: Annotated[
        str,
        typer.Option(
            "--approved-by",
            help="Who approved, typed. Recorded as unverified; where the environment requires approval, accepted "
            "only with --unverified.",
        ),
    ] = "",
    unverified: UnverifiedOption = False,
    new_env: Annotated[
        bool,
        typer.Option(
            "--new-env", help="Start an environment the ledger does not know (when promptops.yaml declares none)."
        ),
    ] = False,
    push: PushOption = False,
    remote: RemoteOption = "origin",
    repo: RepoOption = None,
) -> int:
    """Point an environment at a release (one ledger commit).

    Where the environment requires approval, a signed approval of the release is needed (`promptops approve`).

    It must come from its allowed-signers file, not from the release's author, within its validity window.

    Otherwise exit 1 and nothing is written; --approved-by NAME --unverified is recorded and shown as unverified."""
    from ..release.environments import promote as promote_env

    ctx = _context(repo, push, remote)
    event = promote_env(ctx, version, env, reason, approved_by, unverified=unverified, new_env=new_env)
    return _done(ctx, event, push, remote)


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
            help="Who approved, typed (recorded as unverified); with --unverified, for --to a release that never "
            "ran in an environment that requires approval.",
        ),
    ] = "",
    unverified: UnverifiedOption = False,
    push: PushOption = False,
    remote: RemoteOption = "origin",
    repo: RepoOption = None,
) -> int:
    """Point an environment back at the previous (or a named) release, at once and offline.

    Needs no approval: it shows as awaiting approval until someone runs `promptops approve --event COMMIT`.

    Only --to a release that never ran in an environment that requires approval is approved as a promote is."""
    from ..release.environments import rollback as rollback_env

    ctx = _context(repo, push, remote)
    return _done(ctx, rollback_env(ctx, env, reason, to, approved_by, unverified=unverified), push, remote)


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
    """Which release each environment runs, its digest, what is killed, the last change and its approval."""
    from ..release.overview import status_report

    check_format(fmt, ("text", "json"))
    ctx = _context(repo, writes=False)
    rows, warning = status_report(ctx)
    if warning:
        note(f"warning: {warning}")
    if fmt == "json":
        write_out(
            json.dumps({"environments": rows, "ledger": {"replays": warning is None, "warning": warning}}, indent=2)
        )
        return 0
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("environment", "release", "digest", "killed", "last change", "approval"):
        table.add_column(column, no_wrap=column not in ("last change", "approval"), overflow="fold")
    for r in rows:
        last = r["last_change"]
        pending = r["awaiting_approval"]
        table.add_row(
            r["environment"],
            r["version"] or "-",
            (r["digest"] or "-")[:19],
            ", ".join(r["killed"]) or "-",
            f"{last['title']} by {last['by']} at {last['time']}: {last['reason']}" if last else "-",
            "; ".join([*([r["approval"]] if r["approval"] else []), *([f"{len(pending)} awaiting"] if pending else [])])
            or "-",
        )
    out_console().print(table)
    return 0


def history(
    env: Annotated[str | None, typer.Option("--env", "-e", help="Only this environment.")] = None,
    prompt: Annotated[str | None, typer.Option("--prompt", help="Only events touching this prompt.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json (JSON Lines).")] = "text",
    repo: RepoOption = None,
) -> int:
    """The deployment history from the ledger: every promote, rollback, kill, revive and approval, newest first.

    Each event says how it was approved: signed by, unverified (a typed name), awaiting approval, or after the fact.

    An unknown --env or --prompt is a usage error (exit 2)."""
    from ..release.approving import labels
    from ..release.overview import history as ledger_events

    check_format(fmt, ("text", "json"))
    root, config = open_config(repo)  # the prompt ids come from file names: nothing is loaded
    from ..release.environments import open_context

    ctx = open_context(root, config, writes=False)
    rows = ledger_events(ctx, env, prompt, known_prompts=prompt_ids(root, config))
    marks = labels(ctx, [event for event, _ in rows])
    if fmt == "json":
        write_out("\n".join(json.dumps(_event_json(e, p, marks.get(e.commit)), sort_keys=True) for e, p in rows))
        return 0
    lines = [
        f"{e.time}  {e.title()}  by {e.by}"
        + (f", {marks[e.commit]}" if marks.get(e.commit) else "")
        + f"  ({e.reason})"
        for e, _ in rows
    ]
    write_out("\n".join(lines) if lines else "no events yet")
    return 0


def _event_json(event: Event, previous: str | None, approval_status: str | None) -> dict[str, object]:
    from dataclasses import asdict

    return asdict(event) | {"previous": previous, "approval_status": approval_status}


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
        note(f"wrote {output}: {env} runs {doc['version']} ({doc['digest']})")
    return 0
