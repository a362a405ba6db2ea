"""A project without a results store yet starts its first calls while its later cases are still being planned:
the same tasks, results and plan as planning everything first, and a plan that an interrupted run resumes by."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import write_tree
from eval_fixtures import SECRET, project
from scripted_provider import ScriptedProvider

from promptops import digest, loader
from promptops.evaluate.engine import Evaluation, Settings
from promptops.evaluate.plan import case_jobs, job_tasks
from promptops.evaluate.planned import PlanDigest, Planned
from promptops.evaluate.runner import Options
from promptops.evaluate.store import STATE_FILE
from promptops.model import TaskResult
from promptops.render import Renderer
from promptops.workspace import open_source

URL = "http://127.0.0.1:9/v1"  # never called: the scripted provider answers
KEYED = {"PROMPTOPS_TEST_KEY": SECRET}
FAST = Options(backoff_base=0.001, seed=7, concurrency=4)
CASES = 90  # more than the first step of planning ahead and the workers take


def files() -> dict[str, str | bytes | None]:
    """Cases answered "yes" (pass) or "no" (fail), repeated twice, and one case that cannot be rendered (its
    variable is missing), near the end: it is planned after the first calls."""
    tree = project(URL, {f"c{i:03d}": f"{'yes' if i % 3 else 'no'} c{i:03d} ’ü" for i in range(CASES)}, repeat=2)
    tree["evals/answer.yaml"] = str(tree["evals/answer.yaml"]) + "  - id: broken\n    vars: {other: x}\n"
    return tree


def essence(results: tuple[TaskResult, ...]) -> list[tuple[object, ...]]:
    return [(r.suite, r.case, r.repeat, r.variant, r.status, r.output, r.error, r.error_kind) for r in results]


def test_a_new_project_calls_while_planning_and_gets_what_planning_first_gets(
    tmp_path: Path, scripted: ScriptedProvider
) -> None:
    root = tmp_path / "p"
    write_tree(root, files())
    planning_at_call: list[bool] = []
    told: list[str] = []
    source = open_source(root)
    planned = Evaluation(
        root,
        source,
        loader.load(source),
        Settings(options=FAST),
        KEYED,
        on_planned=lambda: told.append(f"planned {planned.planning} after {len(planning_at_call)} calls"),
        on_calls_done=lambda: told.append("calls done"),
    ).plan()

    scripted.on_call = lambda _: planning_at_call.append(planned.planning)
    scripted.delay = 0.002  # calls that take a while, as real ones do
    assert planned.planning and planned.known_total is None  # nothing planned before the run of a new project
    streamed = planned.run().report
    assert planning_at_call[0] and not planning_at_call[-1] and not planned.planning
    # Told once, when the last case is planned (while calls were being made), before the calls are over.
    assert len(told) == 2 and told[0].startswith("planned False after ") and told[1] == "calls done"
    assert 0 < int(told[0].split()[-2]) < 2 * CASES
    assert planned.known_total == planned.total == 2 * CASES + 1 == len(streamed.results)

    # The same project with a results store: every case is planned before the first call (no cache read here,
    # so every case is asked again).
    planning_at_call.clear()
    source = open_source(root)
    planned = Evaluation(
        root, source, loader.load(source), Settings(options=replace(FAST, use_cache=False)), KEYED
    ).plan()
    assert not planned.planning
    first_planned = planned.run().report
    assert planning_at_call and not any(planning_at_call)
    assert essence(streamed.results) == essence(first_planned.results)
    assert [(c.case, c.verdict) for c in streamed.cases] == [(c.case, c.verdict) for c in first_planned.cases]
    assert streamed.results[-1].case == "broken" and streamed.results[-1].error_kind == "input"

    # Both runs are kept with the same plan: the one planned while calling too, so an interrupted one resumes.
    with sqlite3.connect(root / STATE_FILE) as db:
        plans = [row[0] for row in db.execute("SELECT plan FROM runs ORDER BY started, rowid")]
    assert len(plans) == 2 and plans[0] == plans[1] != ""


def test_the_plan_digest_is_the_digest_of_the_whole_plan_as_earlier_versions_took_it(tmp_path: Path) -> None:
    """Runs interrupted before an upgrade still resume: the digest taken task by task is the one taken of the
    whole list (unicode, quotes and errors in the identities included)."""
    root = tmp_path / "p"
    tree = files()
    tree["evals/answer.yaml"] = str(tree["evals/answer.yaml"]).replace("id: c001", 'id: "c001 \\"é\\" \\u2028"')
    write_tree(root, tree)
    snapshot = loader.load(open_source(root))
    tasks = [
        t
        for job in case_jobs(snapshot, list(snapshot.suites.values()))
        for t in job_tasks(snapshot, Renderer(snapshot), job)
    ]
    whole = digest.key_of(
        [(t.key, t.suite.id, t.case.id, t.variant, repr(t.asserts), t.error) for t in tasks], default=str
    )
    in_pieces = PlanDigest()
    for start in range(0, len(tasks), 7):
        in_pieces.add(tasks[start : start + 7])
    assert in_pieces.hexdigest() == whole == PlanDigest().add(tasks).hexdigest()
    assert PlanDigest().hexdigest() == digest.key_of([])


def test_an_interrupt_while_a_case_is_planned_loses_no_case_of_the_plan(tmp_path: Path) -> None:
    root = tmp_path / "p"
    write_tree(root, files())
    snapshot = loader.load(open_source(root))
    jobs = case_jobs(snapshot, list(snapshot.suites.values()))
    renderer = Renderer(snapshot)
    interrupted: list[str] = []

    def tasks_of(job):  # type: ignore[no-untyped-def]
        if job.case.id == "c005" and not interrupted:
            interrupted.append(job.case.id)
            raise KeyboardInterrupt
        return job_tasks(snapshot, renderer, job)

    planned = Planned(None, jobs, tasks_of)  # type: ignore[arg-type]
    taken = []
    with pytest.raises(KeyboardInterrupt):
        for task in planned.feed():
            taken.append(task.uid)
    assert len(taken) == 5 * 2 and planned.planning
    every = [t.uid for t in planned.head]  # what the interrupted run's report counts as planned
    assert every[: len(taken)] == taken and len(every) == len(set(every)) == 2 * CASES + 1
    assert [t.uid for t in planned.feed()] == every
