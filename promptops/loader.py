"""Source -> Snapshot: every managed file read, validated against its schema, errors with file:line.

Reading one file is formats.py, prompt files are prompt_files.py, datasets are datasets.py; their public names
stay importable from here."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Mapping
from pathlib import PurePosixPath
from typing import Any

from . import redaction, yamltext
from .config_file import load_config
from .datasets import DatasetProblems, dataset_path, load_dataset, parse_assertion, validate_assertion, with_transform
from .endpoints import API_BASE_HINT, api_base_problem
from .errors import InputError
from .formats import (
    SchemaProblems,
    decode,
    flat_lines,
    load_yaml,
    parse_json,
    schema,
    schema_names,
    validate,
)
from .model import (
    VARIANT_SEP,
    Case,
    Config,
    Finding,
    ModelSpec,
    Partial,
    Price,
    Prompt,
    Route,
    Routing,
    Snapshot,
    Suite,
)
from .prompt_files import (
    FRONTMATTER_EXTENSIONS,
    PROMPT_EXTENSIONS,
    is_partial,
    parse_prompt,
    prompt_id_of,
    split_frontmatter,
)
from .workspace import CONFIG_FILE, Source

# Reading one file (formats) and datasets have their own modules; their names stay importable from here.
__all__ = [
    "FRONTMATTER_EXTENSIONS",
    "PROMPT_EXTENSIONS",
    "RESERVED_EVAL_DIRS",
    "SUITE_EXTENSIONS",
    "decode",
    "is_partial",
    "load",
    "load_config",
    "load_dataset",
    "load_routing",
    "load_suite",
    "parse_json",
    "parse_prompt",
    "prompt_id_of",
    "raise_problem",
    "schema",
    "schema_names",
    "split_frontmatter",
    "validate",
    "validate_assertion",
]

SUITE_EXTENSIONS = (".yaml", ".yml")
RESERVED_EVAL_DIRS = ("data", "recordings", "overrides")


# -- routing.yaml --------------------------------------------------------------------------------------------


def load_routing(source: Source, path: str) -> Routing:
    if source.read(path) is None:
        return Routing(path=path)
    data, lines = load_yaml(source, path, "routing")
    redaction.note_key_names(spec.get("api_key_env") for spec in data.get("models", {}).values())
    _refuse_credentials(path, data, lines)
    models = {
        name: ModelSpec(
            name=name,
            model=spec["model"],
            api_base=spec.get("api_base"),
            api_key_env=spec.get("api_key_env"),
            params=spec.get("params", {}),
            line=yamltext.line_for(lines, ("models", name)),
            structured_output=spec.get("structured_output", "json_schema"),
            price=_price(spec.get("price")),
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


def _refuse_credentials(path: str, data: Mapping[str, Any], lines: dict[yamltext.Path, int]) -> None:
    """A model's `api_base` that carries credentials is refused, each at its line."""
    found = [
        (yamltext.line_for(lines, ("models", name, "api_base")), message)
        for name, spec in data.get("models", {}).items()
        if (message := api_base_problem(str(name), spec.get("api_base"))) is not None
    ]
    if found:
        raise SchemaProblems(found[0][1], file=path, line=found[0][0], hint=API_BASE_HINT, problems=tuple(found))


def _price(data: Mapping[str, Any] | None) -> Price | None:
    if data is None:
        return None
    return Price(input_per_mtok=float(data["input_per_mtok"]), output_per_mtok=float(data["output_per_mtok"]))


# -- eval suites ---------------------------------------------------------------------------------------------


