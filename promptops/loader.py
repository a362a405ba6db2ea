"""Source -> Snapshot: every managed file read, validated against its schema, errors with file:line."""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import re
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources
from pathlib import PurePosixPath
from typing import Any

from . import redaction, validation, yamltext
from .errors import InputError
from .model import (
    FORMAT_VERSION,
    Assertion,
    AuditSettings,
    Case,
    Config,
    Finding,
    ModelSpec,
    Partial,
    Prompt,
    Route,
    Routing,
    Snapshot,
    Suite,
)
from .redaction import scrub
from .wording import count
from .workspace import CONFIG_FILE, Source

PROMPT_EXTENSIONS = (".prompt", ".txt", ".md", ".j2", ".jinja", ".jinja2")
FRONTMATTER_EXTENSIONS = (".prompt",)
SUITE_EXTENSIONS = (".yaml", ".yml")
RESERVED_EVAL_DIRS = ("data", "recordings", "overrides")
MAX_FILE_BYTES = 1024 * 1024
MAX_DATASET_BYTES = 64 * 1024 * 1024
SCHEMA_NAMES = ("prompt", "routing", "eval", "config")


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
    import jsonschema

    return validation.validator_class(jsonschema.Draft202012Validator)(schema(name))


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
    """Check data against a published schema; the first error (in file order) is raised with its line."""
    errors = list(_validator(name).iter_errors(data))
    if not errors:
        return
    located = sorted(((_locate(e, lines), e) for e in errors), key=lambda t: (t[0][0], t[0][1]))
    (line, message), _ = located[0]
    more = f" (and {count(len(errors) - 1, 'more problem')})" if len(errors) > 1 else ""
    raise InputError(
        scrub(message) + more,
        file=file,
        line=line,
        hint=f"see `promptops schema {name}` for the expected format",
    )


def _locate(error: Any, lines: dict[yamltext.Path, int]) -> tuple[int, str]:
    path = tuple(error.absolute_path)
    where = ".".join(str(p) for p in path) or "top level"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {})
        extra = [k for k in error.instance if k not in known]
        if extra:
            line = yamltext.line_for(lines, (*path, extra[0]))
            expected = ", ".join(sorted(known)) or "nothing"
            return line, f"{where}: unknown key {extra[0]!r} (expected one of: {expected})"
    if error.validator == "type":
        return yamltext.line_for(lines, path), f"{where}: expected {error.validator_value}, got {_kind(error.instance)}"
    return yamltext.line_for(lines, path), f"{where}: {error.message}"


def _kind(value: Any) -> str:
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
            f"expected a mapping at the top level, got {_kind(data)}",
            file=path,
            line=1,
            hint=f"see `promptops schema {schema_name}`",
        )
    validate(schema_name, data, path, lines)
    _check_version(data, path, lines)
    return data, lines


def _check_version(data: Mapping[str, Any], path: str, lines: dict[yamltext.Path, int]) -> None:
    version = data.get("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise InputError(
            f"format_version {version} is not supported (this promptops reads {FORMAT_VERSION})",
            file=path,
            line=yamltext.line_for(lines, ("format_version",)),
            hint="upgrade promptops",
        )


def _flat_lines(lines: dict[yamltext.Path, int]) -> dict[str, int]:
    """{key path joined with dots: line}, for messages that point at a nested key."""
    return {".".join(str(k) for k in p): n for p, n in lines.items() if p}


# -- promptops.yaml ------------------------------------------------------------------------------------------


def load_config(source: Source) -> Config:
    raw = source.read(CONFIG_FILE)
    if raw is None or (len(raw) < MAX_FILE_BYTES and not raw.strip()):
        return Config(path=CONFIG_FILE if raw is not None else "")
    data, lines = load_yaml(source, CONFIG_FILE, "config")
    paths = data.get("paths", {})
    redaction.Settings.from_config(data.get("redaction", {}), CONFIG_FILE)  # bad patterns fail here, with the file
    for key, value in paths.items():
        _rel_dir(value, yamltext.line_for(lines, ("paths", key)))
    return Config(
        project=data.get("project", ""),
        prompts_dir=_rel_dir(paths.get("prompts", "prompts")),
        evals_dir=_rel_dir(paths.get("evals", "evals")),
        routing_file=_rel_dir(paths.get("routing", "routing.yaml")),
        tag_prefix=data.get("tag_prefix", "v"),
        ledger_branch=data.get("ledger_branch", "promptops/ledger"),
        environments=data.get("environments", {}),
        redaction=data.get("redaction", {}),
        eval_defaults=data.get("eval", {}),
        lint_rules={k: "off" if v is False else v for k, v in data.get("lint", {}).get("rules", {}).items()},
        audit=AuditSettings(**data.get("audit", {})),
        path=CONFIG_FILE,
    )


