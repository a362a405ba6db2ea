"""Eval cases from dataset files (JSONL, CSV, YAML rows) and the assertions cases carry."""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any

from . import validation, yamltext
from .errors import InputError
from .formats import decode, kind_of, parse_json, schema
from .model import (
    Assertion,
    Case,
)
from .workspace import Source

MAX_DATASET_BYTES = 64 * 1024 * 1024


def parse_assertion(raw: Mapping[str, Any], line: int, transform: Any = None) -> Assertion:
    """An assertion from its file form; `transform` is the case's, run before the assertion's own."""
    kind = str(raw["type"])
    negate = kind.startswith("not-")
    config = {k: v for k, v in raw.items() if k in ("path", "min", "max", "description")}
    steps = _steps(transform) + _steps(raw.get("transform"))
    if steps:
        config["transform"] = steps
    return Assertion(
        type=kind[4:] if negate else kind,
        value=raw.get("value"),
        negate=negate,
        weight=float(raw.get("weight", 1.0)),
        threshold=raw.get("threshold"),
        fallback=bool(raw.get("fallback", False)),
        config=config,
        line=line,
        metric=str(raw.get("metric", "")),
    )


def with_transform(a: Assertion, transform: Any) -> Assertion:
    """`a` with a case's transform run before its own."""
    steps = _steps(transform) + _steps(a.config.get("transform"))
    if not steps:
        return a
    return replace(a, config={**a.config, "transform": steps})


def _steps(spec: Any) -> list[Any]:
    return [] if spec is None else list(spec) if isinstance(spec, list) else [spec]


def dataset_path(evals_dir: str, ds: str, suite_path: str, line: int) -> str:
    parts = PurePosixPath(ds).parts
    if PurePosixPath(ds).is_absolute() or ".." in parts:
        raise InputError(f"dataset path {ds!r} must stay inside {evals_dir}/", file=suite_path, line=line)
    return f"{evals_dir}/{ds}" if evals_dir else ds


# Holds the place of a row that could not be read, so the default ids of the rows after it do not move.
_BAD_ROW = object()


class DatasetProblems(InputError):
    """Every bad row of a dataset file: the first as this error (what eval stops on), and every one,
    each at its line with its own hint, in `errors` (in file order), so lint can show them all."""

    def __init__(self, errors: list[InputError]) -> None:
        first = errors[0]
        super().__init__(first.message, file=first.file, line=first.line, hint=first.hint)
        self.errors = tuple(errors)


def load_dataset(source: Source, path: str) -> list[Case]:
    """Rows of a JSONL, CSV or YAML dataset as cases. Each row: id?, description?, vars or flat vars, assert?

    A file that cannot be read at all raises InputError; bad rows are all checked and raised together as
    DatasetProblems. The good rows stay on the fast path: one try per row, nothing else."""
    raw = source.read(path)
    if raw is None:
        raise InputError("dataset file not found", file=path, hint="check the path under `datasets:`")
    text = decode(raw, path, MAX_DATASET_BYTES)
    stem = PurePosixPath(path).stem
    errors: list[InputError] = []
    if path.endswith(".jsonl"):
        rows = _jsonl_rows(text, path, errors)
    elif path.endswith(".csv"):
        rows = _csv_rows(text, path, errors)
    elif path.endswith((".yaml", ".yml")):
        data, lines = yamltext.parse(text, path)
        if not isinstance(data, list):
            raise InputError("a YAML dataset must be a list of rows", file=path, line=1)
        rows = [(yamltext.line_for(lines, (i,)), row) for i, row in enumerate(data)]
    else:
        raise InputError("unknown dataset format", file=path, hint="use .jsonl, .csv or .yaml")
    cases: list[Case] = []
    for i, (line, row) in enumerate(rows):
        if row is _BAD_ROW:
            continue
        try:
            cases.append(_row_case(row, path, line, f"{stem}-{i + 1}"))
        except InputError as exc:
            errors.append(exc)
    if errors:
        errors.sort(key=lambda e: e.line or 0)
        raise DatasetProblems(errors)
    return cases


