"""The release record carried in an annotated tag's message: human-readable text plus a canonical JSON block."""

from __future__ import annotations

import json
from typing import Any

from ..errors import InputError

BEGIN = "-----BEGIN PROMPTOPS RELEASE-----"
END = "-----END PROMPTOPS RELEASE-----"


def render_message(record: dict[str, Any]) -> str:
    """The tag message: a summary a person reads in `git show`, then the record promptops reads back."""
    lines = [f"promptops release {record['tag']}", ""]
    if record.get("notes_text"):
        lines += [record["notes_text"].strip(), ""]
    lines.append(f"Bundle digest: {record['digest']}")
    lines.append(f"Commit: {record['commit']}")
    evidence = record.get("evidence") or {}
    if evidence.get("skipped"):
        lines.append(f"Evals: skipped ({evidence['skipped']})")
    for suite in evidence.get("suites", []):
        lines.append(
            f"Eval {suite['suite']}: {suite['pass_rate']:.0%} (threshold {suite['threshold']:.0%}), "
            f"{suite['cases']} cases"
        )
    if evidence.get("results_digest"):
        lines.append(f"Eval results digest: {evidence['results_digest']}")
    for override in evidence.get("overrides", []):
        lines.append(
            f"Override {override['suite']}:{override['case']} -> {override['verdict']} by "
            f"{override['author']}: {override['reason']}"
        )
    if record.get("changed"):
        lines += ["", "Changed prompts:"]
        lines += [f"- {c['prompt']} ({c['change']})" for c in record["changed"]]
    if record.get("notes"):
        lines += ["", "Change reasons:"]
        for note in record["notes"]:
            approvals = f" (approved by {', '.join(note['approved_by'])})" if note.get("approved_by") else ""
            lines.append(f"- {note['commit'][:10]} {note['author']}: {'; '.join(note['reasons'])}{approvals}")
    body = json.dumps(record, sort_keys=True, ensure_ascii=False, indent=1)
    return "\n".join(lines) + f"\n\n{BEGIN}\n{body}\n{END}\n"


def parse_message(message: str, tag: str) -> dict[str, Any]:
    # The record is the last marker line: notes typed by a person may quote the markers (even on a line of
    # their own, in the human part), and inside the JSON they can never stand on a line of their own.
    start = message.rfind(f"\n{BEGIN}\n")
    start = start + 1 if start >= 0 else -1
    end = message.find(f"\n{END}", start) + 1 if start >= 0 else -1
    if start < 0 or end < start:
        raise InputError(
            f"tag {tag} is not a promptops release (no release record in its message)",
            hint="releases are made with `promptops release`",
        )
    try:
        record: dict[str, Any] = json.loads(message[start + len(BEGIN) : end])
    except ValueError as exc:
        raise InputError(f"tag {tag} has a damaged release record: {exc}") from None
    return record
