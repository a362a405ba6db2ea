"""Lint findings as text, JSON, GitHub annotations and SARIF 2.1.0."""

from __future__ import annotations

import json
from collections.abc import Sequence

from .. import __version__
from ..model import Finding
from ..wording import count

FORMATS = ("text", "json", "github", "sarif")


def summary(findings: Sequence[Finding]) -> str:
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    return f"{count(errors, 'error')}, {count(warnings, 'warning')}"


def to_text(findings: Sequence[Finding]) -> str:
    lines = []
    for f in findings:
        where = f"{f.where}: " if f.where else ""
        lines.append(f"{where}{f.severity}: {f.message} [{f.rule}]")
        if f.hint:
            lines.append(f"  hint: {f.hint}")
    return "\n".join(lines)


def to_json(findings: Sequence[Finding]) -> str:
    return json.dumps(
        {
            "findings": [
                {
                    "rule": f.rule,
                    "severity": f.severity,
                    "message": f.message,
                    "file": f.file,
                    "line": f.line or None,
                    "hint": f.hint or None,
                }
                for f in findings
            ],
            "errors": sum(f.severity == "error" for f in findings),
            "warnings": sum(f.severity == "warning" for f in findings),
        },
        indent=2,
    )


def workflow_escape(value: str, prop: bool = False) -> str:
    """Escaping for GitHub Actions workflow commands (`::error file=...::message`)."""
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if prop else value


def to_github(findings: Sequence[Finding], prefix: str = "") -> str:
    """Workflow commands that GitHub Actions shows as annotations on the pull request."""
    lines = []
    for f in findings:
        props = [f"file={workflow_escape(prefix + f.file, True)}"] if f.file else []
        if f.line:
            props.append(f"line={f.line}")
        props.append(f"title={workflow_escape('promptops ' + f.rule, True)}")
        message = f.message + (f" ({f.hint})" if f.hint else "")
        lines.append(f"::{f.severity} {','.join(props)}::{workflow_escape(message)}")
    return "\n".join(lines)


HELP_URI = "https://github.com/promptops/promptops#lint-rules"
# GitHub code scanning ranks security results by this CVSS-like score (9.0 and up: critical).
SECURITY = {"literal-secret": {"security-severity": "9.0", "tags": ["security", "external/cwe/cwe-798"]}}


def sarif_uri(path: str) -> str:
    """A repository-relative path as a SARIF `uri` (an RFC 3986 reference): spaces, `#`, `%`, `?` and non-ASCII
    characters percent-encoded (UTF-8), slashes kept."""
    from urllib.parse import quote

    return quote(path, safe="/")


def sarif_rule(rule: str, description: str) -> dict[str, object]:
    text = description[:1].upper() + description[1:] if description else rule
    return {
        "id": rule,
        "name": "".join(part.capitalize() for part in rule.split("-")),
        "shortDescription": {"text": text},
        "fullDescription": {"text": f"promptops lint rule {rule}: {description or rule}."},
        "help": {
            "text": f"{text}. `promptops lint` prints the file, line and fix of each finding; the lint rules "
            "table of the README describes every rule.",
            "markdown": f"**{rule}**: {text}. Run `promptops lint` for the file, line and fix of each finding; "
            f"see [the lint rules]({HELP_URI}).",
        },
        "helpUri": HELP_URI,
        "properties": {"tags": ["promptops"], **SECURITY.get(rule, {})},
    }


def to_sarif(findings: Sequence[Finding], rules: Sequence[tuple[str, str]] = (), prefix: str = "") -> str:
    """SARIF 2.1.0, for code-scanning uploads; `prefix` makes paths relative to the repository root."""
    rule_ids = sorted({f.rule for f in findings} | {r for r, _ in rules})
    descriptions = dict(rules)
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "promptops",
                        "version": __version__,
                        "informationUri": "https://github.com/promptops/promptops",
                        "rules": [sarif_rule(r, descriptions.get(r, "")) for r in rule_ids],
                    }
                },
                "results": [_sarif_result(f, prefix) for f in findings],
            }
        ],
    }
    return json.dumps(doc, indent=2)


def _sarif_result(f: Finding, prefix: str) -> dict[str, object]:
    result: dict[str, object] = {
        "ruleId": f.rule,
        "level": f.severity,
        "message": {"text": f.message + (f"\n{f.hint}" if f.hint else "")},
    }
    if f.file:
        location: dict[str, object] = {"artifactLocation": {"uri": sarif_uri(prefix + f.file)}}
        if f.line:
            location["region"] = {"startLine": f.line}
        result["locations"] = [{"physicalLocation": location}]
    return result
