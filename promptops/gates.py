"""The gates a release passes before it is tagged: lint, then the evals.

release/, lint and evaluate/ are peers (none imports another), so this module composes them: it gives
release/releasing.py its Gates and is what `promptops release` calls to plan a release.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .errors import GateFailed, InputError, Interrupted, UnavailableError
from .lint import lint
from .model import EvalReport, Snapshot
from .release.releasing import Gates, Plan, Request
from .release.releasing import plan_release as plan_with
from .workspace import GitSource


def release_evals(
    root: Path, source: GitSource, snapshot: Snapshot, replay: bool, env: Mapping[str, str]
) -> EvalReport:
    """Run the evals at the release commit; a gate that does not pass is raised as the error it is."""
    from .evaluate.engine import Evaluation, Settings, exit_code
    from .evaluate.runner import Options

    settings = Settings(mode="replay" if replay else "live", options=Options.from_config(snapshot.config.eval_defaults))
    report = Evaluation(root, source, snapshot, settings, env).plan().run().report
    code = exit_code(report)
    failing = [s for s in report.suites if not s.gate_passed]
    detail = "; ".join(f"{s.suite}: {', '.join(s.gate_reasons)}" for s in failing[:3])
    if code == 1:
        raise GateFailed(
            f"evals failed, so nothing was released: {detail}",
            hint="fix the prompts, or use --skip-eval --reason TEXT to release anyway",
        )
    if code == 2:
        raise InputError(f"the evals could not run: {detail}", hint="run `promptops eval` to see why")
    if code == 3:
        first = next(r for r in report.results if r.status == "error")  # the provider's own words, in full
        raise UnavailableError(
            f"provider errors during the evals: {detail}; first: {first.suite}:{first.case} ({first.model}): "
            f"{first.error}",
            hint="retry, or use --replay with committed recordings",
        )
    if code == 130:
        raise Interrupted("interrupted while the evals ran; nothing was released")
    return report


RELEASE_GATES = Gates(lint=lint, evaluate=release_evals)


def plan_release(root: Path, config_prefix: str, request: Request) -> Plan:
    """Check every precondition of a release, lint and the evals included, and compute it; nothing is written."""
    return plan_with(root, config_prefix, request, RELEASE_GATES)
