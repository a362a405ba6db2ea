"""An eval's tasks as the engine runs them: planned case by case (all before the first call, or while the first
calls are in flight), the digest a resumed run is matched by, and the imports their calls will need, started
in the background."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from .. import digest
from ..model import Message
from ..redaction import secret_detectors
from .plan import KILL_SWITCH, CaseJob, Task

if TYPE_CHECKING:
    from .engine import Evaluation, Outcome


PLAN_STEP = 20  # cases planned at a time while the first calls are in flight (about half a millisecond)


class Planned:
    """An eval's tasks, made by `Evaluation.plan()`; `run()` calls the models and returns the outcome.

    The head's cases are planned (rendered into tasks) in order, as `feed()` asks for them or all at once when
    `head` is read: a run can send its first calls while its later cases are still being planned. A case is
    planned whole or not at all, so an interruption while one renders loses nothing of the plan."""

    def __init__(
        self,
        evaluation: Evaluation,
        jobs: Sequence[CaseJob],
        tasks_of: Callable[[CaseJob], list[Task]],
        base: Sequence[Task] = (),
    ) -> None:
        self.evaluation = evaluation
        self.base = tuple(base)
        self.cases = len(jobs)  # the head's cases; each has one task at least
        self._jobs, self._tasks_of = jobs, tasks_of
        self._done = 0  # cases planned
        self._head: list[Task] = []
        self._digest = PlanDigest()  # of the head's tasks planned so far
        self._on_tasks: Callable[[list[Task]], None] | None = None
        self._on_planned: Callable[[], None] | None = None

    @property
    def planning(self) -> bool:
        """Whether cases of the head are still to be planned."""
        return self._done < len(self._jobs)

    @property
    def head(self) -> tuple[Task, ...]:
        """Every task of the evaluated revision (planning what is left)."""
        self.plan_all()
        return tuple(self._head)

    @property
    def total(self) -> int:
        return len(self.head) + len(self.base)

    @property
    def known_total(self) -> int | None:
        """The number of tasks, once every case is planned (None before)."""
        return None if self.planning else self.total

    def plan_id(self) -> str:
        """The plan's digest, head then base (planning what is left): what a resumed run is matched by."""
        self.plan_all()
        return self._digest.copy().add(self.base).hexdigest()

    def plan_all(self) -> None:
        while self._plan_next():
            pass

    def follow(self, on_tasks: Callable[[list[Task]], None], on_planned: Callable[[], None]) -> None:
        """Call `on_tasks` with the tasks of each case planned from now on, and `on_planned` once every case is."""
        self._on_tasks, self._on_planned = on_tasks, on_planned
        if not self.planning:
            on_planned()

    def feed(self) -> Iterator[Task]:
        """The head's tasks in order, each case planned when its first task is asked for."""
        index = 0
        while index < len(self._head) or self._plan_next():
            yield self._head[index]
            index += 1

    async def plan_ahead(self) -> None:
        """Plan the cases left, a few at a time between the event loop's other work: the plan is whole (and kept,
        so an interrupted run can resume) soon after the first calls leave, not when its last task is taken."""
        while self.planning:
            for _ in range(PLAN_STEP):
                self._plan_next()
            await asyncio.sleep(0)

    def _plan_next(self) -> bool:
        if not self.planning:
            return False
        tasks = self._tasks_of(self._jobs[self._done])
        self._head.extend(tasks)
        self._done += 1
        self._digest.add(tasks)
        if self._on_tasks is not None:
            self._on_tasks(tasks)
        if not self.planning and self._on_planned is not None:
            self._on_planned()
        return True

    def run(self) -> Outcome:
        """Run every task (resuming an interrupted run of the same plan), then summarise and gate."""
        return self.evaluation._run(self)

    def messages(self) -> dict[tuple[str, str, str, str], tuple[Message, ...]]:
        """Each case's rendered messages (first repeat) as the results may keep them: keys removed and the
        project's redaction for inputs applied (none when inputs are dropped), keyed like the report's cases."""
        redactor = self.evaluation.redactor
        found: dict[tuple[str, str, str, str], tuple[Message, ...]] = {}
        for t in self.head:
            key = (t.suite.id, t.case.id, t.model.name, t.variant)
            if t.request is None or key in found:
                continue
            kept = [(m.role, redactor.text(m.content, "inputs")) for m in t.request.messages]
            found[key] = tuple(Message(role, text) for role, text in kept if text is not None)
        return found


class PlanDigest:
    """The digest of a plan, taken task by task as the cases are planned: what a resumed run is matched by.
    The same as the digest of the canonical JSON of the list of every task's identity (hashed a piece at a time)."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256(b"[")
        self._first = True

    def add(self, tasks: Iterable[Task]) -> PlanDigest:
        canonical = digest.canonical_json
        items = ",".join(canonical((t.key, t.suite.id, t.case.id, t.variant, repr(t.asserts), t.error)) for t in tasks)
        if items:
            self._hash.update((items if self._first else "," + items).encode("utf-8"))
            self._first = False
        return self

    def copy(self) -> PlanDigest:
        other = PlanDigest()
        other._hash, other._first = self._hash.copy(), self._first
        return other

    def hexdigest(self) -> str:
        whole = self._hash.copy()
        whole.update(b"]")
        return whole.hexdigest()


class Prefetch:
    """Starts importing, in the background, what the calls of the tasks it is given will need, so the imports
    overlap the rest of the start-up: litellm when a call needs it (OpenAI-compatible models are called
    without it), else the HTTP client only; then the secret scanner's detectors. Given the tasks of each case as
    they are planned, it starts litellm's import as soon as a case needs it."""

    def __init__(self, active: bool) -> None:
        self.active = active  # a replay makes no call
        self.scanner = False  # the scanner's import is started
        self.litellm = False  # litellm's import is started

    def add(self, tasks: Iterable[Task]) -> None:
        if not self.active or self.litellm:
            return
        requests = [t.request for t in tasks if t.request is not None and t.model is not KILL_SWITCH]
        if not requests:
            return
        from ..providers import litellm as litellm_provider

        loading: concurrent.futures.Future[None] | None = None
        if any(litellm_provider.needs_litellm(r) for r in requests):
            litellm_provider.prefetch()
            self.litellm = True
        elif not self.scanner:
            loading = litellm_provider.native.prefetch()  # its HTTP client only
        if not self.scanner:
            self.scanner = True
            threading.Thread(
                target=_load_scanner, args=(loading,), name="promptops-scanner-import", daemon=True
            ).start()


def _load_scanner(after: concurrent.futures.Future[None] | None) -> None:
    """Load the detectors that scrub every answer (detect-secrets' plugins, about 0.1 s of imports) once the HTTP
    client is in: while the first calls are in flight rather than when their answers arrive, which would hold
    back the next calls by as much. Any failure is left for the run to meet, and report, on its own thread."""
    if after is not None:
        concurrent.futures.wait([after])
    with contextlib.suppress(Exception):
        secret_detectors()
