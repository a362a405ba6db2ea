"""The ledger: a branch, never checked out, whose every commit records one promote, rollback, kill or revive.

Each commit's tree holds `state.json` (every environment's release and kill list after the event) and
`event.json`; its message carries the event as trailers, so the history reads from one `git log`. Writes are
a compare-and-swap on the ref: a writer that lost the race re-reads the state and applies its event again,
so concurrent writers never lose an event.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..config_model import LEDGER_BRANCH
from ..errors import GitError, InputError
from ..git import ChainCommit, GitRepo
from ..workspace import CONFIG_FILE
from .transitions import LedgerState, empty_state

__all__ = ["ACTIONS", "APPROVAL", "EVENT", "STATE", "Event", "Ledger", "LedgerState", "empty_state", "parse_event"]

STATE = "state.json"
EVENT = "event.json"
APPROVAL = "approval.json"  # the signed approval statement of an `approve` commit (promptops.release.approvals)
ACTIONS = ("promote", "rollback", "kill", "revive", "approve")
TRAILERS = (
    "Action",
    "Environment",
    "Version",
    "Digest",
    "Release-commit",
    "Prompt",
    "By",
    "Time",
    "Approved-by",
    "Approval",
    "Approves",
    "Reason",
)


@dataclass(frozen=True)
class Event:
    action: str
    environment: str
    by: str
    time: str
    reason: str
    version: str = ""
    digest: str = ""
    prompt: str = ""
    approved_by: str = ""
    previous: str = ""
    release_commit: str = ""  # the commit the release (promote, rollback) was built from
    # How a promote or rollback was approved: the ledger commit of the signed approval it used, "unverified"
    # (a typed --approved-by), or "" (none). On an `approve` event: "signed".
    approval: str = ""
    approves: str = ""  # on an `approve` event: the ledger commit it approves after the fact ("" for a release)
    commit: str = field(default="", compare=False)  # the ledger commit, when read back

    def title(self) -> str:
        if self.action == "approve":
            what = f"the event {self.approves[:12]}" if self.approves else self.version
            return f"approve {what} for {self.environment}"
        if self.action in ("promote", "rollback"):
            verb = "promote" if self.action == "promote" else "roll back"
            return f"{verb} {self.environment} to {self.version}"
        return f"{self.action} {self.prompt} in {self.environment}"

    def message(self) -> str:
        values = {
            "Action": self.action,
            "Environment": self.environment,
            "Version": self.version,
            "Digest": self.digest,
            "Release-commit": self.release_commit,
            "Prompt": self.prompt,
            "By": self.by,
            "Time": self.time,
            "Approved-by": self.approved_by,
            "Approval": self.approval,
            "Approves": self.approves,
            "Reason": self.reason,
        }
        trailers = [f"{k}: {_one_line(v)}" for k, v in values.items() if v]
        return f"{self.title()}\n\n{self.reason.strip()}\n\n" + "\n".join(trailers) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def parse_event(sha: str, message: str) -> Event | None:
    """An event from a ledger commit message (its trailer block), or None for a commit that is not one."""
    values: dict[str, str] = {}
    for line in reversed(message.strip().splitlines()):
        key, sep, value = line.partition(": ")
        if not sep or key not in TRAILERS:
            break
        values.setdefault(key, value)
    if values.get("Action") not in ACTIONS:
        return None
    return Event(
        action=values["Action"],
        environment=values.get("Environment", ""),
        by=values.get("By", ""),
        time=values.get("Time", ""),
        reason=values.get("Reason", ""),
        version=values.get("Version", ""),
        digest=values.get("Digest", ""),
        prompt=values.get("Prompt", ""),
        approved_by=values.get("Approved-by", ""),
        approval=values.get("Approval", ""),
        approves=values.get("Approves", ""),
        release_commit=values.get("Release-commit", ""),
        commit=sha,
    )


class Ledger:
    def __init__(self, repo: GitRepo, branch: str) -> None:
        if branch != LEDGER_BRANCH and not repo.valid_branch(branch):  # the default is valid: git is not asked
            raise InputError(
                f"ledger_branch {branch!r} is not a valid git branch name",
                file=CONFIG_FILE,
                hint="use a name such as promptops/ledger: no spaces, `..`, `~`, `^`, `:`, `?`, `*`, `[` or "
                "trailing `/` or `.lock` (see `git check-ref-format`)",
            )
        self.repo = repo
        self.branch = branch
        self.ref = f"refs/heads/{branch}"
        self._states: dict[str, LedgerState] = {}  # by ledger commit: a commit's state never changes

    def known(self, commit: str, state: LedgerState) -> None:
        """Keep the state of ledger commit `commit`, read elsewhere (a replay), for `state` to answer from."""
        self._states[commit] = state

    def head(self) -> str | None:
        return self.repo.read_ref(self.ref)

    def state(self, at: str | None = None) -> LedgerState:
        """The state at the ledger's head (or at the ledger commit `at`)."""
        head = at or self.head()
        if head is None:
            return empty_state()
        if head in self._states:
            return self._states[head]
        data = self.repo.show(f"{head}:{STATE}")
        if data is None:
            raise GitError(f"the ledger commit {head[:12]} has no {STATE}", hint=f"is {self.branch} a ledger branch?")
        where = f"{self.branch}@{head[:12]}:{STATE}"
        try:
            parsed = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InputError(
                f"the ledger state is not valid JSON: {exc}",
                file=where,
                hint="the ledger was edited by hand; `promptops verify --ledger` names the first bad commit",
            ) from None
        return LedgerState.read(parsed, where)

    def chain(self, files: Sequence[str] = ()) -> list[ChainCommit]:
        """Every commit of the ledger, oldest first, with its signature status (and the blobs named `files`
        of its tree, e.g. STATE and EVENT)."""
        return self.repo.chain(self.ref, files) if self.head() is not None else []

    def sync(self, remote: str) -> None:
        """Before writing an event that will be pushed: take in what `remote` has (a fast-forward)."""
        tracking = f"refs/remotes/{remote}/{self.branch}"
        try:
            self.repo.fetch(remote, f"+{self.ref}:{tracking}")
        except GitError as exc:
            if "couldn't find remote ref" in exc.stderr:
                return  # the remote has no ledger yet: our push creates it
            raise
        theirs, ours = self.repo.read_ref(tracking), self.head()
        if theirs is None or theirs == ours or (ours is not None and self.repo.is_ancestor(theirs, ours)):
            return
        if ours is None or self.repo.is_ancestor(ours, theirs):
            if not self.repo.compare_and_swap(self.ref, theirs, ours):
                raise GitError(
                    f"the ledger {self.branch} moved while it was being updated from {remote}", hint="retry the command"
                )
            return
        raise GitError(
            f"the local ledger and {remote}'s have diverged: each has events the other lacks",
            hint=f"see them with `git log --oneline {tracking}...{self.branch}`; publish yours with "
            f"`git push {remote} {self.branch}` after reconciling, or reset to theirs with "
            f"`git update-ref {self.ref} {tracking}` (your local-only events are then dropped)",
        )

    def publish(self, remote: str, event: Event) -> None:
        """Push the ledger. If the push is refused, the event is taken back locally, so that the same command
        can simply be run again (it will take in the remote's events first)."""
        try:
            self.repo.push(remote, [f"{self.ref}:{self.ref}"])
        except GitError as exc:
            undone = self._take_back(event)
            raise GitError(
                f"{exc.message}; the event ({event.title()}) was not published"
                + (" and has been taken back locally" if undone else ""),
                hint="run the same command again: it takes in the remote's ledger first"
                if undone
                else f"publish it with `git push {remote} {self.branch}` once the ledgers agree",
            ) from None

    def _take_back(self, event: Event) -> bool:
        """Move the ledger back to before `event` (its own, unpublished commit); False when that cannot be done."""
        parent = self.repo.read_ref(f"{event.commit}^")
        try:
            return parent is not None and self.repo.compare_and_swap(self.ref, parent, event.commit)
        except GitError:
            return False  # the push failure is what the user must hear; the event simply stays local

    def events(self) -> list[Event]:
        """Every event, newest first."""
        if self.head() is None:
            return []
        events = []
        for sha, message in self.repo.commit_messages(self.ref):
            event = parse_event(sha, message)
            if event is not None:
                events.append(event)
        return events

    def append(
        self,
        change: Callable[[LedgerState], tuple[LedgerState, Event]],
        attempts: int = 25,
        files: Mapping[str, bytes] | None = None,
    ) -> Event:
        """Apply `change` to the current state and commit the result (with `files` beside the state and the
        event, e.g. a signed approval), retrying when another writer won.
        The commit is signed when git is set up to sign commits (`commit.gpgSign`)."""
        sign = self.repo.config_flag("commit.gpgSign")
        extra = {name: self.repo.write_blob(data) for name, data in (files or {}).items()}
        for attempt in range(attempts):
            head = self.head()
            state, event = change(self.state(head))
            tree = self.repo.write_tree(
                {
                    **extra,
                    STATE: self.repo.write_blob(_json(state.as_dict())),
                    EVENT: self.repo.write_blob(_json(asdict(event) | {"commit": None})),
                }
            )
            commit = self.repo.commit_tree(tree, [head] if head else [], event.message(), sign=sign)
            if self.repo.compare_and_swap(self.ref, commit, head):
                return Event(**(asdict(event) | {"commit": commit}))
            time.sleep(random.uniform(0.005, 0.05) * (1 + attempt / 5))
        raise GitError(
            f"the ledger {self.branch} kept moving under this update ({attempts} attempts)",
            hint="another promote, rollback or kill is running; retry the command",
        )


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
