"""`promptops approve`: sign an approval of a release (or of a rollback, kill or revive after the fact) for an
environment, and record it on the ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import RepoOption
from .env_cmd import EnvOption, PushOption, ReasonOption, RemoteOption, _context, _done


def approve(
    env: EnvOption,
    reason: ReasonOption,
    version: Annotated[
        str | None, typer.Argument(help="The release to approve (version or tag); not needed with --event.")
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            help="Your SSH private key (default: the key git signs with, user.signingKey with gpg.format ssh).",
            dir_okay=False,
        ),
    ] = None,
    event: Annotated[
        str | None,
        typer.Option("--event", help="Approve this ledger event (a rollback, kill or revive) after the fact."),
    ] = None,
    push: PushOption = False,
    remote: RemoteOption = "origin",
    repo: RepoOption = None,
) -> int:
    """Sign an approval with your SSH key and record it on the ledger.

    Signs the release's tag and digest, the environment, the reason and the time (with --event, the ledger event).

    The signature is made with `ssh-keygen -Y sign -n promptops-approval` and checked before it is written.

    Your key must be in the environment's allowed-signers file, and you must not be the release's author.

    A refused approval exits 1 and writes nothing; a promote uses one for approval_valid_days (default 7)."""
    from ..errors import InputError
    from ..release.approving import approve as approve_env
    from ..release.keys import git_signing_key

    ctx = _context(repo, push, remote)
    try:
        signing_key = key if key is not None else git_signing_key(ctx.root or ctx.repo.root)
    except InputError:
        raise InputError(
            "approving needs your SSH private key, and git is not set up to sign with an SSH key file",
            hint="pass --key PATH (e.g. ~/.ssh/id_ed25519), or set gpg.format ssh and user.signingKey",
        ) from None
    return _done(ctx, approve_env(ctx, version, env, reason, signing_key, event), push, remote)