def _jsonl_rows(text: str, path: str, errors: list[InputError]) -> list[tuple[int, Any]]:
    """(line, value) of every non-blank line; a line that is not JSON adds to `errors`."""
    rows: list[tuple[int, Any]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append((n, parse_json(line)))
            except json.JSONDecodeError as exc:
                message = f"invalid JSON at column {exc.colno}: {exc.msg}"
            except (ValueError, RecursionError) as exc:
                message = f"invalid JSON: {exc}"
            else:
                continue
            errors.append(InputError(message, file=path, line=n, hint="each line must hold one JSON object"))
            rows.append((n, _BAD_ROW))
    return rows


def _csv_rows(text: str, path: str, errors: list[InputError]) -> list[tuple[int, Any]]:
    """Rows with the line each starts on; a row with too many fields adds to `errors`. Strict: an unclosed
    quote is an error at the line that opened it (and ends the reading), not a last field that silently
    swallows the rest of the file."""
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
                hint = f"the header has {len(header)} fields; quote fields that hold commas"
                errors.append(InputError("row has more fields than the header", file=path, line=line, hint=hint))
                rows.append((line, _BAD_ROW))
            else:
                rows.append((line, {k: fields[i] if i < len(fields) else None for i, k in enumerate(header)}))
    except csv.Error as exc:
        if "end of data" in str(exc) or "EOF" in str(exc):
            errors.append(
                InputError(
                    "a quoted field opened on this line is never closed",
                    file=path,
                    line=start,
                    hint='close the quote; write a quote inside a quoted field as two ("")',
                )
            )
        else:
            errors.append(
                InputError(f"invalid CSV: {exc}", file=path, line=start, hint="quote fields that hold commas")
            )
    return rows


def _row_case(row: Any, path: str, line: int, default_id: str) -> Case:
    if not isinstance(row, dict):
        raise InputError(
            f"a dataset row must be an object, got {kind_of(row)}",
            file=path,
            line=line,
            hint="write each row as an object: its vars (flat or under `vars`), and `id`, `description`, `assert`",
        )
    case_id = str(row.get("id") or default_id)
    if "vars" in row:
        if not isinstance(row["vars"], dict):
            raise InputError("`vars` must be an object", file=path, line=line, hint="map each variable to its value")
        variables = row["vars"]
    else:
        variables = {k: v for k, v in row.items() if k not in ("id", "description", "assert")}
    asserts = row.get("assert", [])
    if not isinstance(asserts, list):
        raise InputError("`assert` must be a list", file=path, line=line, hint="write the assertions as a list")
    checked = []
    for a in asserts:
        validate_assertion(a, path, line)
        checked.append(parse_assertion(a, line))
    return Case(
        id=case_id,
        vars=variables,
        asserts=tuple(checked),
        description=str(row.get("description", "")),
        file=path,
        line=line,
    )


@functools.cache
def _assertion_schema() -> tuple[dict[str, Any], validation.Check | None]:
    defs = schema("eval")["$defs"]
    # With the definitions it refers to (`transform`): the fast check can then compile it, and the full
    # validator can resolve the reference.
    sub = {**defs["assertion"], "$defs": defs}
    return sub, validation.fast_check(sub)


@functools.cache
def _assertion_validator() -> Any:
    return validation.validator(_assertion_schema()[0])


def validate_assertion(raw: Any, path: str, line: int) -> None:
    """One assertion of a case (a dataset has thousands): the compiled check passes the common shape, and
    the full validator, compiled once, runs only to word an error."""
    fast = _assertion_schema()[1]
    if fast is not None and fast(raw):
        return
    errors = list(_assertion_validator().iter_errors(raw))
    if errors:
        raise InputError(
            f"invalid assertion: {errors[0].message}",
            file=path,
            line=line,
            hint="see `promptops schema eval` ($defs.assertion)",
        )
