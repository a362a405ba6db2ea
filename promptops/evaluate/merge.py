"""Joining the reports of sharded runs (`promptops report merge`) under the same gates."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from ..errors import InputError
from ..formats import parse_json
from ..model import EvalReport, Suite, SuiteSummary
from ..wording import plural
from .summary import RowKey, cell_of, summarize_suite


def _suite(s: SuiteSummary) -> Suite:
    return Suite(
        id=s.suite,
        path=s.path,
        prompt=s.prompt,
        threshold=s.threshold,
        min_consistency=s.min_consistency,
        max_flaky=s.max_flaky,
    )


def merge(reports: Sequence[EvalReport]) -> EvalReport:
    """One report from shard reports: cases are whole in one shard, so suites are summarised anew."""
    if not reports:
        raise InputError("no reports to merge", hint="pass the JSON reports of every shard")
    shards = [r.shard for r in reports]
    if all(shards):
        counts = {s.split("/")[1] for s in shards if s}
        seen = sorted({s for s in shards if s}, key=lambda s: int(s.split("/")[0]))
        if len(counts) != 1:
            raise InputError(f"the reports come from different shardings: {', '.join(seen)}")
        total = int(counts.pop())
        missing = [f"{k}/{total}" for k in range(1, total + 1) if f"{k}/{total}" not in seen]
        if missing:
            raise InputError(
                f"{plural(len(missing), 'shard')} {', '.join(missing)} missing from the merge",
                hint="pass the report of every shard",
            )
        if len(seen) != len(shards):
            raise InputError("a shard's report is given twice")
    cases = tuple(sorted((c for r in reports for c in r.cases), key=lambda c: (c.suite, c.case, c.model, c.variant)))
    results = tuple(x for r in reports for x in r.results)
    settings: dict[RowKey, SuiteSummary] = {}
    durations: dict[RowKey, float] = {}
    absent: dict[RowKey, int] = {}
    for r in reports:
        for s in r.suites:
            row = (s.suite, cell_of(s.axes))
            settings.setdefault(row, s)
            durations[row] = max(durations.get(row, 0.0), s.duration_s)
            absent[row] = absent.get(row, 0) + s.missing_runs
    suites = tuple(
        _row(summarize_suite(_suite(settings[row]), cases, results, durations[row], dict(row[1])), absent[row])
        for row in sorted(settings)
    )
    first = reports[0]
    return EvalReport(
        run_id="+".join(sorted({r.run_id for r in reports})),
        project=first.project,
        label=first.label,
        started=min(r.started for r in reports),
        finished=max(r.finished for r in reports),
        suites=suites,
        cases=cases,
        results=results,
        baseline=first.baseline,
        interrupted=any(r.interrupted for r in reports),
        shard=None,
        axes=first.axes,
        removed=tuple(c for r in reports for c in r.removed),
        base_suites=tuple(s for r in reports for s in r.base_suites),
    )


def _row(summary: SuiteSummary, missing: int) -> SuiteSummary:
    """A shard's missing runs stay missing in the merge: an incomplete row never passes."""
    if not missing:
        return summary
    reason = f"incomplete: {missing} planned runs have no result"
    return replace(summary, missing_runs=missing, gate_passed=False, gate_reasons=(reason, *summary.gate_reasons))


def read_reports(paths: Iterable[Path]) -> list[EvalReport]:
    """The JSON reports of shards (`eval --shard K/N -o F.json`), each refused with its file when unreadable."""
    from ..report.results import from_dict

    loaded = []
    for path in paths:
        try:
            report = from_dict(parse_json(path.read_text("utf-8")))
            if report.shard is not None and not re.fullmatch(r"[1-9][0-9]*/[1-9][0-9]*", report.shard):
                raise InputError(
                    "eval results: shard must be K/N (e.g. 2/4)",
                    hint="pass the file `promptops eval --shard K/N -o FILE.json` wrote, unedited",
                )
            loaded.append(report)
        except OSError as exc:
            raise InputError(f"cannot read report: {exc.strerror}", file=str(path)) from None
        except InputError as exc:  # the document's own complaint, which does not know the file's name
            if exc.file:
                raise
            raise InputError(exc.message, file=str(path), hint=exc.hint) from None
        except (ValueError, TypeError, KeyError) as exc:
            raise InputError(
                f"not a promptops eval report: {exc}",
                file=str(path),
                hint="pass files written by `promptops eval -o FILE.json`",
            ) from None
    return loaded
