"""Eval results as JSON, and back: from_dict reads what to_dict wrote, for `promptops report merge`; it
ignores keys it does not know, so validate a file against the `results` schema first where strictness matters."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields, is_dataclass
from types import NoneType, UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from .. import __version__
from ..errors import InputError
from ..model import CaseSummary, CheckResult, EvalReport, Override, SuiteSummary, TaskResult
from . import jsontext
from .cases import case_key, result_key, sorted_suites, totals
from .metrics import metric_scores
from .variants import variant_comparisons

FORMAT_VERSION = 1
Convert = Callable[[Any, str], Any]


# -- JSON ----------------------------------------------------------------------------------------------------


def to_dict(report: EvalReport) -> dict[str, Any]:
    """The results document of the published schema (schemas/results.json); lists sorted, checks in order."""
    return _document(report, _plain, _plain)


def _itself(obj: Any) -> Any:
    return obj


def to_json(report: EvalReport, texts: ResultTexts | None = None) -> str:
    """The results document as the indented text `-o FILE.json` writes: `to_dict`'s, written straight from the
    report's objects (jsontext writes a dataclass as its fields), without making the dicts first. A result whose
    text `texts` made while the run went on is written with that text."""
    return jsontext.dumps(_document(report, _itself, texts.text_or_result if texts is not None else _itself))


class ResultTexts:
    """The JSON text of each result, made as the result arrives (`add`), while the calls of the others are still
    in flight, rather than all after the last answer. Kept by identity: only a result the report still holds
    unchanged is written with it (an override makes a new result, written when the report is)."""

    def __init__(self) -> None:
        self._texts: dict[int, tuple[TaskResult, jsontext.Raw]] = {}

    def add(self, result: TaskResult) -> str:
        """Make and keep the result's text; returns its one-line text (`json.dumps` of the result's fields, what
        the results store keeps), made with it."""
        text, line = jsontext.texts_at(result, RESULT_DEPTH)
        self._texts[id(result)] = (result, text)
        return line

    def text_or_result(self, result: Any) -> Any:
        found = self._texts.get(id(result))
        return found[1] if found is not None and found[0] is result else result


RESULT_DEPTH = 2  # the items of the document's "results" list


def _document(report: EvalReport, plain: Callable[[Any], Any], result: Callable[[Any], Any]) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "promptops_version": __version__,
        "run_id": report.run_id,
        "project": report.project,
        "label": report.label,
        "started": report.started,
        "finished": report.finished,
        "baseline": report.baseline,
        "shard": report.shard,
        "interrupted": report.interrupted,
        "passed": report.passed,
        "totals": totals(report),
        "suites": [plain(s) for s in sorted_suites(report)],
        "cases": [plain(c) for c in sorted(report.cases, key=case_key)],
        "results": [result(r) for r in sorted(report.results, key=result_key)],
        "axes": list(report.axes),
        "removed": [plain(c) for c in sorted(report.removed, key=case_key)],
        "base_suites": [plain(s) for s in sorted(report.base_suites, key=lambda s: (s.suite, sorted(s.axes.items())))],
        "metrics": metric_scores(report),
        "variants": variant_comparisons(report),
    }


def from_dict(data: Any) -> EvalReport:
    """The inverse of to_dict, for `report merge`. Derived keys (passed, totals) are recomputed, not read.

    Every field read is checked against its type (verdicts and statuses from their known set, counts integers):
    a report is data from elsewhere, and its values reach HTML pages. The first wrong field is named.
    """
    if not isinstance(data, Mapping):
        raise InputError("an eval results document must be a JSON object")
    if data.get("format_version") != FORMAT_VERSION:
        raise InputError(
            f"unsupported eval results format_version {data.get('format_version')!r}",
            hint=f"promptops {__version__} reads format_version {FORMAT_VERSION}; re-run the eval with this version",
        )

    def many(cls: type, convert: Mapping[str, Convert] | None = None) -> Convert:
        def build(value: Any, at: str) -> tuple[Any, ...]:
            return tuple(_build(cls, item, f"{at}[{i}]", convert) for i, item in enumerate(_list(value, at)))

        return build

    def override(value: Any, at: str) -> Override | None:
        return None if value is None else _build(Override, value, at)

    def strings(value: Any, at: str) -> tuple[Any, ...]:
        items = _list(value, at)
        for i, item in enumerate(items):
            _check(item, str, f"{at}[{i}]")
        return tuple(items)

    report: EvalReport = _build(
        EvalReport,
        data,
        "",
        {
            "suites": many(SuiteSummary, {"gate_reasons": strings}),
            "cases": many(CaseSummary),
            "axes": strings,
            "removed": many(CaseSummary),
            "base_suites": many(SuiteSummary, {"gate_reasons": strings}),
            "results": many(TaskResult, {"checks": many(CheckResult), "override": override}),
        },
    )
    return report


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(obj: Any) -> Any:
    """A dataclass as JSON-ready data: fields in declaration order, tuples as lists."""
    names = _field_names(type(obj))  # type: ignore[arg-type]
    if names is not None:
        scalars = _SCALARS
        out = {}
        for name in names:
            value = getattr(obj, name)
            out[name] = value if type(value) in scalars else _plain(value)
        return out
    if isinstance(obj, (tuple, list)):
        return [_plain(item) for item in obj]
    return obj


@functools.cache
def _field_names(cls: type) -> tuple[str, ...] | None:
    """The field names of a dataclass (None for any other type), looked up once per class: a report of
    10,000 results converts 100,000 objects."""
    return tuple(f.name for f in fields(cls)) if is_dataclass(cls) else None


def _build(cls: Any, data: Any, at: str, convert: Mapping[str, Convert] | None = None) -> Any:
    where = at or "the document"
    if not isinstance(data, Mapping):
        raise InputError(f"eval results: {where} must be an object")
    required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    missing = [name for name in required if name not in data]
    if missing:
        raise InputError(f"eval results: {where} has no {', '.join(missing)}")
    convert = convert or {}
    kwargs = {}
    for f in fields(cls):
        if f.name in data:
            value = data[f.name]
            name = f"{at}.{f.name}" if at else f.name
            if f.name in convert:
                kwargs[f.name] = convert[f.name](value, name)
            else:
                _check(value, _hints(cls)[f.name], name)
                kwargs[f.name] = value
    return cls(**kwargs)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _check(value: Any, hint: Any, at: str) -> None:
    """Refuse a value that is not of the field's type, naming the field and what it must be."""
    if not _fits(value, hint):
        raise InputError(
            f"eval results: {at} must be {_describe(hint)}, not {_kind(value)}",
            hint="pass the file `promptops eval -o FILE.json` wrote, unedited, or run that eval again",
        )


def _fits(value: Any, hint: Any) -> bool:
    origin = get_origin(hint)
    if origin in (Union, UnionType):
        return any(_fits(value, arm) for arm in get_args(hint))
    if origin is Literal:
        return isinstance(value, str) and value in get_args(hint)
    if origin is dict:
        key, item = get_args(hint)
        return isinstance(value, dict) and all(_fits(k, key) and _fits(v, item) for k, v in value.items())
    if hint is NoneType:
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    return True  # nested dataclasses and lists are built by their converters, which check them


def _describe(hint: Any) -> str:
    origin = get_origin(hint)
    if origin in (Union, UnionType):
        return " or ".join(_describe(arm) for arm in get_args(hint))
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in get_args(hint))
    if origin is dict:
        return "an object of strings"
    names = {NoneType: "null", bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return names.get(hint, str(hint))


def _kind(value: Any) -> str:
    """The JSON kind of a value, never the value itself (it may be anything, a credential included)."""
    if isinstance(value, str):
        return "another string" if value else "an empty string"
    kinds = {bool: "true or false", int: "an integer", float: "a number", dict: "an object", list: "a list"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def _list(value: Any, at: str) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(f"eval results: {at} must be a list")
    return value
