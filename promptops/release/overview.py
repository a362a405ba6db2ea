"""What the ledger says, for people: each environment's status, and the history of events with the release each
one replaced; unknown environments and prompts named in a question are usage errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import GateFailed, InputError
from .approving import labels
from .environments import Context, prompt_ids
from .ledger import Event
from .replay import Replay, replay
from .transitions import LedgerState


def status_report(ctx: Context) -> tuple[list[dict[str, Any]], str | None]:
    """`status` with the approval labels, and `ledger_warning`, from one replay: when the ledger replays, its
    events and last state are the ledger's (read again only when it does not)."""
    result = replay(ctx.ledger)
    if result.broken is None:
        events, state = list(result.events), result.state
    else:
        events, state = ctx.ledger.events(), ctx.ledger.state()
    return status(ctx, labels(ctx, events), events=events, state=state), _warning(result)


def status(
    ctx: Context,
    labels: Mapping[str, str] | None = None,
    *,
    events: Sequence[Event] | None = None,
    state: LedgerState | None = None,
) -> list[dict[str, Any]]:
    """Each environment: its release, digest, killed prompts, the last change with who made it, how the running
    release was approved and the events awaiting approval (`labels`: see approving.labels). `events` and `state`
    are the ledger's, read when not given."""
    labels = labels or {}
    state = ctx.ledger.state() if state is None else state
    events = ctx.ledger.events() if events is None else events
    names = sorted(set(ctx.config.environments) | set(state.environments) | set(state.killed))
    rows = []
    for env in names:
        current = state.current(env)
        last = next((e for e in events if e.environment == env), None)
        moved = next((e for e in events if e.environment == env and e.action in ("promote", "rollback")), None)
        rows.append(
            {
                "environment": env,
                "version": current.get("version"),
                "digest": current.get("digest"),
                "commit": current.get("commit"),
                "killed": {k: v for k, v in sorted(state.killed_in(env).items())},
                "last_change": {
                    "action": last.action,
                    "title": last.title(),
                    "by": last.by,
                    "time": last.time,
                    "reason": last.reason,
                }
                if last
                else None,
                "requires_approval": bool(ctx.config.environments.get(env, {}).get("requires_approval")),
                "approval": labels.get(moved.commit) if moved else None,
                "awaiting_approval": [
                    e.commit for e in events if e.environment == env and labels.get(e.commit) == "awaiting approval"
                ],
            }
        )
    return rows


def ledger_warning(ctx: Context) -> str | None:
    """A warning when the ledger does not replay (a state or event written by hand), else None."""
    return _warning(replay(ctx.ledger))


def _warning(result: Replay) -> str | None:
    if result.broken is None:
        return None
    return (
        f"the ledger does not replay: {result.broken}; what it says may be forged "
        "(`promptops verify --ledger`; export refuses it)"
    )


def history(
    ctx: Context, env: str | None = None, prompt: str | None = None, known_prompts: set[str] | None = None
) -> list[tuple[Event, str | None]]:
    """Events newest first, each with the release its environment ran before it (None when none, or for a
    kill, revive or approval). An environment or prompt nobody knows is an InputError (a typo must not read
    as "no events yet")."""
    events = ctx.ledger.events()
    running: dict[str, str] = {}
    before: dict[str, str | None] = {}
    for event in reversed(events):
        if event.action in ("promote", "rollback"):
            before[event.commit] = running.get(event.environment)
            running[event.environment] = event.version
    if env and env not in ctx.config.environments and all(e.environment != env for e in events):
        known = sorted(set(ctx.config.environments) | {e.environment for e in events})
        raise InputError(f"unknown environment {env!r}", hint=f"environments: {', '.join(known) or 'none yet'}")
    if env:
        events = [e for e in events if e.environment == env]
    if prompt:
        _known_prompt(ctx, prompt, known_prompts or set(), events)
        events = [
            e
            for e in events
            if e.prompt == prompt or (e.action in ("promote", "rollback") and _may_ship(ctx, e.version, prompt))
        ]
    return [(e, before.get(e.commit)) for e in events]


def _known_prompt(ctx: Context, prompt: str, known: set[str], events: list[Event]) -> None:
    """A prompt of the working tree, of an event, or of a release the ledger names; else an InputError."""
    if prompt in known or any(e.prompt == prompt for e in events):
        return
    for version in sorted({e.version for e in events if e.version}):
        try:
            _, record, _ = ctx.release(version)
        except (InputError, GateFailed):
            continue
        if prompt in prompt_ids(record, ctx.config.prompts_dir):
            return
    import difflib

    close = difflib.get_close_matches(prompt, sorted(known), n=3)
    raise InputError(
        f"unknown prompt {prompt!r}: not in the working tree, nor in a release the ledger names",
        hint=f"did you mean {', '.join(close)}?" if close else "run `promptops list` to see the prompt ids",
    )


def _may_ship(ctx: Context, version: str, prompt: str) -> bool:
    """Whether a release ships the prompt; a release whose tag is gone or does not verify may have: its events
    are kept (an audit must not lose events to a broken tag; `verify` says what is wrong with it)."""
    try:
        _, record, _ = ctx.release(version)
    except (InputError, GateFailed):
        return True
    return prompt in prompt_ids(record, ctx.config.prompts_dir)
