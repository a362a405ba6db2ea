"""The diff document as Markdown for a pull request comment, cut to fit GitHub's limit."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..wording import count, percent
from .diff_wording import (
    BLOCK_CHARS,
    EVAL_CLASSES,
    ICON,
    LISTED,
    MARKDOWN_LIMIT,
    MARKER,
    Doc,
    case_lines,
    describe,
    eval_target,
    groups,
    head_line,
    problem_at,
    visible,
)


def _md_text(text: str) -> str:
    """Free text on one line, inert: no HTML, no table breaks."""
    return html.escape(" ".join(visible(text).split()), quote=False).replace("|", "\\|")


def _md_code(text: str) -> str:
    text = " ".join(visible(text).split())
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    code = f"{fence} {text} {fence}" if len(fence) > 1 or text.startswith("`") else f"`{text}`"
    return code.replace("|", "\\|")


def _md_block(text: str, lang: str = "diff") -> str:
    text = visible(text)
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
        title = f"## promptops diff: {_md_text(head_line(doc).split(', version bump')[0])}{bump}"
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
        shown = doc["problems"][:LISTED]
        lines += [f"- {p['side']}: {_md_code(problem_at(p))}: {_md_text(p['message'])}" for p in shown]
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
    summary = f"{ICON[p['status']]} <code>{html.escape(visible(name))}</code> · {' · '.join(tags)}"
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
        for names, case in groups(p["rendered"]):
            shown = ", ".join(_md_code(n) for n in names[:5]) + (
                f" and {len(names) - 5} more" if len(names) > 5 else ""
            )
            body += ["", shown, "", _md_block("\n".join(case_lines(case)))]
    return _details(summary, body)


def _md_partial(part: Mapping[str, Any]) -> str:
    reach = _md_list([_md_code(p) for p in part["reaches"]]) or "no prompt"
    name = html.escape(visible(part["name"]))
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
    summary = f"{ICON[s['status']]} <code>{html.escape(visible(name))}</code> · {' · '.join(tags)}"
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
        gate = "⚠️ incomplete" if s.get("gate") == "incomplete" else "✅ pass" if s["gate_passed"] else "❌ fail"
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
        target = eval_target(c)
        icon = {"regressed": "🔻", "fixed": "✅", "flaky": "🎲"}.get(c["change"], "•")
        summary = (
            f"{icon} {html.escape(c['change'])} <code>{html.escape(visible(c['suite'] + ' / ' + c['case']))}</code> "
            f"{_md_text(target)}: {c['base_verdict'] or '-'} → {c['head_verdict'] or '-'}"
        )
        body = [f"Error: {_md_code(c['error'])}", ""] if c["error"] else []
        body += (
            ["Output diff (base → head):", "", _md_block(c["output_diff"])] if c["output_diff"] else ["Same output."]
        )
        blocks.append(_details(summary, body))
    return blocks
