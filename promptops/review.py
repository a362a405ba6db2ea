"""`promptops diff` as a function: what a change does, and (with `--eval`) the paired baseline eval of the
suites it affects, compared case by case.

It joins `diff/` and `evaluate/`, which do not import each other, so it sits above both, beside `release/`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from . import loader
from .diff import DiffReport, EvalDiff, affected_suites, eval_changes, open_sides
from .diff import diff as compare
from .redaction import key_names, secret_values
from .workspace import CONFIG_FILE, open_source


@dataclass(frozen=True)
class EvalRequest:
    """How `diff --eval` runs the affected suites."""

    replay: bool = False
    concurrency: int | None = None
    use_cache: bool = True


@dataclass(frozen=True)
class Review:
    report: DiffReport
    eval_code: int = 0  # the eval's exit code: 0 without --eval; 1 (a gate) is left to --fail-on


def review(
    root: Path,
    base: str | None,
    head: str | None,
    env: Mapping[str, str],
    run_eval: EvalRequest | None = None,
    on_note: Callable[[str], None] | None = None,
) -> Review:
    """Compare BASE with HEAD (default: the merge-base with the default branch, and the working tree); with
    `run_eval`, also evaluate the affected suites at BASE and in the working tree."""
    sides = open_sides(root, base, head)
    report = compare(
        sides.base,
        sides.head,
        base_source=sides.base_source,
        head_source=sides.head_source,
        renames=sides.renames,
        changed=sides.changed,
        secrets=secret_values(env, [*key_names(sides.base), *key_names(sides.head)]),
    )
    if run_eval is None:
        return Review(report)
    return paired_eval(root, report, sides.base_sha, run_eval, env, on_note)


def paired_eval(
    root: Path,
    report: DiffReport,
    base_sha: str,
    request: EvalRequest,
    env: Mapping[str, str],
    on_note: Callable[[str], None] | None = None,
) -> Review:
    """The baseline eval of the suites `report` affects, run at `base_sha` and in the working tree."""
    # The eval engine (asyncio, providers, checks) is imported only when an eval runs: plain `diff` skips it.
    from .evaluate.engine import Evaluation, Settings, exit_code
    from .evaluate.runner import Options

    source = open_source(root)
    snapshot = loader.load(source)
    loader.raise_problem(snapshot, {CONFIG_FILE})
    suites = affected_suites(report, snapshot)
    if not suites:
        return Review(replace(report, eval=EvalDiff(skipped="No eval suite is affected by this change.")))
    options = Options.from_config(
        snapshot.config.eval_defaults, concurrency=request.concurrency, use_cache=request.use_cache
    )
    settings = Settings(suites=suites, baseline=base_sha, mode="replay" if request.replay else "live", options=options)
    if on_note is not None:
        on_note(f"evaluating {len(suites)} affected suite{'s' * (len(suites) != 1)} at BASE and HEAD …")
    outcome = Evaluation(root, source, snapshot, settings, env, on_warning=on_note).plan().run()
    return Review(replace(report, eval=eval_changes(outcome.report, outcome.base_results)), exit_code(outcome.report))
