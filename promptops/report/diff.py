"""The diff document (schemas/diff.json) as JSON, as text for a terminal, as Markdown for a PR comment and as a
self-contained HTML page (diff_html.py).

The writers read the document `promptops.diff.as_dict` builds, so the three formats cannot disagree.
Everything a change brings in (template text, rendered messages, model outputs) is untrusted: control
characters are shown as `\\xNN`, Markdown puts it in fences longer than any backtick run it holds.

This module is the door (and the JSON writer); the text and Markdown writers are diff_text.py and
diff_markdown.py, and how one change reads in either is diff_wording.py.
"""

from __future__ import annotations

import json

from .diff_wording import MARKER, Doc, describe, head_line

__all__ = ["MARKER", "describe", "summary_line", "to_html", "to_json", "to_markdown", "to_text"]

# Each writer is imported when its format is asked for: `diff --format json` loads neither the HTML page nor
# the Markdown writer.


def to_text(doc: Doc) -> str:
    from .diff_text import to_text as write

    return write(doc)


def to_markdown(doc: Doc, limit: int | None = None) -> str:
    """Markdown for a PR comment, cut to `limit` characters (default: the writer's MARKDOWN_LIMIT)."""
    from .diff_markdown import to_markdown as write

    return write(doc) if limit is None else write(doc, limit=limit)


def to_html(doc: Doc) -> str:
    from .diff_html import to_html as write

    return write(doc)


def to_json(doc: Doc) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)


def summary_line(doc: Doc) -> str:
    """One line for stderr when the report goes to a file or a pipe."""
    if not doc["summary"]["changed"]:
        return f"no changes between {doc['base']} and {doc['head']}"
    return head_line(doc)
