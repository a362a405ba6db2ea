"""How the diff document reads in any format: constants, one change described, untrusted text made visible.
The terminal and Markdown writers (diff_text.py, diff_markdown.py) both build on it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..wording import count

MARKER = "<!-- promptops-diff -->"
MARKDOWN_LIMIT = 65_000  # GitHub refuses comments over 65,536 characters; leave room for a wrapper
BLOCK_CHARS = 6_000  # one prompt's or suite's details in Markdown
TEXT_DIFF_LINES = 400  # lines of one diff in the terminal
LISTED = 20  # names per list in the Markdown summary
STATUS = {"added": "A", "removed": "D", "renamed": "R", "modified": "M"}
ICON = {"added": "➕", "removed": "➖", "renamed": "🔀", "modified": "✏️"}
EVAL_CLASSES = ("regressed", "fixed", "still-failing", "flaky", "unchecked", "new", "removed", "unchanged")


def eval_target(case: Mapping[str, Any]) -> str:
    """A paired case's model (both models when the change swapped it: "old → new"), and its role."""
    model = case["model"]
    if case.get("base_model") and case["base_model"] != model:
        model = f"{case['base_model']} → {model}"
    return model if case["variant"] == "primary" else f"{model}/{case['variant']}"


Doc = Mapping[str, Any]

# -- shared --------------------------------------------------------------------------------------------------

INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def visible(text: str) -> str:
    def escape(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return INVISIBLE.sub(escape, str(text).replace("\r\n", "\n"))


def shown_value(value: Any) -> str:
    """A before/after value on one line."""
    if value is None:
        return "(none)"
    if isinstance(value, Mapping) and set(value) >= {"name", "model"}:
        return f"{value['name']} ({value['model']})"
    if isinstance(value, list) and all(isinstance(v, Mapping) and "name" in v for v in value):
        return "[" + ", ".join(shown_value(v) for v in value) + "]" if value else "[]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if value.strip() != value or not value else value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def flags(change: Mapping[str, Any]) -> list[str]:
    out = ["breaking"] * change["breaking"] + ["weakened gate"] * change["weakened"]
    return out


def describe(change: Mapping[str, Any]) -> str:
    """One line for a change: what, before -> after, and why it matters."""
    kind, name = change["kind"], change["field"]
    if kind == "template":
        line = "template changed"
    elif kind == "partial":
        line = f"includes {name}, which changed"
    elif kind == "prompt":
        line = change["note"] or name
    elif kind == "source":
        state = "added" if change["before"] is None else "removed" if change["after"] is None else "changed"
        line = f"pinned source {name} {state}"
    elif kind in ("suite", "case") and change["before"] is None and change["after"] is None:
        line = change["note"] or name
    elif kind == "assertion" and (change["before"] is None or change["after"] is None):
        line = f"assertion {name} {'added' if change['before'] is None else 'removed'}"
    else:
        where = f"route {name}" if kind == "route" else name
        line = f"{where}: {shown_value(change['before'])} → {shown_value(change['after'])}"
    marks = flags(change)
    restated = kind == "suite" or change["note"] in line  # "threshold: 0.9 → 0.7" says "threshold lowered"
    note = change["note"] if change["note"] and not restated else ""
    extra = "; ".join(filter(None, [", ".join(marks), note]))
    return visible(f"{line}  ({extra})" if extra else line)


def head_line(doc: Doc) -> str:
    s = doc["summary"]
    counts = s["prompts"]
    total = sum(counts.values())
    parts = [f"{count(total, 'prompt')} changed ({len(s['behaviour_affecting'])} behaviour-affecting)"]
    parts += [count(s["partials"], "partial")] if s["partials"] else []
    parts += [count(s["routing"], "routing edit")] if s["routing"] else []
    parts += [count(s["suites"], "eval suite")] if s["suites"] else []
    parts.append(f"version bump: {s['bump'] or 'none'}")
    return ", ".join(parts)


def groups(rendered: Sequence[Mapping[str, Any]]) -> list[tuple[list[str], Mapping[str, Any]]]:
    """Rendered cases with the same change, grouped: a partial edit reads once, not once per case."""
    groups: dict[str, tuple[list[str], Mapping[str, Any]]] = {}
    for case in rendered:
        key = json.dumps([case["messages"], case["base_error"], case["head_error"]], sort_keys=True)
        groups.setdefault(key, ([], case))[0].append(f"{case['suite']} / {case['case']}")
    return list(groups.values())


def case_lines(case: Mapping[str, Any]) -> list[str]:
    lines = []
    for side in ("base", "head"):
        if case[f"{side}_error"]:
            lines.append(f"fails to render at {side}: {case[f'{side}_error']}")
    for m in case["messages"]:
        lines.append(f"message {m['index']} ({m['role']}) {m['status']}:")
        lines += m["diff"].split("\n") if m["diff"] else []
    return lines


def problem_at(problem: Mapping[str, Any]) -> str:
    return f"{problem['file']}:{problem['line']}" if problem["line"] else problem["file"]


def cut(lines: list[str], limit: int) -> list[str]:
    return lines if len(lines) <= limit else [*lines[:limit], f"… {len(lines) - limit} more lines"]
