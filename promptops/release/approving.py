"""`approve` and what reads approvals back: the label of each ledger event (signed, unverified, awaiting
approval, approved after the fact) and the check `verify --ledger` runs on every approval."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import GateFailed, InputError
from . import approvals
from .environments import Context, _need_reason, _verified_release, _writable
from .ledger import APPROVAL, Event
from .transitions import LedgerState

AFTER_THE_FACT = ("rollback", "kill", "revive")  # possible without approval; they await one afterwards


def approve(ctx: Context, version: str | None, env: str, reason: str, key: Path, event_ref: str | None = None) -> Event:
    """Sign an approval of a release (or, with `event_ref`, of a rollback, kill or revive after the fact) for
    `env` and record it on the ledger. A signature that would not count is refused and nothing is written."""
    _need_reason(reason, "approval")
    ctx.check_env(env)
    pol = approvals.policy(ctx.root or ctx.repo.root, ctx.config, env)
    approvals.signers_file(pol)
    _writable(ctx)
    target = _event(ctx, env, event_ref) if event_ref else None
    version = target.version if target is not None else version
    if not version:
        raise InputError("name the release to approve, or --event LEDGER-COMMIT", hint="e.g. promptops approve v1.2.0")
    tag, record, tagger = ctx.release(version)
    if target is None:
        _verified_release(ctx, tag, "approved")
    digest = str(record["digest"])
    body = approvals.statement(env, tag, digest, reason, target)
    signed = approvals.sign(body, key)
    made_by = approvals.authors(ctx.repo, tagger, str(record["commit"]))
    principal = approvals.check(
        json.loads(signed),
        pol,
        digest=digest,
        made_by=made_by,
        event=target.commit if target else "",
        tag_key=approvals.release_key(ctx.repo, tag),
    )

    def change(state: LedgerState) -> tuple[LedgerState, Event]:
        event = Event(
            action="approve",
            environment=env,
            by=ctx.who,
            time=str(body["time"]),
            reason=reason,
            version=tag,
            digest=digest,
            approved_by=principal,
            approval="signed",
            approves=target.commit if target else "",
        )
        return state, event

    return ctx.ledger.append(change, files={APPROVAL: signed})


def _event(ctx: Context, env: str, ref: str) -> Event:
    found = [e for e in ctx.ledger.events() if e.commit.startswith(ref.lower()) and e.environment == env]
    if len(found) != 1 or len(ref) < 7:
        raise InputError(
            f"no single ledger event {ref!r} in {env}" if not found or len(ref) < 7 else f"{ref!r} is ambiguous",
            hint="name the ledger commit of the rollback, kill or revive (at least 7 hex digits; see "
            "`promptops history --format json`)",
        )
    if found[0].action not in AFTER_THE_FACT:
        raise InputError(
            f"ledger commit {ref} is a {found[0].action}; only a rollback, kill or revive is approved after the fact",
            hint="approve a release before promoting it: promptops approve VERSION --env ENV",
        )
    return found[0]


def labels(ctx: Context, events: Sequence[Event]) -> dict[str, str]:
    """How each event (by ledger commit) stands with approvals: `signed by P`, `unverified (typed: NAME)`,
    `awaiting approval`, `approved after the fact by P`, or nothing (no approval asked or given). An approval
    whose signature does not verify approves nothing."""
    root = ctx.root or ctx.repo.root
    valid: dict[str, str] = {}  # approve commit -> principal, for approvals whose signature verifies
    for event in events:
        if event.action == "approve":
            try:
                valid[event.commit] = _signature_ok(ctx, event, root)
            except (GateFailed, InputError):
                continue
    after = {e.approves: valid[e.commit] for e in events if e.action == "approve" and e.commit in valid}
    out: dict[str, str] = {}
    for event in events:
        pol = approvals.policy(root, ctx.config, event.environment)
        if event.approval == "unverified":
            out[event.commit] = f"unverified (typed: {event.approved_by})"
        elif event.approval and event.action != "approve":
            out[event.commit] = (
                f"signed by {valid[event.approval]}" if event.approval in valid else "approval does not verify"
            )
        elif event.commit in after:
            out[event.commit] = f"approved after the fact by {after[event.commit]}"
        elif event.action == "approve":
            out[event.commit] = f"signed by {valid[event.commit]}" if event.commit in valid else "does not verify"
        elif pol.required and event.action in AFTER_THE_FACT:
            out[event.commit] = "awaiting approval"
    return out


def _signature_ok(ctx: Context, event: Event, root: Path) -> str:
    """The principal of an approve event whose signature verifies and whose statement is the event's."""
    doc = approvals.read(ctx.ledger, event.commit)
    body: Mapping[str, Any] = doc["statement"]
    named = (body.get("environment"), body.get("digest"), (body.get("event") or {}).get("commit", ""))
    if named != (event.environment, event.digest, event.approves):
        raise GateFailed(f"the approval in ledger commit {event.commit[:12]} signs something else than it records")
    pol = approvals.policy(root, ctx.config, event.environment)
    from ..digest import canonical
    from ..signing import ssh_verify

    principal = ssh_verify(canonical(body), str(doc["signature"]), approvals.signers_file(pol), approvals.NAMESPACE)
    if principal != event.approved_by:
        raise GateFailed(f"ledger commit {event.commit[:12]} records {event.approved_by!r}, the key is {principal}")
    return principal


def verify_approvals(ctx: Context) -> tuple[list[str], list[str]]:
    """(problems, notes) of every approval on the ledger: each approve commit's signature, and each promote
    that used one (same release, signer not its author, within the validity window at the promote's time)."""
    events = list(reversed(ctx.ledger.events()))
    root = ctx.root or ctx.repo.root
    problems: list[str] = []
    checked = 0
    for event in events:
        if event.action == "approve":
            try:
                _signature_ok(ctx, event, root)
                checked += 1
            except (GateFailed, InputError) as exc:
                problems.append(f"ledger commit {event.commit[:12]} ({event.title()}): {exc.message}")
        elif event.approval and event.approval != "unverified":
            problem = _used_approval(ctx, event)
            if problem:
                problems.append(f"ledger commit {event.commit[:12]} ({event.title()}): {problem}")
    notes = [f"{checked} signed approvals verify"] if checked else []
    unverified = [e for e in events if e.approval == "unverified"]
    if unverified:
        notes.append(f"{len(unverified)} events name an unverified (typed) approver")
    pending = [c for c, label in labels(ctx, events).items() if label == "awaiting approval"]
    if pending:
        notes.append(f"{len(pending)} events await approval: {', '.join(c[:12] for c in pending)}")
    return problems, notes


def _used_approval(ctx: Context, event: Event) -> str:
    """Why the approval a promote or rollback names does not count for it ("" when it does)."""
    try:
        tag, record, tagger = ctx.release(event.version)
        doc = approvals.read(ctx.ledger, event.approval)
        pol = approvals.policy(ctx.root or ctx.repo.root, ctx.config, event.environment)
        approvals.check(
            doc,
            pol,
            digest=event.digest,
            made_by=approvals.authors(ctx.repo, tagger, str(record["commit"])),
            at=approvals.moment(event.time),
            tag_key=approvals.release_key(ctx.repo, tag),
        )
    except (GateFailed, InputError) as exc:
        return exc.message
    return ""
