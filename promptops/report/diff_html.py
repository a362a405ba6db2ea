"""The diff document as one self-contained HTML page: the summary, the paired eval (base and head verdicts,
classification, output diff) with filters, then every prompt, partial, routing edit and suite change."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..wording import percent
from .diff_wording import EVAL_CLASSES, Doc, case_lines, describe, groups, head_line, problem_at
from .html_page import esc, filter_bar, page, pre, table


def to_html(doc: Doc) -> str:
    body = [_summary(doc), *_eval(doc)]
    for title, items in (
        ("Prompts", [_prompt(p) for p in doc["prompts"]]),
        ("Partials", [_partial(p) for p in doc["partials"]]),
        ("Routing", ["<ul>" + "".join(f"<li>{esc(describe(c))}</li>" for c in doc["routing"]) + "</ul>"]
         if doc["routing"] else []),
        ("Eval suites", [_suite(s) for s in doc["suites"]]),
    ):  # fmt: skip
        if items:
            body += [f"<h2>{esc(title)}</h2>", *items]
    return page(f"promptops diff {doc['base']} → {doc['head']}", "\n".join(body), filters=doc.get("eval") is not None)


def _summary(doc: Doc) -> str:
    s = doc["summary"]
    title = esc(head_line(doc)) if s["changed"] else "no changes"
    c = s["prompts"]
    rows = [
        ["behaviour-affecting prompts", esc(str(len(s["behaviour_affecting"])))],
        ["prompts added · removed · renamed · modified",
         esc(f"{c['added']} · {c['removed']} · {c['renamed']} · {c['modified']}")],
        ["partials · routing edits · eval suites", esc(f"{s['partials']} · {s['routing']} · {s['suites']}")],
        ["breaking changes · weakened gates", esc(f"{len(s['breaking'])} · {len(s['weakened_gates'])}")],
    ]  # fmt: skip
    parts = [
        f"<h1>promptops diff: {title}</h1>",
        f'<p class="facts"><span><code>{esc(doc["base"])}</code> → <code>{esc(doc["head"])}</code></span></p>',
        table(["", ""], [[esc(a), esc(b)] for a, b in rows], frozenset({1})),
    ]
    for label, items in (("Breaking: needs a major version", s["breaking"]), ("Weakened gates", s["weakened_gates"])):
        if items:
            lis = "".join(f"<li><code>{esc(i['subject'])}</code>: {esc(i['reason'])}</li>" for i in items)
            parts.append(f'<p class="fail">{esc(label)}</p><ul>{lis}</ul>')
    if s["high_risk"]:
        parts.append(f'<p class="fail">High-risk prompts changed: {esc(", ".join(s["high_risk"]))}</p>')
    if doc["problems"]:
        lis = "".join(
            f"<li>{esc(p['side'])}: <code>{esc(problem_at(p))}</code>: {esc(p['message'])}</li>"
            for p in doc["problems"]
        )
        parts.append(f"<p>Failed to load (not compared):</p><ul>{lis}</ul>")
    return "\n".join(parts)


def _eval(doc: Doc) -> list[str]:
    ev = doc.get("eval")
    if ev is None:
        return []
    if ev["skipped"]:
        return ["<h2>Eval: paired baseline</h2>", f"<p>{esc(ev['skipped'])}</p>"]
    rows = []
    for s in ev["suites"]:
        classes = ", ".join(f"{s['classes'][k]} {k}" for k in EVAL_CLASSES if s["classes"].get(k))
        gate = '<span class="pass">pass</span>' if s["gate_passed"] else '<span class="fail">fail</span>'
        rows.append(
            [f"<code>{esc(s['suite'])}</code>", esc(percent(s["base_pass_rate"])), esc(percent(s["head_pass_rate"])),
             esc(percent(s["threshold"])), gate, esc(classes)]
        )  # fmt: skip
    notes = [f'<p class="error">{esc(ev["errors"])} cases ended in error</p>'] if ev["errors"] else []
    notes += ['<p class="error">interrupted: the results are partial</p>'] if ev["interrupted"] else []
    cases = [_eval_case(c) for c in ev["cases"]]
    return [
        "<h2>Eval: paired baseline</h2>",
        table(["suite", "base", "head", "threshold", "gate", "changes"], rows, frozenset({1, 2, 3})),
        *notes,
        f"<h3>Cases ({len(cases)})</h3>",
        filter_bar(len(cases)),
        *cases,
    ]


def _eval_case(c: Mapping[str, Any]) -> str:
    target = c["model"] if c["variant"] == "primary" else f"{c['model']}/{c['variant']}"
    verdict = c["head_verdict"] or "removed"
    attrs = (
        f'data-case="{esc(c["suite"])} / {esc(c["case"])}" data-verdict="{esc(verdict)}" '
        f'data-baseline="{esc(c["change"])}" data-flaky="{"true" if c["change"] == "flaky" else "false"}"'
    )
    summary = (
        f"<summary><code>{esc(c['suite'])} / {esc(c['case'])}</code> [{esc(target)}] "
        f'<span class="tag {esc(c["change"])}">{esc(c["change"])}</span> '
        f"{esc(c['base_verdict'] or '-')} → {esc(c['head_verdict'] or '-')}</summary>"
    )
    body = [f"<p>error:</p>{pre(c['error'])}"] if c["error"] else []
    body += (
        [f"<p>Output diff (base → head):</p>{pre(c['output_diff'])}"] if c["output_diff"] else ["<p>Same output.</p>"]
    )
    return f'<details class="case" {attrs}>{summary}\n' + "\n".join(body) + "\n</details>"


def _prompt(p: Mapping[str, Any]) -> str:
    name = f"{p['old_id']} → {p['id']}" if p["old_id"] else p["id"]
    tags = [p["status"]] + ["behaviour-affecting"] * p["behaviour"] + ["breaking"] * p["breaking"]
    tags += ["high risk"] * p["high_risk"]
    body = [f"<p>risk {esc(p['risk'])}" + (f" · owner <code>{esc(p['owner'])}</code>" if p["owner"] else "") + "</p>"]
    changes = [c for c in p["changes"] if c["kind"] != "template" or p["status"] in ("added", "removed")]
    body += ["<ul>" + "".join(f"<li>{esc(describe(c))}</li>" for c in changes) + "</ul>"] if changes else []
    if p["template_diff"]:
        body += ["<h4>Template</h4>", pre(p["template_diff"])]
    for names, case in groups(p["rendered"]):
        body += [f"<h4>Rendered: {esc(', '.join(names))}</h4>", pre("\n".join(case_lines(case)))]
    return _details(name, tags, body)


def _partial(part: Mapping[str, Any]) -> str:
    body = [f"<p>Reaches: {esc(', '.join(part['reaches']) or 'no prompt')}</p>"]
    body += [pre(part["diff"])] if part["diff"] else []
    return _details(part["name"], [part["status"]], body)


def _suite(s: Mapping[str, Any]) -> str:
    name = f"{s['old_id']} → {s['id']}" if s["old_id"] else s["id"]
    lines = [describe(c) for c in s["changes"]]
    for case in s["cases"]:
        if case["status"] == "modified":
            lines += [f"case {case['id']}: {describe(c)}" for c in case["changes"]]
        else:
            lines.append(f"case {case['id']} {case['status']}")
    body = [f"<p>prompt <code>{esc(s['prompt'])}</code></p>"]
    body += ["<ul>" + "".join(f"<li>{esc(line)}</li>" for line in lines) + "</ul>"] if lines else []
    return _details(name, [s["status"]] + ["weakened gate"] * s["weakened"], body)


def _details(name: str, tags: list[str], body: list[str]) -> str:
    labels = " ".join(f'<span class="tag">{esc(t)}</span>' for t in tags)
    return (
        f'<details class="item"><summary><code>{esc(name)}</code> {labels}</summary>\n' + "\n".join(body) + "</details>"
    )
