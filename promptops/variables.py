"""Variables from the command line, files and eval cases, coerced by the prompt's inputs schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import yamltext
from .errors import InputError
from .formats import decode, parse_json
from .loader import raise_problem
from .model import Prompt, Snapshot


def _declared_types(spec: Any) -> set[str]:
    if not isinstance(spec, dict):
        return set()
    kind = spec.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return {k for k in kind if isinstance(k, str)}
    if "enum" in spec and all(isinstance(v, str) for v in spec["enum"]):
        return {"string"}
    return set()


def parse_assignments(items: list[str], prompt: Prompt) -> dict[str, Any]:
    """NAME=VALUE pairs. Values stay strings unless the input's schema wants another JSON type."""
    values: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--var {item!r} is not NAME=VALUE", hint="e.g. --var customer_name=Ada")
        name = name.strip()
        types = _declared_types(prompt.inputs.get(name))
        if not types or "string" in types:
            values[name] = raw
            continue
        try:
            values[name] = parse_json(raw)
        except ValueError:
            raise InputError(
                f"--var {name}: {raw!r} is not valid JSON for type {'/'.join(sorted(types))}",
                hint="numbers, booleans, lists and objects are given as JSON, e.g. --var n=3",
            ) from None
    return values


def read_vars_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read vars file: {exc.strerror}", file=str(path)) from None
    data, _ = yamltext.parse(decode(raw, str(path)), str(path))  # JSON is YAML
    if not isinstance(data, dict):
        raise InputError("a vars file must hold a mapping of NAME: VALUE", file=str(path), line=1)
    return data


def case_vars(snapshot: Snapshot, ref: str) -> dict[str, Any]:
    """The variables of eval case SUITE:CASE."""
    suite_id, sep, case_id = ref.rpartition(":")
    if not sep:
        raise InputError(f"--case {ref!r} is not SUITE:CASE", hint="e.g. --case support/refund:full-refund")
    suite = snapshot.suites.get(suite_id)
    if suite is None:
        base = f"{snapshot.config.evals_dir}/{suite_id}" if snapshot.config.evals_dir else suite_id
        raise_problem(snapshot, {base + ".yaml", base + ".yml"})
        raise InputError(
            f"unknown eval suite {suite_id!r}", hint=f"known suites: {', '.join(sorted(snapshot.suites)) or 'none'}"
        )
    for case in suite.cases:
        if case.id == case_id:
            return dict(case.vars)
    raise InputError(
        f"suite {suite_id!r} has no case {case_id!r}",
        file=suite.path,
        hint=f"cases: {', '.join(c.id for c in suite.cases[:10])}",
    )


def render_cases(snapshot: Snapshot) -> tuple[int, list[str]]:
    """Render every eval case with its prompt (what `render --check` and the pre-commit hook do): the number of
    cases rendered, and one line per case that does not render (its suite file and line, and why)."""
    from .render import Renderer

    renderer = Renderer(snapshot)
    rendered, problems = 0, []
    for suite in sorted(snapshot.suites.values(), key=lambda s: s.id):
        for case in suite.cases:
            try:
                renderer.render(suite.prompt, dict(case.vars))
                rendered += 1
            except InputError as error:
                where = f"{case.file or suite.path}:{case.line}" if case.line else case.file or suite.path
                problems.append(f"{where}: {suite.id}:{case.id}: {error.message}")
    return rendered, problems
