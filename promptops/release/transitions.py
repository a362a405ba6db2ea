"""The ledger's state (`LedgerState`, what `state.json` holds), what one event does to it, and the shape of a
state read back from git.

`apply` is the only place a promote, rollback, kill or revive changes the state: the commands use it to
write an event, and `replay` uses it to check that every state on the ledger follows from the one before
and the event recorded with it. It is pure (no git, no time), so both sides compute the same thing.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:
    from .ledger import Event

STACK_DEPTH = 50  # releases a plain `rollback` can step back through; `--to` reaches any release


@dataclass(frozen=True)
class LedgerState:
    """Every environment's release (with the stack a rollback steps back through) and kill list, after an event.

    `environments` maps an environment to {version, digest, commit, by, time, stack: [{version, digest,
    commit}, ...]}; `killed` maps an environment to {prompt: {reason, by, time}}. Treat both as read-only:
    `apply` returns a new state. `as_dict()` gives back exactly the JSON read (`format_version` and any key
    this version does not know included), so a ledger written by any version still reads and replays."""

    environments: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    killed: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    format_version: Any = 1  # None: the key was absent
    extra: Mapping[str, Any] = field(default_factory=dict)  # top-level keys this version does not know

    @classmethod
    def read(cls, data: Any, where: str) -> LedgerState:
        """The state in parsed `state.json`, or an InputError naming `where` when it is malformed."""
        return cls.checked(check_state(data, where))

    @classmethod
    def checked(cls, data: Mapping[str, Any]) -> LedgerState:
        """The state in `data`, which `check_state` has passed (its objects are taken, not copied)."""
        known = ("environments", "killed", "format_version")
        return cls(
            environments=data["environments"],
            killed=data["killed"],
            format_version=data.get("format_version"),
            extra={k: v for k, v in data.items() if k not in known},
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON of `state.json` (a deep copy: changing it leaves the state as it was)."""
        return copy.deepcopy(self.shown())

    def shown(self) -> dict[str, Any]:
        """The JSON of `state.json` sharing this state's objects, to read or compare only (`as_dict` to change)."""
        data: dict[str, Any] = {"environments": self.environments, "killed": self.killed, **self.extra}
        if self.format_version is not None:
            data["format_version"] = self.format_version
        return data

    def current(self, env: str) -> Mapping[str, Any]:
        """What `env` runs ({} when nothing)."""
        return self.environments.get(env, {})

    def version(self, env: str) -> str:
        """The release `env` runs ("" when none)."""
        return str(self.current(env).get("version", ""))

    def killed_in(self, env: str) -> Mapping[str, Mapping[str, str]]:
        """The prompts killed in `env`, with why, by whom and when."""
        return self.killed.get(env, {})


def empty_state() -> LedgerState:
    """The state before the first event."""
    return LedgerState()


def entry(event: Event) -> dict[str, str]:
    return {"version": event.version, "digest": event.digest, "commit": event.release_commit}


def apply(state: LedgerState, event: Event) -> LedgerState:
    """The state after `event`; an InputError when the event cannot happen in `state`. The new state shares
    what the event leaves as it was with `state` (a state is never changed in place), so a replay of a long
    ledger does not copy every environment's stack at every step."""
    if event.action not in ("promote", "rollback", "kill", "revive", "approve"):
        raise InputError(f"unknown ledger action {event.action!r}")
    if event.action == "approve":  # an approval is a record beside the state; it moves nothing
        return state
    env = event.environment
    current = state.current(env)
    if event.action in ("promote", "rollback"):
        return replace(state, environments={**state.environments, env: _moved(current, event)})
    if event.action == "kill" and not current:
        raise InputError(f"{env} runs no release; there is nothing to kill")
    killed = state.killed_in(env)
    if event.action == "kill" and event.prompt in killed:
        raise InputError(f"{event.prompt} is already killed in {env} ({killed[event.prompt]['reason']})")
    if event.action == "revive" and event.prompt not in killed:
        raise InputError(f"{event.prompt} is not killed in {env}")
    if event.version != current.get("version", ""):
        raise InputError(f"the {event.action} names release {event.version!r}, but {env} runs {current.get('version')}")
    if event.action == "kill":
        after = {**killed, event.prompt: {"reason": event.reason, "by": event.by, "time": event.time}}
    else:
        after = {name: why for name, why in killed.items() if name != event.prompt}
    return replace(state, killed={**state.killed, env: after})


def _moved(current: Mapping[str, Any], event: Event) -> dict[str, Any]:
    """An environment's entry after a promote or rollback to `event.version`."""
    env = event.environment
    stack = list(current.get("stack", []))
    running = current.get("version", "")
    if event.previous != running:
        raise InputError(
            f"the {event.action} says {env} ran {event.previous or 'nothing'}, but it ran {running or 'nothing'}"
        )
    if running == event.version:
        raise InputError(f"{env} already runs {event.version}")
    if event.action == "promote":
        stack = [*stack, entry(event)][-STACK_DEPTH:]
    else:
        if not current:
            raise InputError(f"{env} runs no release yet; nothing to roll back")
        # Back to the last time the release ran (a plain rollback: the one before the current), else onto the top.
        index = next((i for i in range(len(stack) - 2, -1, -1) if stack[i]["version"] == event.version), None)
        if index is None:
            stack = [*stack, entry(event)]
        elif stack[index]["digest"] != event.digest:
            raise InputError(
                f"the rollback names digest {event.digest} for {event.version}, which ran with {stack[index]['digest']}"
            )
        else:
            stack = stack[: index + 1]
    return {**stack[-1], "stack": stack, "by": event.by, "time": event.time}


# -- the shape of a state read back from git -----------------------------------------------------------------

ENTRY_KEYS = ("version", "digest", "commit")


def check_state(data: Any, where: str) -> dict[str, Any]:
    """`data` (parsed state.json) if it has the shape promptops writes, else an InputError naming `where`."""
    problem = _state_problem(data)
    if problem:
        raise InputError(
            f"the ledger state is malformed: {problem}",
            file=where,
            hint="the ledger was edited by hand; `promptops verify --ledger` names the first commit that does "
            "not follow from the one before",
        )
    return dict(data)


def _state_problem(data: Any) -> str:
    if not isinstance(data, dict):
        return f"expected a JSON object, found {_kind(data)}"
    for key in ("environments", "killed"):
        if not isinstance(data.get(key), dict):
            return f"`{key}` should be an object, found {_kind(data.get(key))}"
    for env, current in data["environments"].items():
        problem = _entry_problem(current, ("by", "time"))
        if not problem and not isinstance(current.get("stack"), list):
            problem = f"`stack` should be a list, found {_kind(current.get('stack'))}"
        for item in current.get("stack", []) if not problem else []:
            problem = problem or _entry_problem(item, ())
        if problem:
            return f"environments.{env}: {problem}"
    for env, killed in data["killed"].items():
        if not isinstance(killed, dict):
            return f"killed.{env} should be an object, found {_kind(killed)}"
        for prompt, why in killed.items():
            if not isinstance(why, dict) or not all(isinstance(why.get(k), str) for k in ("reason", "by", "time")):
                return f"killed.{env}.{prompt} should be an object with reason, by and time"
    return ""


def _entry_problem(item: Any, extra: tuple[str, ...]) -> str:
    if not isinstance(item, dict):
        return f"expected an object, found {_kind(item)}"
    for key in (*ENTRY_KEYS, *extra):
        if not isinstance(item.get(key), str):
            return f"`{key}` should be a string, found {_kind(item.get(key))}"
    return ""


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "nothing"}
    return names.get(type(value), "a number")
