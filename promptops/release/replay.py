"""Replaying the ledger: every state must follow from the state before it and the event recorded with it.

A ledger commit is a claim: "after this event, the environments run these releases and these prompts are
killed". Anyone who can push the branch can write such a claim by hand. Replaying the chain from the first
commit, with the same transition function the commands use, tells a state that follows from its history
from one that was made up, and names the first commit that does not follow. A replay cannot tell who made
an event that does follow: that is what signed ledger commits are for, so the replay counts them too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from typing import Any

from ..errors import GateFailed, InputError
from ..git import ChainCommit
from ..wording import count
from .ledger import EVENT, STATE, Event, Ledger, _one_line, empty_state, parse_event
from .transitions import LedgerState, apply, check_state


@dataclass(frozen=True)
class Break:
    """The first ledger commit that does not follow from the one before it, and why."""

    commit: str
    reason: str

    def __str__(self) -> str:
        return f"ledger commit {self.commit[:12]} {self.reason}"


@dataclass(frozen=True)
class Replay:
    commits: int
    signed: int  # commits whose signature git checked and found good
    unchecked: int  # signed, but git has no key to check them with
    state: LedgerState  # the state at the last commit that follows (the head's when nothing broke)
    broken: Break | None = None
    # The events of the commits that follow, newest first, as their messages tell them (Ledger.events() when
    # nothing broke: the chain is then one line of event commits).
    events: tuple[Event, ...] = ()

    @property
    def ok(self) -> bool:
        return self.broken is None

    @property
    def unsigned(self) -> int:
        return self.commits - self.signed - self.unchecked

    def summary(self, branch: str) -> str:
        signed = f"{self.signed} signed" + (f", {self.unchecked} signed but not checkable" if self.unchecked else "")
        commits = count(self.commits, "commit")
        return f"ledger {branch}: {commits} replay ({signed}, {self.unsigned} unsigned)"


def replay(ledger: Ledger) -> Replay:
    """Replay the whole ledger from its first commit; stops at the first commit that does not follow."""
    chain = ledger.chain(files=(STATE, EVENT))
    state, previous = empty_state(), None
    signed = unchecked = 0
    events: list[Event] = []
    for number, commit in enumerate(chain):
        try:
            state, told = _step(commit, previous, state, ledger.branch)
        except InputError as exc:
            return Replay(number, signed, unchecked, state, Break(commit.sha, exc.message), tuple(reversed(events)))
        events.append(told)
        signed += commit.signature.status == "good"
        unchecked += commit.signature.status == "unchecked"
        previous = commit.sha
    if chain:
        ledger.known(chain[-1].sha, state)  # the head's state: a write that follows need not read it again
    return Replay(len(chain), signed, unchecked, state, events=tuple(reversed(events)))


def _step(commit: ChainCommit, previous: str | None, state: LedgerState, branch: str) -> tuple[LedgerState, Event]:
    """The state `commit` records, once checked against `state` (the one before) and its event, and the event
    as its message tells it."""
    if commit.parents != ((previous,) if previous else ()):
        raise InputError("does not follow the commit before it (a merge, or a second root)")
    if commit.signature.status == "bad":
        raise InputError(f"carries a signature that does not verify ({commit.signature.signer or 'unknown key'})")
    claimed = _json(commit.files.get(STATE), STATE)
    where = f"{branch}@{commit.sha[:12]}:{STATE}"
    try:
        told = _follows(commit, state, claimed, commit.files.get(EVENT), where)
    except InputError:
        check_state(claimed, where)  # a malformed state is what is reported, whatever else is wrong
        raise
    # The state is what its event makes of a well-formed state, so it is well-formed itself: its shape is
    # checked only when it does not follow (checking every stack of a long ledger was most of a replay).
    return LedgerState.checked(claimed), told


def _follows(commit: ChainCommit, state: LedgerState, claimed: Any, data: bytes | None, where: str) -> Event:
    """The event of `commit` as its message tells it, once its state `claimed` is found to be what its event
    (`data`, its event.json) makes of `state`."""
    event, told = _event(commit, data)
    if event.action in ("promote", "rollback") and not event.release_commit:
        # Written before events named their release commit: that one field is taken from the state.
        current = check_state(claimed, where)["environments"].get(event.environment, {})
        event = replace(event, release_commit=str(current.get("commit", "")))
    try:
        expected = apply(state, event).shown()
    except InputError as exc:
        raise InputError(f"records an event that cannot happen there: {exc.message}") from None
    if expected != claimed:
        raise InputError(
            f"does not follow from the state before it and its event ({event.title()}): "
            + _difference(expected, claimed)
        )
    return told


def _json(data: bytes | None, name: str) -> Any:
    if data is None:
        raise InputError(f"has no {name}")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"has a {name} that is not JSON ({exc})") from None


def _event(commit: ChainCommit, data: bytes | None) -> tuple[Event, Event]:
    """The event of a commit from its event.json, which must agree with the trailers of its message; and the
    event as the message tells it (one line per field, no `previous`)."""
    raw = _json(data, EVENT)
    names = [f.name for f in fields(Event) if f.name != "commit"]
    if not isinstance(raw, dict) or not all(isinstance(raw.get(n, ""), str) for n in names):
        raise InputError(f"has an {EVENT} that is not an event object")
    event = Event(**{n: raw.get(n, "") for n in names}, commit=commit.sha)
    told = parse_event(commit.sha, commit.message)
    if told is None:
        raise InputError("has a message that records no ledger event")
    for name in names:
        said, recorded = getattr(told, name), _one_line(getattr(event, name))
        if name != "previous" and said != recorded:
            raise InputError(f"says {name.replace('_', '-')} {said!r} in its message but {recorded!r} in {EVENT}")
    return event, told


def _difference(expected: Any, claimed: Any, path: str = "") -> str:
    """Where two states first differ, e.g. `killed.production: replay gives {...}, the commit says {}`."""
    if isinstance(expected, dict) and isinstance(claimed, dict):
        for key in sorted(set(expected) | set(claimed)):
            if expected.get(key) != claimed.get(key):
                return _difference(expected.get(key), claimed.get(key), f"{path}.{key}" if path else str(key))
    shown = [json.dumps(v, sort_keys=True)[:200] for v in (expected, claimed)]
    return f"{path or 'the state'}: replaying gives {shown[0]}, the commit says {shown[1]}"


def verified_state(ledger: Ledger) -> LedgerState:
    """The ledger's current state, refused (exit 1) when the chain does not replay: nothing acts on a state
    that may have been written by hand."""
    result = replay(ledger)
    if result.broken is not None:
        raise GateFailed(
            f"the ledger {ledger.branch} does not replay: {result.broken}; "
            "refusing to act on a state that may be forged",
            hint="run `promptops verify --ledger`; restore the branch from a clone whose ledger replays",
        )
    return result.state
