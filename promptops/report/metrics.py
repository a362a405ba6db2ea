"""Named metrics: the assertions that carry `metric: NAME`, scored per suite (and model and variant) across
every run of every case, for the JSON and text reports."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from ..model import EvalReport


def metric_scores(report: EvalReport) -> list[dict[str, Any]]:
    """One row per (suite, model, variant, metric): how many checks, how many passed, the mean score."""
    scores: dict[tuple[str, str, str, str], list[tuple[bool, float]]] = defaultdict(list)
    for result in report.results:
        for check in result.checks:
            if check.metric:
                scores[(result.suite, result.model, result.variant, check.metric)].append((check.passed, check.score))
    return [
        {
            "suite": suite,
            "model": model,
            "variant": variant,
            "metric": metric,
            "checks": len(found),
            "passed": sum(1 for ok, _ in found if ok),
            "score": math.fsum(s / len(found) for _, s in found),  # a mean that never overflows
        }
        for (suite, model, variant, metric), found in sorted(scores.items())
    ]


METRIC_HEADER = ("suite", "model", "metric", "passed", "score")


def metric_rows(report: EvalReport) -> list[tuple[str, ...]]:
    """The metrics as text rows for a terminal table (empty when no assertion names a metric)."""
    return [
        (
            row["suite"],
            row["model"] if row["variant"] == "primary" else f"{row['model']} ({row['variant']})",
            row["metric"],
            f"{row['passed']}/{row['checks']}",
            f"{row['score']:.2f}",
        )
        for row in metric_scores(report)
    ]


def metrics_markdown(report: EvalReport) -> str:
    """A "Metrics" section for a PR comment ("" when no assertion names a metric)."""
    rows = metric_rows(report)
    if not rows:
        return ""
    head = "| " + " | ".join(METRIC_HEADER) + " |\n|" + "---|" * len(METRIC_HEADER)
    body = ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(["### Metrics", "", head, *body])
