"""Detectors for secrets and personal data. Pure functions over text; stdlib only."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Detector:
    name: str
    label: str
    pattern: re.Pattern[str]


SECRET_DETECTORS = (
    Detector(
        "openai-key", "an OpenAI-style API key (sk-...)", re.compile(r"\bsk-(?:proj-|svcacct-|ant-)?[A-Za-z0-9_-]{20,}")
    ),
    Detector("aws-key", "an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    Detector(
        "github-token", "a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})")
    ),
    Detector("google-key", "a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    Detector("slack-token", "a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    Detector("private-key", "a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    Detector("bearer", "a bearer token", re.compile(r"\bBearer\s+[A-Za-z0-9._~+/-]{20,}=*")),
    Detector(
        "assigned-secret",
        "a literal secret assigned to a key",
        re.compile(
            r"(?i)\b(?:api[_-]?key|secret|token|password|passwd)\b[\"']?\s*[:=]\s*[\"']?"
            r"(?=[A-Za-z0-9_\-./+]*\d)(?=[A-Za-z0-9_\-./+]*[A-Za-z])[A-Za-z0-9_\-./+]{16,}"
        ),
    ),
)

PII_DETECTORS = (
    Detector("email", "an email address", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")),
    Detector("card", "a payment card number", re.compile(r"\b(?:\d[ -]?){12,18}\d\b")),
)


@dataclass(frozen=True)
class Hit:
    detector: Detector
    line: int
    start: int
    end: int


def find_secrets(text: str) -> list[Hit]:
    """Every secret-looking span, with its 1-based line. The matched text itself is never reported."""
    hits = []
    for detector in SECRET_DETECTORS:
        for match in detector.pattern.finditer(text):
            hits.append(Hit(detector, text.count("\n", 0, match.start()) + 1, match.start(), match.end()))
    return sorted(hits, key=lambda h: (h.start, h.detector.name))


def redact_secrets(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Text with known secret values and anything that looks like a key replaced (personal data kept)."""
    for value in secrets:
        if value:
            text = text.replace(value, "[REDACTED:secret]")
    for detector in SECRET_DETECTORS:
        text = detector.pattern.sub(f"[REDACTED:{detector.name}]", text)
    return text


def redact(text: str, extra: tuple[re.Pattern[str], ...] = (), secrets: tuple[str, ...] = ()) -> str:
    """Text with secrets, known secret values, and personal data replaced by [REDACTED:kind]."""
    for value in secrets:
        if value:
            text = text.replace(value, "[REDACTED:secret]")
    for detector in (*SECRET_DETECTORS, *PII_DETECTORS):
        text = detector.pattern.sub(f"[REDACTED:{detector.name}]", text)
    for pattern in extra:
        text = pattern.sub("[REDACTED:pattern]", text)
    return text
