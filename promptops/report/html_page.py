"""The shell every HTML report shares: one self-contained file, inline style and script, no network.

The page's Content-Security-Policy allows nothing but its own inline style and script (by hash) and data:
images, so a report opened from a CI artifact fetches nothing, and even text that got past escaping could
neither load a resource nor run a script. Every piece of text goes through `esc`: what a model wrote is shown
as text, never markup.
"""

from __future__ import annotations

import base64
import hashlib
import html

from .cases import visible

STYLE = """
:root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --line: #d0d7de; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem auto; max-width: 78rem; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h2 { font-size: 1.15rem; margin-top: 1.75rem; }
table { border-collapse: collapse; margin: .5rem 0; } th, td { border: 1px solid var(--line); padding: .2rem .5rem; }
th { text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: var(--ok); } .fail, .error, .regressed { color: var(--bad); } .flaky { color: var(--warn); }
.facts { color: #57606a; } .facts span + span::before { content: " · "; }
pre { white-space: pre-wrap; word-break: break-word; background: rgba(127,127,127,.1); padding: .5rem; }
details.case { border: 1px solid var(--line); border-radius: 6px; margin: .35rem 0; padding: .25rem .6rem; }
details > summary { cursor: pointer; }
.tag { font-size: .8rem; border: 1px solid; border-radius: 9px; padding: 0 .4rem; }
.filters label { margin-right: 1rem; } .role { font-weight: 600; text-transform: uppercase; font-size: .75rem; }
.check-fail { color: var(--bad); } .check-pass { color: var(--ok); } [hidden] { display: none !important; }
"""

# Filters: each radio button names the cases it keeps by their data-* attributes; the count follows.
SCRIPT = """
(function () {
  var cases = Array.prototype.slice.call(document.querySelectorAll("[data-case]"));
  var shown = document.getElementById("shown");
  function keep(el, filter) {
    if (filter === "failed") return el.dataset.verdict !== "pass";
    if (filter === "regressed") return el.dataset.baseline === "regressed";
    if (filter === "flaky") return el.dataset.flaky === "true";
    return true;
  }
  function apply(filter) {
    var n = 0;
    cases.forEach(function (el) { var k = keep(el, filter); el.hidden = !k; if (k) n += 1; });
    if (shown) shown.textContent = String(n);
  }
  Array.prototype.forEach.call(document.querySelectorAll("input[name=filter]"), function (input) {
    input.addEventListener("change", function () { if (input.checked) apply(input.value); });
  });
  apply("all");
})();
"""

FILTERS = (("all", "all"), ("failed", "failed or errored"), ("regressed", "regressed"), ("flaky", "flaky"))


def esc(text: object) -> str:
    """Any value as inert HTML text (attribute-safe): control characters shown as \\xNN."""
    return html.escape(visible(str(text)), quote=True)


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii") + "'"


def page(title: str, body: str, filters: bool) -> str:
    """A complete HTML document; with `filters`, the radio buttons and the script that applies them."""
    script = SCRIPT if filters else ""
    policy = f"default-src 'none'; style-src {_sha256(STYLE)}; img-src data:; base-uri 'none'; form-action 'none'"
    policy += f"; script-src {_sha256(script)}" if script else ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{esc(title)}</title>",
        '<link rel="icon" href="data:,">',
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        body,
        f"<script>{script}</script>" if script else "",
        "</body>",
        "</html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def filter_bar(total: int) -> str:
    buttons = "".join(
        f'<label><input type="radio" name="filter" value="{value}"{" checked" if value == "all" else ""}> '
        f"{esc(label)}</label>"
        for value, label in FILTERS
    )
    return (
        f'<p class="filters" role="group" aria-label="filter cases">Show: {buttons} '
        f'(<span id="shown">{total}</span> of <span data-count="listed">{total}</span> shown)</p>'
    )


def table(header: list[str], rows: list[list[str]], numeric: frozenset[int] = frozenset()) -> str:
    """Rows of already-escaped cells."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def pre(text: str) -> str:
    return f"<pre>{esc(text)}</pre>"
