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
        record: Any = json.loads(message[start + len(BEGIN) : end])
    except (ValueError, RecursionError) as exc:
        raise InputError(f"tag {tag} has a damaged release record: {exc}", hint=REWRITTEN) from None
    problem = _shape_problem(record)
    if problem:
        raise InputError(f"tag {tag} has a damaged release record: {problem}", hint=REWRITTEN)
    return dict(record)


REWRITTEN = "the tag was rewritten by hand; restore it from a clone that has the original, or cut a new release"
# What promptops reads from a record, and the JSON type each must have.
SHAPE: dict[str, tuple[type, ...]] = {
    "tag": (str,),
    "commit": (str,),
    "digest": (str,),
    "hashes": (dict,),
    "evidence": (dict, type(None)),
    "notes": (list,),
    "changed": (list,),
}
EVIDENCE = ("suites", "overrides")  # lists of objects


def _shape_problem(record: Any) -> str:
    if not isinstance(record, dict):
        return f"expected a JSON object, found {type(record).__name__}"
    for key, types in SHAPE.items():
        if key in record and not isinstance(record[key], types):
            return f"`{key}` should be {_names(types)}, found {type(record[key]).__name__}"
    for key in ("tag", "commit", "digest"):
        if key not in record:
            return f"`{key}` is missing"
    for key in EVIDENCE:
        value = (record.get("evidence") or {}).get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            return f"`evidence.{key}` should be a list of objects"
    for key in ("notes", "changed"):
        if not all(isinstance(item, dict) for item in record.get(key, [])):
            return f"`{key}` should be a list of objects"
    for name, value in record.get("hashes", {}).items():
        if not isinstance(value, dict):
            return f"`hashes.{name}` should be an object"
    return ""


def _names(types: tuple[type, ...]) -> str:
    words = {str: "a string", dict: "an object", list: "a list", type(None): "null"}
    return " or ".join(words[t] for t in types)