def _rel_dir(value: str, line: int | None = None) -> str:
    parts = PurePosixPath(value).parts
    if PurePosixPath(value).is_absolute() or ".." in parts:
        raise InputError(
            f"path {value!r} must be inside the repository",
            file=CONFIG_FILE,
            line=line,
            hint="give a path relative to the repository root, without '..'",
        )
    return "/".join(p for p in parts if p != ".")


# -- prompts -------------------------------------------------------------------------------------------------

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
    if path.endswith(FRONTMATTER_EXTENSIONS):
        front_text, body, body_line = split_frontmatter(text, path)
        if front_text is not None and front_text.strip():
            data, lines = yamltext.parse(front_text, path, first_line=2)
            if data is not None:
                if not isinstance(data, dict):
                    raise InputError(f"frontmatter must be a mapping, got {_kind(data)}", file=path, line=2)
                validate("prompt", data, path, lines)
                _check_version(data, path, lines)
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
        lines=_flat_lines(lines),
    )


def _check_inputs(front: Mapping[str, Any], path: str, lines: dict[yamltext.Path, int]) -> None:
    from jsonschema import Draft202012Validator, SchemaError

    for key, value in [
        *((("inputs", k), v) for k, v in front.get("inputs", {}).items()),
        *([(("output",), front["output"])] if "output" in front else []),
    ]:
        try:
            Draft202012Validator.check_schema(value)
        except SchemaError as exc:
            raise InputError(
                f"{'.'.join(key)} is not a valid JSON Schema: {exc.message}",
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


# -- routing.yaml --------------------------------------------------------------------------------------------


def load_routing(source: Source, path: str) -> Routing:
    if source.read(path) is None:
        return Routing(path=path)
    data, lines = load_yaml(source, path, "routing")
    models = {
        name: ModelSpec(
            name=name,
            model=spec["model"],
            api_base=spec.get("api_base"),
            api_key_env=spec.get("api_key_env"),
            params=spec.get("params", {}),
            line=yamltext.line_for(lines, ("models", name)),
        )
        for name, spec in data.get("models", {}).items()
    }
    routes = tuple(
        Route(
            pattern=pattern,
            model=spec.get("model"),
            fallbacks=tuple(spec["fallbacks"]) if "fallbacks" in spec else None,
            params=spec.get("params", {}),
            timeout=spec.get("timeout"),
            retries=spec.get("retries"),
            line=yamltext.line_for(lines, ("routes", pattern)),
        )
        for pattern, spec in data.get("routes", {}).items()
    )
    defaults = data.get("defaults", {})
    flat = {".".join(str(p) for p in k): v for k, v in lines.items()}
    return Routing(
        path=path,
        model=defaults.get("model"),
        params=defaults.get("params", {}),
        timeout=defaults.get("timeout", 60.0),
        retries=defaults.get("retries", 2),
        fallbacks=tuple(defaults.get("fallbacks", ())),
        models=models,
        routes=routes,
        judge=data.get("judge"),
        lines=flat,
    )


# -- eval suites ---------------------------------------------------------------------------------------------


def _assertion(raw: Mapping[str, Any], line: int) -> Assertion:
    kind = str(raw["type"])
    negate = kind.startswith("not-")
    config = {k: v for k, v in raw.items() if k in ("path", "min", "max", "description")}
    return Assertion(
        type=kind[4:] if negate else kind,
        value=raw.get("value"),
        negate=negate,
        weight=float(raw.get("weight", 1.0)),
        threshold=raw.get("threshold"),
        fallback=bool(raw.get("fallback", False)),
        config=config,
        line=line,
    )


def load_suite(source: Source, evals_dir: str, path: str) -> Suite:
    data, lines = load_yaml(source, path, "eval")
    suite_id = str(PurePosixPath(path).relative_to(evals_dir).with_suffix(""))
    defaults = data.get("defaults", {})
    default_vars = defaults.get("vars", {})
    default_asserts = tuple(
        _assertion(a, yamltext.line_for(lines, ("defaults", "assert", i)))
        for i, a in enumerate(defaults.get("assert", []))
    )
    cases: list[Case] = []

    problems: list[Finding] = []
    first: dict[str, Case] = {}

    def add(case: Case) -> None:
        if case.id in first:
            other = first[case.id]
            where = f"line {other.line}" if other.file == case.file else f"{other.file}:{other.line}"
            problems.append(
                Finding(
                    "duplicate-case-id",
                    "error",
                    f"duplicate case id {case.id!r} (first defined at {where}); this case is skipped",
                    case.file,
                    case.line,
                    "give every case a unique id",
                )
            )
            return
        first[case.id] = case
        cases.append(case)

    for i, raw in enumerate(data.get("cases", [])):
        line = yamltext.line_for(lines, ("cases", i))
        asserts = tuple(
            _assertion(a, yamltext.line_for(lines, ("cases", i, "assert", j)))
            for j, a in enumerate(raw.get("assert", []))
        )
        add(
            Case(
                id=raw["id"],
                vars={**default_vars, **raw.get("vars", {})},
                asserts=default_asserts + asserts,
                description=raw.get("description", ""),
                file=path,
                line=line,
            )
        )
    for i, ds in enumerate(data.get("datasets", [])):
        ds_path = _dataset_path(evals_dir, ds, path, yamltext.line_for(lines, ("datasets", i)))
        for case in load_dataset(source, ds_path):
            add(
                Case(
                    id=case.id,
                    vars={**default_vars, **case.vars},
                    asserts=default_asserts + case.asserts,
                    description=case.description,
                    file=case.file,
                    line=case.line,
                )
            )
    return Suite(
        id=suite_id,
        path=path,
        prompt=data["prompt"],
        cases=tuple(cases),
        description=data.get("description", ""),
        threshold=float(data.get("threshold", 1.0)),
        repeat=int(data.get("repeat", 1)),
        min_consistency=data.get("min_consistency"),
        max_flaky=data.get("max_flaky"),
        datasets=tuple(data.get("datasets", ())),
        lines=_flat_lines(lines),
        problems=tuple(problems),
    )


def _dataset_path(evals_dir: str, ds: str, suite_path: str, line: int) -> str:
    parts = PurePosixPath(ds).parts
    if PurePosixPath(ds).is_absolute() or ".." in parts:
        raise InputError(f"dataset path {ds!r} must stay inside {evals_dir}/", file=suite_path, line=line)
    return f"{evals_dir}/{ds}" if evals_dir else ds


def load_dataset(source: Source, path: str) -> list[Case]:
    """Rows of a JSONL, CSV or YAML dataset as cases. Each row: id?, description?, vars or flat vars, assert?"""
    raw = source.read(path)
    if raw is None:
        raise InputError("dataset file not found", file=path, hint="check the path under `datasets:`")
    text = decode(raw, path, MAX_DATASET_BYTES)
    stem = PurePosixPath(path).stem
    rows: list[tuple[int, Any]] = []
    if path.endswith(".jsonl"):
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append((n, parse_json(line)))
                except json.JSONDecodeError as exc:
                    raise InputError(
                        f"invalid JSON at column {exc.colno}: {exc.msg}",
                        file=path,
                        line=n,
                        hint="each line must hold one JSON object",
                    ) from None
                except (ValueError, RecursionError) as exc:
                    raise InputError(
                        f"invalid JSON: {exc}", file=path, line=n, hint="each line must hold one JSON object"
                    ) from None
    elif path.endswith(".csv"):
        rows = _csv_rows(text, path)
    elif path.endswith((".yaml", ".yml")):
        data, lines = yamltext.parse(text, path)
        if not isinstance(data, list):
            raise InputError("a YAML dataset must be a list of rows", file=path, line=1)
        rows = [(yamltext.line_for(lines, (i,)), row) for i, row in enumerate(data)]
    else:
        raise InputError("unknown dataset format", file=path, hint="use .jsonl, .csv or .yaml")
    return [_row_case(row, path, line, f"{stem}-{i + 1}") for i, (line, row) in enumerate(rows)]


def _csv_rows(text: str, path: str) -> list[tuple[int, Any]]:
    """Rows with the line each starts on. Strict: an unclosed quote is an error at the line that opened it,
    not a last field that silently swallows the rest of the file."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[tuple[int, Any]] = []
    start = 1
    try:
        for fields in reader:
            line, start = start, reader.line_num + 1
            if not fields:
                continue
            if header is None:
                header = fields
            elif len(fields) > len(header):
                raise InputError("row has more fields than the header", file=path, line=line)
            else:
                rows.append((line, {k: fields[i] if i < len(fields) else None for i, k in enumerate(header)}))
    except csv.Error as exc:
        if "end of data" in str(exc) or "EOF" in str(exc):
            raise InputError(
                "a quoted field opened on this line is never closed",
                file=path,
                line=start,
                hint='close the quote; write a quote inside a quoted field as two ("")',
            ) from None
        raise InputError(f"invalid CSV: {exc}", file=path, line=start, hint="quote fields that hold commas") from None
    return rows


def _row_case(row: Any, path: str, line: int, default_id: str) -> Case:
    if not isinstance(row, dict):
        raise InputError(f"a dataset row must be an object, got {_kind(row)}", file=path, line=line)
    case_id = str(row.get("id") or default_id)
    if "vars" in row:
        if not isinstance(row["vars"], dict):
            raise InputError("`vars` must be an object", file=path, line=line)
        variables = row["vars"]
    else:
        variables = {k: v for k, v in row.items() if k not in ("id", "description", "assert")}
    asserts = row.get("assert", [])
    if not isinstance(asserts, list):
        raise InputError("`assert` must be a list", file=path, line=line)
    checked = []
    for a in asserts:
        validate_assertion(a, path, line)
        checked.append(_assertion(a, line))
    return Case(
        id=case_id,
        vars=variables,
        asserts=tuple(checked),
        description=str(row.get("description", "")),
        file=path,
        line=line,
    )


def validate_assertion(raw: Any, path: str, line: int) -> None:
    import jsonschema

    sub = {**schema("eval")["$defs"]["assertion"]}
    errors = list(validation.validator_class(jsonschema.Draft202012Validator)(sub).iter_errors(raw))
    if errors:
        raise InputError(
            f"invalid assertion: {errors[0].message}",
            file=path,
            line=line,
            hint="see `promptops schema eval` ($defs.assertion)",
        )


def raise_problem(snapshot: Snapshot, files: set[str] | None = None) -> None:
    """Raise the first load error (of `files`, or of any file) as the InputError it was."""
    for p in snapshot.problems:
        if p.severity == "error" and (files is None or p.file in files):
            raise InputError(p.message, file=p.file, line=p.line or None, hint=p.hint or None)


# -- the whole snapshot --------------------------------------------------------------------------------------


def partial_text(source: Source, path: str) -> Callable[[], str]:
    return lambda: decode(source.read(path) or b"", path)


def _collect(problems: list[Finding], fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except InputError as exc:
        problems.append(
            Finding(
                rule="invalid-file",
                severity="error",
                message=exc.message,
                file=exc.file or "",
                line=exc.line or 0,
                hint=exc.hint or "",
            )
        )
        return None


def load(source: Source) -> Snapshot:
    """Read every managed file. Files that fail to load are left out and reported in `problems`."""
    problems: list[Finding] = []
    config = _collect(problems, lambda: load_config(source))
    if config is None:
        config = Config(path=CONFIG_FILE)
    prompts: dict[str, Prompt] = {}
    partials: dict[str, Partial] = {}
    prompt_dir = config.prompts_dir
    files = source.list_dir(prompt_dir)
    for path in files:
        rel = path[len(prompt_dir) + 1 :] if prompt_dir else path
        if not rel.endswith(PROMPT_EXTENSIONS):
            problems.append(
                Finding(
                    "unknown-file",
                    "warning",
                    "not a prompt file; ignored",
                    path,
                    0,
                    f"prompt files end in {', '.join(PROMPT_EXTENSIONS)}",
                )
            )
            continue
        if is_partial(rel):
            text = _collect(problems, partial_text(source, path))
            if text is not None:
                partials[rel] = Partial(name=rel, path=path, body=text)
            continue
        pid = prompt_id_of(rel)
        if pid in prompts:
            problems.append(
                Finding(
                    "duplicate-prompt",
                    "error",
                    f"prompt id {pid!r} is defined twice (also by {prompts[pid].path})",
                    path,
                    1,
                    "rename or delete one of the two files",
                )
            )
            continue

        def one(p: str = path, i: str = pid) -> Prompt:
            return parse_prompt(i, p, decode(source.read(p) or b"", p))

        prompt = _collect(problems, one)
        if prompt is not None:
            prompts[pid] = prompt
    routing = _collect(problems, lambda: load_routing(source, config.routing_file)) or Routing(path=config.routing_file)
    suites: dict[str, Suite] = {}
    evals_dir = config.evals_dir
    for path in source.list_dir(evals_dir):
        rel = path[len(evals_dir) + 1 :] if evals_dir else path
        if not rel.endswith(SUITE_EXTENSIONS) or rel.split("/")[0] in RESERVED_EVAL_DIRS:
            continue
        suite = _collect(problems, functools.partial(load_suite, source, evals_dir, path))
        if suite is not None:
            suites[suite.id] = suite
            problems.extend(suite.problems)
    return Snapshot(
        label=source.label,
        config=config,
        prompts=prompts,
        partials=partials,
        routing=routing,
        suites=suites,
        problems=tuple(problems),
        files=tuple(files),
    )
