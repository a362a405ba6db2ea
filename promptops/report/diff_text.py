"""The diff document as text for a terminal."""

from __future__ import annotations

from collections.abc import Sequence

from ..wording import count, percent
from .diff_wording import (
    EVAL_CLASSES,
    LISTED,
    STATUS,
    TEXT_DIFF_LINES,
    Doc,
    case_lines,
    cut,
    describe,
    eval_target,
    groups,
    head_line,
    visible,
)


def to_text(doc: Doc) -> str:
    """For a terminal: the summary, then every change with its diffs. Lines starting with + or - are diff."""
    if not doc["summary"]["changed"]:
        return f"No changes between {doc['base']} and {doc['head']}.\n" + _text_eval(doc)
    out = [f"promptops diff {doc['base']} → {doc['head']}", head_line(doc)]
    s = doc["summary"]
    for title, items in (("Breaking", s["breaking"]), ("Weakened gates", s["weakened_gates"])):
        if items:
            out += ["", f"{title}:"] + [f"  {i['subject']}: {i['reason']}" for i in items]
    if s["high_risk"]:
        out += ["", "High-risk prompts changed: " + ", ".join(s["high_risk"])]
    if doc["problems"]:
        out += ["", "Failed to load (not compared):"]
        out += [
            f"  {p['side']}: {p['file']}{':' + str(p['line']) if p['line'] else ''}: {p['message']}"
            for p in doc["problems"]
        ]
    for title, section in (
        ("Prompts", _text_prompts),
        ("Partials", _text_partials),
        ("Routing", _text_routing),
        ("Eval suites", _text_suites),
    ):
        body = section(doc)
        if body:
            out += ["", title, *body]
    text = "\n".join(visible(line) for line in out) + "\n"
    return text + _text_eval(doc)


def _indent(lines: Sequence[str], depth: int) -> list[str]:
    return [" " * depth + line for line in lines]


def _text_prompts(doc: Doc) -> list[str]:
    out = []
    for p in doc["prompts"]:
        name = f"{p['old_id']} → {p['id']}" if p["old_id"] else p["id"]
        facts = [p["risk"] + " risk"] + ([p["owner"]] if p["owner"] else [])
        tags = ["behaviour-affecting"] * p["behaviour"] + ["BREAKING"] * p["breaking"] + ["HIGH RISK"] * p["high_risk"]
        out.append(f"  {STATUS[p['status']]} {name}  [{', '.join(facts)}]" + (f"  {' · '.join(tags)}" if tags else ""))
        if p["status"] in ("added", "removed"):
            continue
        out += [f"      was {p['old_path']}"] if p["old_path"] else []
        out += _indent([describe(c) for c in p["changes"] if c["kind"] not in ("template", "prompt")], 6)
        if p["template_diff"]:
            out += _indent(["template:", *_indent(cut(p["template_diff"].split("\n"), TEXT_DIFF_LINES), 2)], 6)
        if p["rendered_cases"]:
            changed = len(p["rendered"])
            out.append(f"      rendered: {changed} of {count(p['rendered_cases'], 'eval case')} changed")
            for names, case in groups(p["rendered"]):
                out.append("        " + ", ".join(names) + ":")
                out += _indent(cut(case_lines(case), TEXT_DIFF_LINES), 10)
    return out


def _text_partials(doc: Doc) -> list[str]:
    out = []
    for part in doc["partials"]:
        names = ", ".join(part["reaches"][:LISTED]) + (" …" if len(part["reaches"]) > LISTED else "")
        reach = f"reaches {count(len(part['reaches']), 'prompt')}" + (f": {names}" if names else "")
        out.append(f"  {STATUS[part['status']]} {part['name']}  ({reach})")
        out += _indent(cut(part["diff"].split("\n"), TEXT_DIFF_LINES), 6) if part["diff"] else []
    return out


def _text_routing(doc: Doc) -> list[str]:
    return ["  " + describe(c) for c in doc["routing"]]


def _text_suites(doc: Doc) -> list[str]:
    out = []
    for s in doc["suites"]:
        name = f"{s['old_id']} → {s['id']}" if s["old_id"] else s["id"]
        tag = "  WEAKENED GATE" if s["weakened"] else ""
        out.append(f"  {STATUS[s['status']]} {name}  (prompt {s['prompt']}){tag}")
        out += _indent([describe(c) for c in s["changes"] if s["status"] in ("modified", "renamed")], 6)
        for case in s["cases"]:
            if case["status"] == "modified":
                out.append(f"      case {case['id']}:")
                out += _indent([describe(c) for c in case["changes"]], 8)
            else:
                out.append(
                    f"      case {case['id']} {case['status']}"
                    + ("  (weakened gate)" if case["status"] == "removed" else "")
                )
    return out


def _text_eval(doc: Doc) -> str:
    ev = doc.get("eval")
    if ev is None:
        return ""
    out = ["", "Eval (paired baseline: base → head)"]
    if ev["skipped"]:
        out.append(f"  {ev['skipped']}")
    for s in ev["suites"]:
        gate = "INCOMPLETE" if s.get("gate") == "incomplete" else "gate passed" if s["gate_passed"] else "GATE FAILED"
        classes = ", ".join(f"{s['classes'][k]} {k}" for k in EVAL_CLASSES if s["classes"].get(k))
        out.append(
            f"  {s['suite']}: {percent(s['base_pass_rate'])} → {percent(s['head_pass_rate'])} "
            f"(threshold {percent(s['threshold'])}, {gate})" + (f"; {classes}" if classes else "")
        )
    for c in ev["cases"]:
        target = eval_target(c)
        out.append(
            f"    {c['change']}: {c['suite']} / {c['case']} [{target}] "
            f"{c['base_verdict'] or '-'} → {c['head_verdict'] or '-'}"
        )
        out += [f"      error: {c['error']}"] if c["error"] else []
        if c["output_diff"]:
            out += _indent(cut(c["output_diff"].split("\n"), TEXT_DIFF_LINES), 6)
    if ev["errors"]:
        out.append(f"  {count(ev['errors'], 'case')} ended in error")
    if ev["interrupted"]:
        out.append("  interrupted: the results are partial")
    return "\n".join(visible(line) for line in out) + "\n"
