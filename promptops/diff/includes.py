"""Which templates a template includes, read from its text without Jinja.

Both the comparison (which prompts a changed partial reaches) and the scoped loading (which files a change
can reach) ask this, so they agree on what "affected" means.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

_STATEMENT = re.compile(r"\{%[-+]?\s*(?:include|import|from|extends)\b(.*?)[-+]?%\}", re.S)
_LITERAL = re.compile(
    r"""\s*(["'])([^"'\\]*)\1(?:\s+(?:ignore\s+missing|with\s+context|without\s+context|import\b.*|as\b.*))*\s*""",
    re.S,
)


def template_refs(text: str) -> tuple[set[str], bool]:
    """(literal template names a template includes or imports, whether it has a non-literal one).

    A superset of what Jinja resolves (an include inside a comment counts), so it can only over-select.
    """
    names: set[str] = set()
    dynamic = False
    for match in _STATEMENT.finditer(text):
        literal = _LITERAL.fullmatch(match.group(1))
        if literal:
            names.add(literal.group(2))
        else:
            dynamic = True
    return names, dynamic


def reaching(texts: Mapping[str, str], targets: Collection[str]) -> set[str]:
    """Templates that may include one of `targets`, directly or through others (targets excluded)."""
    refs = {name: template_refs(text) for name, text in texts.items()}
    found: set[str] = set()
    frontier = set(targets)
    while frontier:
        new = {n for n, (names, dyn) in refs.items() if n not in found and (dyn or names & frontier)}
        new -= set(targets)
        found |= new
        frontier = new
    return found
