"""The diff document (schemas/diff.json) as JSON, as text for a terminal and as Markdown for a PR comment.

The writers read the document `promptops.diff.as_dict` builds, so the three formats cannot disagree.
Everything a change brings in (template text, rendered messages, model outputs) is untrusted: control
characters are shown as `\\xNN`, Markdown puts it in fences longer than any backtick run it holds.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..wording import count, percent

MARKER = "<!-- promptops-diff -->"
MARKDOWN_LIMIT = 65_000  # GitHub refuses comments over 65,536 characters; leave room for a wrapper
BLOCK_CHARS = 6_000  # one prompt's or suite's details in Markdown
TEXT_DIFF_LINES = 400  # lines of one diff in the terminal
LISTED = 20  # names per list in the Markdown summary
STATUS = {"added": "A", "removed": "D", "renamed": "R", "modified": "M"}
ICON = {"added": "➕", "removed": "➖", "renamed": "🔀", "modified": "✏️"}
EVAL_CLASSES = ("regressed", "fixed", "still-failing", "flaky", "new", "removed", "unchanged")

Doc = Mapping[str, Any]

# -- shared --------------------------------------------------------------------------------------------------

_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _visible(text: str) -> str:
    def escape(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _INVISIBLE.sub(escape, str(text).replace("\r\n", "\n"))


def _value(value: Any) -> str:
    """A before/after value on one line."""
    if value is None:
        return "(none)"
    if isinstance(value, Mapping) and set(value) >= {"name", "model"}:
        return f"{value['name']} ({value['model']})"
    if isinstance(value, list) and all(isinstance(v, Mapping) and "name" in v for v in value):
        return "[" + ", ".join(_value(v) for v in value) + "]" if value else "[]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if value.strip() != value or not value else value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _flags(change: Mapping[str, Any]) -> list[str]:
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
        line = f"{where}: {_value(change['before'])} → {_value(change['after'])}"
    flags = _flags(change)
    restated = kind == "suite" or change["note"] in line  # "threshold: 0.9 → 0.7" says "threshold lowered"
    note = change["note"] if change["note"] and not restated else ""
    extra = "; ".join(filter(None, [", ".join(flags), note]))
    return _visible(f"{line}  ({extra})" if extra else line)


def _head_line(doc: Doc) -> str:
    s = doc["summary"]
    counts = s["prompts"]
    total = sum(counts.values())
    parts = [f"{count(total, 'prompt')} changed ({len(s['behaviour_affecting'])} behaviour-affecting)"]
    parts += [count(s["partials"], "partial")] if s["partials"] else []
    parts += [count(s["routing"], "routing edit")] if s["routing"] else []
    parts += [count(s["suites"], "eval suite")] if s["suites"] else []
    parts.append(f"version bump: {s['bump'] or 'none'}")
    return ", ".join(parts)


def _groups(rendered: Sequence[Mapping[str, Any]]) -> list[tuple[list[str], Mapping[str, Any]]]:
    """Rendered cases with the same change, grouped: a partial edit reads once, not once per case."""
    groups: dict[str, tuple[list[str], Mapping[str, Any]]] = {}
    for case in rendered:
        key = json.dumps([case["messages"], case["base_error"], case["head_error"]], sort_keys=True)
        groups.setdefault(key, ([], case))[0].append(f"{case['suite']} / {case['case']}")
    return list(groups.values())


def _case_lines(case: Mapping[str, Any]) -> list[str]:
    lines = []
    for side in ("base", "head"):
        if case[f"{side}_error"]:
            lines.append(f"fails to render at {side}: {case[f'{side}_error']}")
    for m in case["messages"]:
        lines.append(f"message {m['index']} ({m['role']}) {m['status']}:")
        lines += m["diff"].split("\n") if m["diff"] else []
    return lines


def _where(problem: Mapping[str, Any]) -> str:
    return f"{problem['file']}:{problem['line']}" if problem["line"] else problem["file"]


def _cut(lines: list[str], limit: int) -> list[str]:
    return lines if len(lines) <= limit else [*lines[:limit], f"… {len(lines) - limit} more lines"]


# -- text ----------------------------------------------------------------------------------------------------


def to_text(doc: Doc) -> str:
    """For a terminal: the summary, then every change with its diffs. Lines starting with + or - are diff."""
    if not doc["summary"]["changed"]:
        return f"No changes between {doc['base']} and {doc['head']}.\n" + _text_eval(doc)
    out = [f"promptops diff {doc['base']} → {doc['head']}", _head_line(doc)]
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
    text = "\n".join(_visible(line) for line in out) + "\n"
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
            out += _indent(["template:", *_indent(_cut(p["template_diff"].split("\n"), TEXT_DIFF_LINES), 2)], 6)
        if p["rendered_cases"]:
            changed = len(p["rendered"])
            out.append(f"      rendered: {changed} of {count(p['rendered_cases'], 'eval case')} changed")
            for names, case in _groups(p["rendered"]):
                out.append("        " + ", ".join(names) + ":")
                out += _indent(_cut(_case_lines(case), TEXT_DIFF_LINES), 10)
    return out


def _text_partials(doc: Doc) -> list[str]:
    out = []
    for part in doc["partials"]:
        names = ", ".join(part["reaches"][:LISTED]) + (" …" if len(part["reaches"]) > LISTED else "")
        reach = f"reaches {count(len(part['reaches']), 'prompt')}" + (f": {names}" if names else "")
        out.append(f"  {STATUS[part['status']]} {part['name']}  ({reach})")
        out += _indent(_cut(part["diff"].split("\n"), TEXT_DIFF_LINES), 6) if part["diff"] else []
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
        gate = "gate passed" if s["gate_passed"] else "GATE FAILED"
        classes = ", ".join(f"{s['classes'][k]} {k}" for k in EVAL_CLASSES if s["classes"].get(k))
        out.append(
            f"  {s['suite']}: {percent(s['base_pass_rate'])} → {percent(s['head_pass_rate'])} "
            f"(threshold {percent(s['threshold'])}, {gate})" + (f"; {classes}" if classes else "")
        )
    for c in ev["cases"]:
        target = c["model"] if c["variant"] == "primary" else f"{c['model']}/{c['variant']}"
        out.append(
            f"    {c['change']}: {c['suite']} / {c['case']} [{target}] "
            f"{c['base_verdict'] or '-'} → {c['head_verdict'] or '-'}"
        )
        out += [f"      error: {c['error']}"] if c["error"] else []
        if c["output_diff"]:
            out += _indent(_cut(c["output_diff"].split("\n"), TEXT_DIFF_LINES), 6)
    if ev["errors"]:
        out.append(f"  {count(ev['errors'], 'case')} ended in error")
    if ev["interrupted"]:
        out.append("  interrupted: the results are partial")
    return "\n".join(_visible(line) for line in out) + "\n"


# -- Markdown ------------------------------------------------------------------------------------------------


def _md_text(text: str) -> str:
    """Free text on one line, inert: no HTML, no table breaks."""
    return html.escape(" ".join(_visible(text).split()), quote=False).replace("|", "\\|")


def _md_code(text: str) -> str:
    text = " ".join(_visible(text).split())
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    code = f"{fence} {text} {fence}" if len(fence) > 1 or text.startswith("`") else f"`{text}`"
    return code.replace("|", "\\|")


def _md_block(text: str, lang: str = "diff") -> str:
    text = _visible(text)
    fence = "`" * max(3, max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def _md_list(items: Sequence[str]) -> str:
    shown = list(items[:LISTED])
    more = f" and {len(items) - LISTED} more" if len(items) > LISTED else ""
    return ", ".join(shown) + more


def to_markdown(doc: Doc, limit: int = MARKDOWN_LIMIT) -> str:
    """A pull-request comment: the summary on top, then a collapsible section per prompt, partial and suite.

    At most `limit` characters: sections are left out from the end (saying which) to fit. The first line
    is a hidden marker, so a workflow can find and update its own comment.
    """
    head = _md_summary(doc)
    # Causes (partials, routing, suites) before effects (the prompts, possibly hundreds); within the prompts,
    # breaking and high-risk ones first: if the comment must be cut, the least important details go.
    prompts = sorted(doc["prompts"], key=lambda p: (not p["breaking"], not p["high_risk"], not p["behaviour"]))
    sections: list[tuple[str, list[str]]] = [
        ("eval", _md_eval(doc)),
        ("partials", [_md_partial(p) for p in doc["partials"]]),
        ("routing", [_md_routing(doc)] if doc["routing"] else []),
        ("suites", [_md_suite(s) for s in doc["suites"]]),
        ("prompts", [_md_prompt(p) for p in prompts]),
    ]
    return _fit(head, sections, limit)


TITLES = {
    "eval": "### Eval: paired baseline",
    "prompts": "### Prompts",
    "partials": "### Partials",
    "routing": "### Routing",
    "suites": "### Eval suites",
}
CUT_WHAT = {
    "eval": "eval results",
    "prompts": "prompts",
    "partials": "partials",
    "routing": "routing",
    "suites": "eval suites",
}


def _fit(head: str, sections: list[tuple[str, list[str]]], limit: int) -> str:
    note_room = 600
    size = len(head) + 1
    kept: list[str] = []
    cut: dict[str, tuple[int, int]] = {}
    for name, blocks in sections:
        if not blocks:
            continue
        title_added = False
        for i, block in enumerate(blocks):
            extra = len(block) + 2 + (0 if title_added else len(TITLES[name]) + 2)
            if cut or size + extra + note_room > limit:
                cut[name] = (len(blocks) - i, len(blocks))
                break
            if not title_added:
                kept.append(TITLES[name])
                title_added = True
            kept.append(block)
            size += extra
    parts = [head, *kept]
    if cut:
        what = "; ".join(f"{left} of {total} {CUT_WHAT[n]}" for n, (left, total) in cut.items())
        parts.append(
            f"> **Left out** to stay under {limit:,} characters: the details of {what}. "
            "Run `promptops diff` locally, or use `--format json`, for everything."
        )
    text = "\n\n".join(parts) + "\n"
    return text if len(text) <= limit else text[: limit - 40] + "\n\n> **Cut** at the size limit.\n"


def _md_summary(doc: Doc) -> str:
    s = doc["summary"]
    if not s["changed"]:
        title = "## promptops diff: no changes"
    else:
        bump = f" · version bump **{s['bump']}**" if s["bump"] else ""
        title = f"## promptops diff: {_md_text(_head_line(doc).split(', version bump')[0])}{bump}"
    lines = [MARKER, title, "", f"{_md_code(doc['base'])} → {_md_code(doc['head'])}"]
    if s["changed"]:
        c = s["prompts"]
        lines += [
            "",
            "| | |",
            "|---|---:|",
            f"| behaviour-affecting prompts | {len(s['behaviour_affecting'])} |",
            "| prompts added · removed · renamed · modified | "
            f"{c['added']} · {c['removed']} · {c['renamed']} · {c['modified']} |",
            f"| partials · routing edits · eval suites | {s['partials']} · {s['routing']} · {s['suites']} |",
            f"| breaking changes · weakened gates | {len(s['breaking'])} · {len(s['weakened_gates'])} |",
        ]
    for title, items in (
        ("⚠️ **Breaking**: needs a major version", s["breaking"]),
        ("⚠️ **Weakened gates**", s["weakened_gates"]),
    ):
        if items:
            lines += ["", title, ""]
            lines += [f"- {_md_code(i['subject'])}: {_md_text(i['reason'])}" for i in items[:LISTED]]
            lines += [f"- _and {len(items) - LISTED} more_"] if len(items) > LISTED else []
    if s["high_risk"]:
        lines += ["", "🔴 **High-risk prompts changed**: " + _md_list([_md_code(p) for p in s["high_risk"]])]
    if s["behaviour_affecting"]:
        lines += ["", "**Behaviour-affecting**: " + _md_list([_md_code(p) for p in s["behaviour_affecting"]])]
    if doc["problems"]:
        lines += ["", "**Failed to load** (not compared):", ""]
        lines += [f"- {p['side']}: {_md_code(_where(p))}: {_md_text(p['message'])}" for p in doc["problems"][:LISTED]]
    ev = doc.get("eval")
    if ev is not None and ev["cases"]:
        regressed = sum(c["change"] == "regressed" for c in ev["cases"])
        fixed = sum(c["change"] == "fixed" for c in ev["cases"])
        lines += ["", f"**Eval**: {count(regressed, 'regressed case')}, {fixed} fixed (details below)"]
    return "\n".join(lines)


def _details(summary: str, body: list[str], limit: int = BLOCK_CHARS) -> str:
    text = "\n".join(body)
    if len(text) > limit:
        text = text[:limit].rsplit("\n", 1)[0]
        if text.count("```") % 2:  # close a fence the cut left open
            text += "\n```"
        text += f"\n\n_… cut at {limit:,} characters; `promptops diff` shows the rest_"
    return f"<details><summary>{summary}</summary>\n\n{text}\n\n</details>"


def _md_changes(changes: Sequence[Mapping[str, Any]], keep: Callable[[Mapping[str, Any]], bool]) -> list[str]:
    return [f"- {_md_text(describe(c))}" for c in changes if keep(c)]


def _md_prompt(p: Mapping[str, Any]) -> str:
    name = f"{p['old_id']} → {p['id']}" if p["old_id"] else p["id"]
    tags = [p["status"]] + ["behaviour-affecting"] * p["behaviour"]
    tags += ["<b>breaking</b>"] * p["breaking"] + ["🔴 high risk"] * p["high_risk"]
    kinds = sorted({c["kind"] for c in p["changes"] if c["kind"] != "prompt"})
    summary = f"{ICON[p['status']]} <code>{html.escape(_visible(name))}</code> · {' · '.join(tags)}"
    summary += f" · {', '.join(kinds)}" if kinds and p["status"] != "added" else ""
    body = [f"risk {_md_text(p['risk'])}" + (f" · owner {_md_code(p['owner'])}" if p["owner"] else "")]
    if p["status"] in ("added", "removed"):
        return _details(summary, [*body, "", *_md_changes(p["changes"], lambda c: True)])
    listed = _md_changes(p["changes"], lambda c: c["kind"] not in ("template",))
    body += ["", *listed] if listed else []
    if p["template_diff"]:
        body += ["", "**Template**", "", _md_block(p["template_diff"])]
    if p["rendered_cases"]:
        body += ["", f"**Rendered**: {len(p['rendered'])} of {count(p['rendered_cases'], 'eval case')} changed"]
        for names, case in _groups(p["rendered"]):
            shown = ", ".join(_md_code(n) for n in names[:5]) + (
                f" and {len(names) - 5} more" if len(names) > 5 else ""
            )
            body += ["", shown, "", _md_block("\n".join(_case_lines(case)))]
    return _details(summary, body)


def _md_partial(part: Mapping[str, Any]) -> str:
    reach = _md_list([_md_code(p) for p in part["reaches"]]) or "no prompt"
    name = html.escape(_visible(part["name"]))
    reaches = count(len(part["reaches"]), "prompt")
    summary = f"{ICON[part['status']]} <code>{name}</code> · {part['status']} · reaches {reaches}"
    body = [f"Reaches: {reach}"] + (["", _md_block(part["diff"])] if part["diff"] else [])
    return _details(summary, body)


def _md_routing(doc: Doc) -> str:
    summary = f"⚙️ routing · {count(len(doc['routing']), 'edit')} (the effect on each prompt is under Prompts)"
    return _details(summary, _md_changes(doc["routing"], lambda c: True))


def _md_suite(s: Mapping[str, Any]) -> str:
    name = f"{s['old_id']} → {s['id']}" if s["old_id"] else s["id"]
    tags = [s["status"]] + ["⚠️ <b>weakened gate</b>"] * s["weakened"]
    summary = f"{ICON[s['status']]} <code>{html.escape(_visible(name))}</code> · {' · '.join(tags)}"
    body = [f"prompt {_md_code(s['prompt'])}", ""]
    body += _md_changes(s["changes"], lambda c: True)
    for case in s["cases"]:
        if case["status"] == "modified":
            body.append(f"- case {_md_code(case['id'])}:")
            body += ["  " + line for line in _md_changes(case["changes"], lambda c: True)]
        else:
            weakened = " (**weakened gate**)" if case["status"] == "removed" else ""
            body.append(f"- case {_md_code(case['id'])} {case['status']}{weakened}")
    return _details(summary, body)


def _md_eval(doc: Doc) -> list[str]:
    ev = doc.get("eval")
    if ev is None:
        return []
    if ev["skipped"]:
        return [f"_{_md_text(ev['skipped'])}_"]
    lines = ["| suite | base | head | threshold | gate | changes |", "|---|---:|---:|---:|---|---|"]
    for s in ev["suites"]:
        classes = ", ".join(f"{s['classes'][k]} {k}" for k in EVAL_CLASSES if s["classes"].get(k))
        gate = "✅ pass" if s["gate_passed"] else "❌ fail"
        lines.append(
            f"| {_md_code(s['suite'])} | {percent(s['base_pass_rate'])} | {percent(s['head_pass_rate'])} | "
            f"{percent(s['threshold'])} | {gate} | {_md_text(classes)} |"
        )
    notes = []
    if ev["errors"]:
        notes.append(f"⚠️ {count(ev['errors'], 'case')} ended in error")
    if ev["interrupted"]:
        notes.append("⚠️ interrupted: the results are partial")
    blocks = ["\n".join(lines + (["", *notes] if notes else []))]
    for c in ev["cases"]:
        target = c["model"] if c["variant"] == "primary" else f"{c['model']}/{c['variant']}"
        icon = {"regressed": "🔻", "fixed": "✅", "flaky": "🎲"}.get(c["change"], "•")
        summary = (
            f"{icon} {html.escape(c['change'])} <code>{html.escape(_visible(c['suite'] + ' / ' + c['case']))}</code> "
            f"{_md_text(target)}: {c['base_verdict'] or '-'} → {c['head_verdict'] or '-'}"
        )
        body = [f"Error: {_md_text(c['error'])}", ""] if c["error"] else []
        body += (
            ["Output diff (base → head):", "", _md_block(c["output_diff"])] if c["output_diff"] else ["Same output."]
        )
        blocks.append(_details(summary, body))
    return blocks


# -- JSON ----------------------------------------------------------------------------------------------------


def to_json(doc: Doc) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)


def summary_line(doc: Doc) -> str:
    """One line for stderr when the report goes to a file or a pipe."""
    if not doc["summary"]["changed"]:
        return f"no changes between {doc['base']} and {doc['head']}"
    return _head_line(doc)