def load_suite(source: Source, evals_dir: str, path: str) -> Suite:
    data, lines = load_yaml(source, path, "eval")
    suite_id = str(PurePosixPath(path).relative_to(evals_dir).with_suffix(""))
    defaults = data.get("defaults", {})
    default_vars = defaults.get("vars", {})
    default_transform = defaults.get("transform")
    default_options = defaults.get("options", {})
    default_asserts = tuple(
        parse_assertion(a, yamltext.line_for(lines, ("defaults", "assert", i)))
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
            parse_assertion(a, yamltext.line_for(lines, ("cases", i, "assert", j)))
            for j, a in enumerate(raw.get("assert", []))
        )
        transform = raw.get("transform", default_transform)
        add(
            Case(
                id=raw["id"],
                vars={**default_vars, **raw.get("vars", {})},
                asserts=tuple(with_transform(a, transform) for a in default_asserts + asserts),
                description=raw.get("description", ""),
                file=path,
                line=line,
                options={**default_options, **raw.get("options", {})},
            )
        )
    for case in _dataset_cases(source, evals_dir, path, data, lines):
        add(
            Case(
                id=case.id,
                vars={**default_vars, **case.vars},
                asserts=tuple(with_transform(a, default_transform) for a in default_asserts + case.asserts),
                description=case.description,
                file=case.file,
                line=case.line,
                options=dict(default_options),
            )
        )
    variants = _variants(data, path, lines)
    return Suite(
        id=suite_id,
        path=path,
        prompt=data["prompt"] if "prompt" in data else variants[0][1],
        cases=tuple(cases),
        description=data.get("description", ""),
        threshold=float(data.get("threshold", 1.0)),
        repeat=int(data.get("repeat", 1)),
        min_consistency=data.get("min_consistency"),
        max_flaky=data.get("max_flaky"),
        datasets=tuple(data.get("datasets", ())),
        lines=flat_lines(_suite_level(lines)),
        problems=tuple(problems),
        metadata=tuple(data.get("metadata", ())),
        variants=variants if ("prompts" in data or "variants" in data) else (),
    )


def _suite_level(lines: dict[yamltext.Path, int]) -> dict[yamltext.Path, int]:
    """The lines of a suite file's keys but those inside a case (each case and assertion keeps its own line):
    a suite of 10,000 cases has some 60,000 key paths, none of which a message about the suite points at."""
    return {path: line for path, line in lines.items() if len(path) < 2 or path[0] != "cases"}


def _dataset_cases(
    source: Source, evals_dir: str, path: str, data: dict[str, Any], lines: dict[yamltext.Path, int]
) -> list[Case]:
    """The cases of every dataset a suite lists. Every dataset is read, and the bad rows of all of them are
    raised together (DatasetProblems, the first one as its message)."""
    cases: list[Case] = []
    errors: list[InputError] = []
    for i, ds in enumerate(data.get("datasets", [])):
        try:
            ds_path = dataset_path(evals_dir, ds, path, yamltext.line_for(lines, ("datasets", i)))
            cases += load_dataset(source, ds_path)
        except DatasetProblems as exc:
            errors += exc.errors
        except InputError as exc:
            errors.append(exc)
    if errors:
        raise DatasetProblems(errors)
    return cases


def _variants(data: dict[str, Any], path: str, lines: dict[yamltext.Path, int]) -> tuple[tuple[str, str], ...]:
    """(name, prompt id) of each prompt a suite compares: `variants: {name: id}`, or `prompts: [id, ...]` named
    by the last part of each id (made unique)."""
    if "variants" in data:
        return tuple((str(k), str(v)) for k, v in data["variants"].items())
    if "prompts" not in data:
        return ((data["prompt"], data["prompt"]),)
    named: list[tuple[str, str]] = []
    for pid in data["prompts"]:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", pid.rsplit("/", 1)[-1]) or "prompt"
        while name in {n for n, _ in named}:
            name += "-2"
        named.append((name, pid))
    if len({p for _, p in named}) < len(named):
        raise InputError(
            "`prompts` names the same prompt twice",
            file=path,
            line=yamltext.line_for(lines, ("prompts",)),
            hint="list each prompt once",
        )
    return tuple(named)


def expand_variants(suite: Suite) -> list[Suite]:
    """A suite file comparing prompts as one suite per variant (`<id>@<name>`), each gated on its own."""
    if not suite.variants:
        return [suite]
    key = "variants" if suite.lines.get("variants") else "prompts"
    return [
        dataclasses.replace(
            suite,
            id=f"{suite.id}{VARIANT_SEP}{name}",
            prompt=pid,
            variant=name,
            lines={**suite.lines, "prompt": suite.lines.get(f"{key}.{name}", suite.lines.get(f"{key}.{i}", 1))},
        )
        for i, (name, pid) in enumerate(suite.variants)
    ]


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
    except SchemaProblems as exc:  # every problem of the file, each at its line
        for line, message in exc.problems:
            problems.append(Finding("invalid-file", "error", message, exc.file or "", line, exc.hint or ""))
        return None
    except DatasetProblems as exc:  # every bad row of a dataset, each at its line
        problems.extend(_finding(e) for e in exc.errors)
        return None
    except InputError as exc:
        problems.append(_finding(exc))
        return None


def _finding(exc: InputError) -> Finding:
    return Finding(
        rule="invalid-file",
        severity="error",
        message=exc.message,
        file=exc.file or "",
        line=exc.line or 0,
        hint=exc.hint or "",
    )


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
            suites.update((s.id, s) for s in expand_variants(suite))
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
        read=source.document,
    )
