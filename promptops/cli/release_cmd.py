"""`promptops release`, `bundle` and `verify`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import PromptopsError
from .common import (
    HmacEnvOption,
    RepoOption,
    SigningKeyOption,
    SignOption,
    err_console,
    hmac_key,
    open_project,
    signed,
    write_out,
)

if TYPE_CHECKING:
    from ..model import Config
    from ..release.verifying import Verdict


def release(
    version: Annotated[
        str | None,
        typer.Argument(
            help="The version to release (default: suggested from the diff since the last release).", show_default=False
        ),
    ] = None,
    bump: Annotated[str | None, typer.Option("--bump", help="major, minor or patch.")] = None,
    notes: Annotated[str, typer.Option("--notes", help="Release notes for the tag message.")] = "",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check everything and print the plan; change nothing.")
    ] = False,
    push: Annotated[bool, typer.Option("--push", help="Push the tag to the remote.")] = False,
    remote: Annotated[str, typer.Option("--remote", help="The remote for --push.")] = "origin",
    skip_eval: Annotated[
        bool, typer.Option("--skip-eval", help="Release without running the evals (needs --reason).")
    ] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why the evals are skipped.")] = None,
    replay: Annotated[bool, typer.Option("--replay", help="Run the gating evals from evals/recordings/.")] = False,
    repo: RepoOption = None,
) -> int:
    """Cut a release: an annotated tag carrying the bundle digest and the eval evidence.

    Refuses a dirty tree, lint errors, failing evals, a version not above the last, and a breaking change under a
    minor or patch bump; a refusal leaves nothing behind.
    """
    from ..errors import InputError
    from ..gates import plan_release
    from ..release.releasing import Request, apply_release

    if skip_eval and reason is None:
        raise InputError("--skip-eval needs --reason TEXT", hint='e.g. --reason "provider outage; evals ran in #4521"')
    if reason is not None and not skip_eval:
        raise InputError("--reason goes with --skip-eval")
    root, _, snapshot = open_project(repo)
    request = Request(
        version=version,
        bump=bump,
        notes=notes,
        skip_eval_reason=reason if skip_eval else None,
        replay=replay,
        env=dict(os.environ),
    )
    plan = plan_release(root, snapshot.config.tag_prefix, request)
    console = err_console()
    summary = (
        f"{plan.tag} ({plan.part} bump{'' if not plan.previous else ' from ' + plan.previous}"
        f"{'' if not plan.suggested else ', suggested: ' + plan.suggested}) at {plan.commit[:12]}, "
        f"bundle {plan.digest}"
    )
    if dry_run:
        write_out(plan.message)
        console.print(f"dry run: would tag {summary}; nothing was changed", markup=False)
        return 0
    apply_release(root, plan, push=push, remote=remote)
    console.print(f"released {summary}" + (f"; pushed to {remote}" if push else ""), markup=False)
    return 0


def bundle(
    ref: Annotated[str, typer.Option("--ref", help="The revision or release tag.")] = "HEAD",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the bundle to this file.", dir_okay=False)
    ] = None,
    sign: SignOption = False,
    signing_key: SigningKeyOption = None,
    hmac_env: HmacEnvOption = None,
    repo: RepoOption = None,
) -> int:
    """Build the canonical bundle of a revision (byte-identical for the same commit).

    --sign embeds a signature: an SSH key (as git signs with) or an HMAC key from an environment variable."""
    from ..release.bundle import canonical
    from ..release.releasing import bundle_at

    root, _, snapshot = open_project(repo)
    doc = bundle_at(root, ref, snapshot.config.tag_prefix)
    write_out(signed(canonical(doc), root, sign, signing_key, hmac_env).decode("utf-8"), output)
    if output is not None:
        err_console().print(f"wrote {output} ({doc['digest']})", markup=False)
    return 0


def verify(
    target: Annotated[str | None, typer.Argument(help="A release tag, or a bundle or export file.")] = None,
    ledger: Annotated[
        bool, typer.Option("--ledger", help="Replay the ledger: every state must follow from the one before.")
    ] = False,
    env: Annotated[str | None, typer.Option("--env", "-e", help="The file must be this environment's export.")] = None,
    standalone: Annotated[
        bool, typer.Option("--standalone", help="Check a file on its own, not against the repository.")
    ] = False,
    require_signature: Annotated[
        bool, typer.Option("--require-signature", help="Refuse a file, tag or ledger commit without a good signature.")
    ] = False,
    allowed_signers: Annotated[
        Path | None,
        typer.Option("--allowed-signers", help="Who may sign (ssh-keygen's allowed-signers format).", dir_okay=False),
    ] = None,
    hmac_env: HmacEnvOption = None,
    repo: RepoOption = None,
) -> int:
    """Check a bundle or export file, a release tag, or the ledger against the repository.

    Exit 1 on any difference. A file is checked on its own: digest, kill-list seal, signature.

    In a project (a directory with promptops.yaml, or --repo) it is also compared with its release tag.

    An export's environment and kill list are also compared with the ledger's.

    --ledger replays the ledger and names the first commit that does not follow from the one before."""
    from ..errors import InputError

    if target is None and not ledger:
        raise InputError("nothing to verify", hint="pass a release tag or a file, or --ledger")
    verdicts = []
    if target is not None:
        verdicts.append(
            (target, _verify_target(target, env, standalone, require_signature, allowed_signers, hmac_env, repo))
        )
    if ledger:
        from ..release.verifying import verify_ledger

        root, _, snapshot = open_project(repo)
        verdicts.append(("ledger", verify_ledger(root, snapshot.config, require_signature)))
    return _report(verdicts)


def _verify_target(
    target: str,
    env: str | None,
    standalone: bool,
    require_signature: bool,
    allowed_signers: Path | None,
    hmac_env: str | None,
    repo: Path | None,
) -> Verdict:
    from ..errors import InputError
    from ..release.verifying import Keys, read_target, verify_file, verify_release

    data = read_target(target)
    if data is not None:
        # A key to check with says a signature is expected: an unsigned file must not slip past it.
        expected = require_signature or allowed_signers is not None or hmac_env is not None
        keys = Keys(allowed_signers, hmac_key(hmac_env), expected)
        root, config = (None, None) if standalone else _project_here(repo)
        return verify_file(data, root, config, env, keys)
    if standalone or env is not None:
        raise InputError("--standalone and --env go with a file, not a release tag")
    root, _, snapshot = open_project(repo)
    return verify_release(root, snapshot.config, target.removeprefix("refs/tags/"), require_signature)


def _project_here(repo: Path | None) -> tuple[Path | None, Config | None]:
    """The project to compare a file with: --repo, else the one the current directory is in, if it has a
    promptops.yaml (a file checked elsewhere is checked on its own, and the output says so)."""
    from ..git import toplevel
    from ..workspace import CONFIG_FILE, discover_root

    if repo is None:
        try:
            here = discover_root(Path.cwd())
        except PromptopsError:
            return None, None
        if not (here / CONFIG_FILE).is_file() or toplevel(here) is None:
            return None, None
    root, _, snapshot = open_project(repo)
    return root, snapshot.config


def _report(verdicts: list[tuple[str, Verdict]]) -> int:
    from ..errors import GateFailed

    console = err_console()
    for name, verdict in verdicts:
        for note in verdict.notes:
            console.print(f"note: {note}", markup=False)
        if verdict.ok:
            console.print(f"✓ {name}: {verdict.summary}", markup=False)
    problems = [f"{name}: {p}" for name, verdict in verdicts for p in verdict.problems]
    if problems:
        raise GateFailed("; ".join(problems))
    return 0
