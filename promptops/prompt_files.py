"""Prompt files: frontmatter split from the template, the prompt parsed and its input and output schemas
checked, and the prompt id of a path (extension dropped; a `_` name is a partial)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from . import validation, yamltext
from .errors import InputError
from .formats import (
    check_version,
    flat_lines,
    kind_of,
    validate,
)
from .model import (
    ROLES,
    Prompt,
)

MESSAGES_EXTENSIONS = (".json", ".yaml", ".yml")  # a chat: a list of {role, content}, or {messages, ...fields}
PROMPT_EXTENSIONS = (".prompt", ".txt", ".md", ".j2", ".jinja", ".jinja2", *MESSAGES_EXTENSIONS)
FRONTMATTER_EXTENSIONS = (".prompt",)


def can_declare(prompt: Prompt) -> bool:
    """Whether the prompt's file can declare inputs: a .prompt file, or a messages file in its mapping form."""
    mapping_form = prompt.path.endswith(MESSAGES_EXTENSIONS) and "messages" in prompt.lines
    return prompt.path.endswith(FRONTMATTER_EXTENSIONS) or mapping_form


_FENCE = re.compile(r"^---[ \t]*\r?$", re.MULTILINE)


def split_frontmatter(text: str, file: str) -> tuple[str | None, str, int]:
    """(frontmatter text or None, body, line of the body's first line)."""
    if not text.startswith("---") or not _FENCE.match(text):
        return None, text, 1
    first_nl = text.find("\n")
    if first_nl < 0:
        raise InputError(
            "frontmatter opened with --- but never closed",
            file=file,
            line=1,
            hint="end the frontmatter with a line holding only ---",
        )
    closing = _FENCE.search(text, first_nl + 1)
    if closing is None:
        raise InputError(
            "frontmatter opened with --- but never closed",
            file=file,
            line=1,
            hint="end the frontmatter with a line holding only ---",
        )
    front = text[first_nl + 1 : closing.start()]
    rest_start = text.find("\n", closing.end())
    body = "" if rest_start < 0 else text[rest_start + 1 :]
    body_line = text.count("\n", 0, rest_start + 1) + 1 if rest_start >= 0 else text.count("\n") + 2
    return front, body, body_line


def parse_prompt(prompt_id: str, path: str, text: str) -> Prompt:
    front: dict[str, Any] = {}
    lines: dict[yamltext.Path, int] = {}
    body, body_line = text, 1
    if path.endswith(MESSAGES_EXTENSIONS):
        front, body, lines = _messages_file(text, path)
    elif path.endswith(FRONTMATTER_EXTENSIONS):
        front_text, body, body_line = split_frontmatter(text, path)
        if front_text is not None and front_text.strip():
            data, lines = yamltext.parse(front_text, path, first_line=2)
            if data is not None:
                if not isinstance(data, dict):
                    raise InputError(f"frontmatter must be a mapping, got {kind_of(data)}", file=path, line=2)
                validate("prompt", data, path, lines)
                check_version(data, path, lines)
                front = data
    if not body.strip():
        raise InputError(
            "prompt has no body", file=path, line=body_line, hint="write the template after the frontmatter"
        )
    _check_inputs(front, path, lines)
    return Prompt(
        id=prompt_id,
        path=path,
        body=body,
        body_line=body_line,
        description=front.get("description", ""),
        owner=front.get("owner", ""),
        risk=front.get("risk", "low"),
        tags=tuple(front.get("tags", ())),
        inputs=front.get("inputs", {}),
        required=tuple(front["required"]) if "required" in front else None,
        output=front.get("output"),
        sources=tuple(front.get("sources", ())),
        fallback=front.get("fallback"),
        params=front.get("params", {}),
        lines=flat_lines(lines),
    )


def _messages_file(text: str, path: str) -> tuple[dict[str, Any], str, dict[yamltext.Path, int]]:
    """A messages file: (its frontmatter fields, the body written with role markers, line marks)."""
    data, lines = yamltext.parse(text, path)  # JSON is YAML; one safe loader for both
    front: dict[str, Any] = {}
    messages = data
    if isinstance(data, dict):
        front = {k: v for k, v in data.items() if k != "messages"}
        messages = data.get("messages")
        validate("prompt", front, path, lines)
        check_version(front, path, lines)
    if not isinstance(messages, list) or not messages:
        raise InputError(
            "a messages file holds a non-empty list of {role, content}, or a mapping with `messages:`",
            file=path,
            line=1,
            hint="e.g. [{role: system, content: ...}, {role: user, content: '{{ question }}'}]; a file that is "
            "included rather than a prompt is a partial: start its name with _",
        )
    at = ("messages",) if isinstance(data, dict) else ()
    parts = []
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if role not in ROLES or not isinstance(content, str) or set(message) - {"role", "content"}:
            raise InputError(
                f"message {i + 1} must be {{role, content}} with a role of {', '.join(ROLES)} and text content",
                file=path,
                line=yamltext.line_for(lines, (*at, i)),
                hint="multi-part contents (images, tool calls) are not supported; write the text as content",
            )
        parts.append(f"{role}:\n{content.rstrip()}\n")
    return front, "".join(parts), lines


def _check_inputs(front: Mapping[str, Any], path: str, lines: dict[yamltext.Path, int]) -> None:
    for key, value in [
        *((("inputs", k), v) for k, v in front.get("inputs", {}).items()),
        *([(("output",), front["output"])] if "output" in front else []),
    ]:
        problem = validation.schema_problem(value)
        if problem is not None:
            raise InputError(
                f"{'.'.join(key)} is not a valid JSON Schema: {problem}",
                file=path,
                line=yamltext.line_for(lines, key),
            ) from None
    undeclared = [r for r in front.get("required", []) if r not in front.get("inputs", {})]
    if undeclared:
        raise InputError(
            f"required names {undeclared[0]!r}, which is not declared under inputs",
            file=path,
            line=yamltext.line_for(lines, ("required",)),
            hint="declare it under inputs or remove it",
        )


def prompt_id_of(rel: str) -> str:
    """prompts-relative path -> prompt id (extension dropped)."""
    for ext in PROMPT_EXTENSIONS:
        if rel.endswith(ext):
            return rel[: -len(ext)]
    return rel


def is_partial(rel: str) -> bool:
    return PurePosixPath(rel).name.startswith("_")
