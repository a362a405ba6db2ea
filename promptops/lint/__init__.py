"""Lint rules: (context) -> findings, listed in one table.

The rules live by subject: templates.py (files, templates, variables), routes.py, evals.py (suites and
coverage), repository.py (sources, secrets, change reasons read from git); context.py is what they share.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from .. import loader, yamltext
from ..errors import InputError
from ..model import Finding, Snapshot
from ..render import Renderer
from ..workspace import CONFIG_FILE, Source
from .context import Context, Rule, make_finding
from .evals import check_coverage, check_suites
from .repository import check_change_reason, check_secrets, check_sources
from .routes import check_routing
from .templates import check_files, check_templates, check_variables

__all__ = ["RULES", "RULE_DOCS", "Context", "Rule", "lint", "unknown_rule_ids"]

RULE_DOCS: dict[str, str] = {
    "invalid-file": "a file does not parse, does not fit its schema, is not UTF-8, is empty or too large",
    "unknown-file": "a file under prompts/ that is not a prompt",
    "duplicate-prompt": "two files give the same prompt id",
    "duplicate-case-id": "two cases of a suite share an id",
    "template-syntax": "a Jinja2 syntax error",
    "unknown-partial": "an include of a partial that does not exist",
    "include-cycle": "partials that include each other",
    "unsafe-template": "a name the sandbox refuses (self, cycler, joiner, namespace, lipsum)",
    "dynamic-include": "an include whose name is not a literal string",
    "unused-partial": "a partial no prompt includes",
    "undeclared-variable": "a variable used but not declared under inputs",
    "unused-input": "an input declared but never used",
    "fallback": "a fallback template that does not parse or uses undeclared inputs",
    "route-unknown-model": "routing names a model that is not declared under models",
    "route-unknown-prompt": "a route names no prompt, or a glob matches none",
    "unrouted-prompt": "no model serves a prompt",
    "missing-routing": "prompts exist and routing.yaml does not",
    "suite-unknown-prompt": "an eval suite targets a prompt that does not exist",
    "empty-suite": "an eval suite without cases",
    "unchecked-case": "an eval case with no assertion: eval reports it as unchecked, never as a pass",
    "case-vars": "eval case vars that do not fit the prompt's inputs",
    "imported-stub": "a python check or transform the import could not translate, not yet rewritten",
    "case-options": "a case's options name a model routing.yaml does not declare",
    "no-judge": "llm-rubric without a judge model",
    "assertion": "an assertion whose settings cannot work (a missing value, a bad regex, ...)",
    "no-output-schema": "json-schema assertion with no schema to use",
    "missing-evals": "a prompt without eval cases (an error for risk: high)",
    "high-risk-owner": "a high-risk prompt without an owner",
    "high-risk-fallback": "a high-risk prompt without a fallback",
    "missing-source": "a pinned source that matches no file",
    "ignored-source": "a pinned source, or a literal source() call, naming a file git ignores",
    "literal-secret": "an API key, token or private key in a managed file",
    "change-reason": "a commit since the last release that changes a high-risk prompt without a Change-Reason: "
    "trailer (off unless promptops.yaml turns it on)",
}

RULES: tuple[Rule, ...] = (
    Rule("invalid-file", "error", "a file does not parse or does not fit its schema", check_files),
    Rule("template", "error", "template syntax, unknown partials, include cycles, unsafe names", check_templates),
    Rule("variables", "error", "variables used but not declared; inputs declared but unused", check_variables),
    Rule("routing", "error", "routes naming unknown prompts or models; prompts no model serves", check_routing),
    Rule("suites", "error", "suites naming unknown prompts; case vars that do not fit the inputs", check_suites),
    Rule("coverage", "error", "prompts without evals; high-risk prompts without owner or fallback", check_coverage),
    Rule("sources", "error", "pinned sources that match no file or that git ignores", check_sources),
    Rule("secrets", "error", "literal secrets in any managed file", check_secrets),
    Rule("change-reason", "off", "high-risk prompt changes without a Change-Reason: trailer", check_change_reason),
)


def lint(source: Source, snapshot: Snapshot | None = None) -> list[Finding]:
    """Every finding for the project, in file and line order, with severities from promptops.yaml applied."""
    snap = snapshot or loader.load(source)
    ctx = Context(source=source, snapshot=snap, renderer=Renderer(snap))
    findings: list[Finding] = list(unknown_rule_ids(source, snap))
    for rule in RULES:
        if rule.severity == "off" and snap.config.lint_rules.get(rule.id, "off") == "off":
            continue  # opt-in: it runs (and may read git history) only when promptops.yaml turns it on
        try:
            findings.extend(rule.check(ctx))
        except InputError as exc:
            findings.append(make_finding("invalid-file", exc.message, exc.file or "", exc.line or 0, exc.hint or ""))
    out = []
    for finding in findings:
        level: Any = snap.config.lint_rules.get(finding.rule)
        if level == "off":
            continue
        out.append(replace(finding, severity=level) if level in ("error", "warning") else finding)
    return sorted(set(out), key=lambda f: (f.file, f.line, f.rule, f.message))


def unknown_rule_ids(source: Source, snap: Snapshot) -> Iterator[Finding]:
    """`lint: rules:` in promptops.yaml naming a rule that does not exist: the setting would silently do
    nothing (a misspelt `off` keeps the rule on), so it is an error naming the known ids."""
    known = sorted({*RULE_DOCS, *(r.id for r in RULES)})
    unknown = [name for name in snap.config.lint_rules if name not in known]
    if not unknown:
        return
    raw = source.read(snap.config.path or CONFIG_FILE) or b""
    _, lines = yamltext.parse(raw.decode("utf-8", "replace"), CONFIG_FILE)
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        yield make_finding(
            "invalid-file",
            f"lint.rules: unknown rule id {name!r}",
            CONFIG_FILE,
            yamltext.line_for(lines, ("lint", "rules", name)),
            (f"did you mean {close[0]!r}? " if close else "") + f"known rule ids: {', '.join(known)}",
        )
