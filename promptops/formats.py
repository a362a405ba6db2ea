"""Reading one managed file: bytes to text within a size, strict JSON, safe YAML with line marks, and
validation against a published JSON Schema with the first error at its file:line. The loader and the dataset
reader build on it."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from . import __version__, validation, yamltext
from .config_model import FORMAT_VERSION
from .errors import InputError
from .redaction import scrub
from .wording import count
from .workspace import Source

MAX_FILE_BYTES = 1024 * 1024


@cache
def schema(name: str) -> dict[str, Any]:
    """A published JSON Schema, from the package data."""
    try:
        text = resources.files("promptops.schemas").joinpath(f"{name}.json").read_text("utf-8")
    except FileNotFoundError:
        raise InputError(f"no schema named {name!r}", hint=f"known schemas: {', '.join(schema_names())}") from None
    data: dict[str, Any] = json.loads(text)
    return data


def schema_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("promptops.schemas").iterdir() if p.name.endswith(".json"))


@cache
def _validator(name: str) -> Any:
    return validation.validator(schema(name))


@cache
def _fast(name: str) -> validation.Check | None:
    return validation.fast_check(schema(name))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (numbers must be finite)")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value


def parse_json(text: str) -> Any:
    """Strict JSON: NaN, Infinity and numbers too large for a float are refused (ValueError)."""
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite)


def decode(data: bytes, file: str, limit: int = MAX_FILE_BYTES) -> str:
    """Bytes -> text, refusing huge, empty and non-UTF-8 files with a clear error."""
    if len(data) > limit:
        raise InputError(
            f"file is {len(data) / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB",
            file=file,
            line=1,
            hint="managed files are meant to be reviewed; split the file or move data to a dataset",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"file is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            file=file,
            line=line,
            hint="re-save the file as UTF-8",
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise InputError("file is empty", file=file, line=1, hint="add content or delete the file")
    return text


def validate(name: str, data: Any, file: str, lines: dict[yamltext.Path, int]) -> None:
    """Check data against a published schema; the first error (in file order) is raised with its line.

    A compiled fast check passes the common case; jsonschema (imported on first need) finds and words errors."""
    fast = _fast(name)
    if fast is not None and fast(data):
        return
    errors = list(_validator(name).iter_errors(data))
    if not errors:
        return
    located = sorted({found for e in errors for found in _locate(e, lines)})
    line, message = located[0]
    more = f" (and {count(len(located) - 1, 'more problem')})" if len(located) > 1 else ""
    raise SchemaProblems(
        scrub(message) + more,
        file=file,
        line=line,
        hint=f"see `promptops schema {name}` for the expected format",
        problems=tuple((n, scrub(m)) for n, m in located),
    )


class SchemaProblems(InputError):
    """A file that does not fit its schema: the first problem as the message, and every one in `problems`
    ((line, message) in file order), so lint can show them all."""

    def __init__(self, message: str, *, file: str, line: int, hint: str, problems: tuple[tuple[int, str], ...]) -> None:
        super().__init__(message, file=file, line=line, hint=hint)
        self.problems = problems


def _locate(error: Any, lines: dict[yamltext.Path, int]) -> list[tuple[int, str]]:
    """(line, message) of one schema error; an unknown-keys error gives one per unknown key."""
    path = tuple(error.absolute_path)
    where = ".".join(str(p) for p in path) or "top level"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {})
        extra = [k for k in error.instance if k not in known]
        expected = ", ".join(sorted(known)) or "nothing"
        if extra:
            return [
                (yamltext.line_for(lines, (*path, key)), f"{where}: unknown key {key!r} (expected one of: {expected})")
                for key in extra
            ]
    if error.validator == "type":
        expected = f"expected {error.validator_value}, got {kind_of(error.instance)}"
        return [(yamltext.line_for(lines, path), f"{where}: {expected}")]
    return [(yamltext.line_for(lines, path), f"{where}: {error.message}")]


def kind_of(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


def load_yaml(source: Source, path: str, schema_name: str) -> tuple[dict[str, Any], dict[yamltext.Path, int]]:
    raw = source.read(path)
    if raw is None:
        raise InputError("file not found", file=path)
    data, lines = yamltext.parse(decode(raw, path), path)
    if not isinstance(data, dict):
        raise InputError(
            f"expected a mapping at the top level, got {kind_of(data)}",
            file=path,
            line=1,
            hint=f"see `promptops schema {schema_name}`",
        )
    passed = _passed(schema_name)
    if not yamltext.vouched(data, passed):  # a long file's kept parse that passed this very schema before
        validate(schema_name, data, path, lines)
        yamltext.vouch(data, passed)
    check_version(data, path, lines)
    return data, lines


@cache
def _passed(name: str) -> str:
    """What a kept parse that passed the schema `name` notes: the schema's digest and promptops' version (which
    names the checking code), so that another schema or version checks the data again."""
    import hashlib

    text = resources.files("promptops.schemas").joinpath(f"{name}.json").read_bytes()
    return f"schema {name} {hashlib.sha256(text).hexdigest()[:32]} promptops {__version__}"


def check_version(data: Mapping[str, Any], path: str, lines: dict[yamltext.Path, int]) -> None:
    version = data.get("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise InputError(
            f"format_version {version} is not supported (this promptops reads {FORMAT_VERSION})",
            file=path,
            line=yamltext.line_for(lines, ("format_version",)),
            hint="upgrade promptops",
        )


def flat_lines(lines: dict[yamltext.Path, int]) -> dict[str, int]:
    """{key path joined with dots: line}, for messages that point at a nested key."""
    return {".".join(str(k) for k in p): n for p, n in lines.items() if p}
