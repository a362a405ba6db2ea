"""Prompt variants side by side: for each suite file that compares prompts (its suites are `<id>@<variant>`),
every variant's pass rate and gate, the difference from the first variant, and the cases whose verdicts
differ between variants. Shared by the JSON, text and Markdown reports."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..model import EvalReport, SuiteSummary, variant_parts
from ..wording import percent
from .cases import visible

CASES_SHOWN = 10  # differing cases named per suite in text and Markdown; JSON lists them all


def variant_comparisons(report: EvalReport) -> list[dict[str, Any]]:
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[SuiteSummary]] = defaultdict(list)
    for s in report.suites:
        base, name = variant_parts(s.suite)
        if name:  # one comparison per suite file and cell of the run's axes (a model of a matrix)
            groups[(base, tuple(sorted(s.axes.items())))].append(s)
    out = []
    for (base, axes), suites in sorted(groups.items()):
        suites.sort(key=lambda s: s.suite)
        names = {s.suite: variant_parts(s.suite)[1] for s in suites}
        first = suites[0].pass_rate
        rows = [
            {
                "variant": names[s.suite],
                "suite": s.suite,
                "prompt": s.prompt,
                "cases": s.cases,
                "passed": s.passed,
                "pass_rate": s.pass_rate,
                "pass_rate_change": round(s.pass_rate - first, 6),
                "gate_passed": s.gate_passed,
            }
            for s in suites
        ]
        verdicts: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
        for c in report.cases:
            if c.suite in names and tuple(sorted(c.axes.items())) == axes:
                verdicts[(c.case, c.model, c.variant)][names[c.suite]] = c.verdict
        differences = [
            {"case": case, "model": model, "role": role, "verdicts": dict(sorted(v.items()))}
            for (case, model, role), v in sorted(verdicts.items())
            if len(set(v.values())) > 1 or len(v) < len(suites)
        ]
        out.append({"suite": base, "axes": dict(axes), "variants": rows, "differences": differences})
    return out


def variant_lines(report: EvalReport) -> list[str]:
    """The comparison as lines for a terminal (empty when no suite compares prompts)."""
    lines = []
    for group in variant_comparisons(report):
        cells = []
        for i, row in enumerate(group["variants"]):
            change = "" if i == 0 else f" ({points(row['pass_rate_change'])})"
            gate = "gate passed" if row["gate_passed"] else "gate failed"
            cells.append(f"{row['variant']} {percent(row['pass_rate'])}{change}, {gate}")
        cell = "".join(f" [{k}: {v}]" for k, v in group["axes"].items())
        lines.append(visible(f"variants of {group['suite']}{cell}: " + "; ".join(cells)))
        diffs = group["differences"]
        for d in diffs[:CASES_SHOWN]:
            said = ", ".join(f"{name} {verdict}" for name, verdict in d["verdicts"].items())
            lines.append(visible(f"  {d['case']} [{d['model']}]: {said}"))
        if len(diffs) > CASES_SHOWN:
            lines.append(f"  ... and {len(diffs) - CASES_SHOWN} more cases that differ")
        if not diffs:
            lines.append("  every case has the same verdict in every variant")
    return lines


def variants_markdown(report: EvalReport) -> str:
    """A "Prompt variants" section for a PR comment ("" when no suite compares prompts)."""
    groups = variant_comparisons(report)
    if not groups:
        return ""
    parts = ["### Prompt variants"]
    for group in groups:
        names = [r["variant"] for r in group["variants"]]
        head = "| case | " + " | ".join(_md(n) for n in names) + " |\n|---|" + "---|" * len(names)
        rates = (
            "| **pass rate** | "
            + " | ".join(
                percent(r["pass_rate"]) + ("" if i == 0 else f" ({points(r['pass_rate_change'])})")
                for i, r in enumerate(group["variants"])
            )
            + " |"
        )
        rows = [
            f"| `{_md(d['case'])}` | " + " | ".join(d["verdicts"].get(n, "-") for n in names) + " |"
            for d in group["differences"][:CASES_SHOWN]
        ]
        more = len(group["differences"]) - CASES_SHOWN
        tail = [f"\n{more} more cases differ."] if more > 0 else []
        cell = "".join(f" [{k}: {v}]" for k, v in group["axes"].items())
        parts.append("\n".join([f"`{_md(group['suite'])}`{_md(cell)}", "", head, rates, *rows, *tail]))
    return "\n\n".join(parts)


def points(change: float) -> str:
    points = round(change * 100, 1)
    return f"{points:+g} points"


def _md(text: str) -> str:
    return visible(text).replace("|", "\\|").replace("`", "'")
