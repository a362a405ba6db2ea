"""Lint rules: (context) -> findings, listed in one table."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import Any, Literal

from . import checks, loader, routing, yamltext
from .errors import InputError
from .git import GitRepo, toplevel
from .model import Finding, Prompt, Routing, Severity, Snapshot
from .redaction import find_secrets
from .render import Renderer, RenderError, input_problem
from .workspace import CONFIG_FILE, GitSource, Source, TreeSource


@dataclass
class Context:
    source: Source
    snapshot: Snapshot
    renderer: Renderer


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity | Literal["off"]  # "off": opt-in, runs only when promptops.yaml sets `lint.rules.<id>`
    summary: str
    check: Callable[[Context], Iterable[Finding]]


def _f(rule: str, message: str, file: str = "", line: int = 0, hint: str = "", severity: Severity = "error") -> Finding:
    return Finding(rule=rule, severity=severity, message=message, file=file, line=line, hint=hint)


def _from_render(err: RenderError) -> Finding:
    return _f(err.rule, err.message, err.file or "", err.line or 0, err.hint or "")


def check_files(ctx: Context) -> Iterator[Finding]:
    yield from ctx.snapshot.problems


def check_templates(ctx: Context) -> Iterator[Finding]:
    seen: set[tuple[str, str, int]] = set()
    for prompt in ctx.snapshot.prompts.values():
        for err in ctx.renderer.problems(prompt):
            key = (err.message, err.file or "", err.line or 0)
            if key not in seen:
                seen.add(key)
                yield _from_render(err)
        for info in ctx.renderer.closure(ctx.renderer.name_of(prompt))[0]:
            for line in info.dynamic_includes:
                if ("dynamic", info.file, line) not in seen:
                    seen.add(("dynamic", info.file, line))
                    yield _f(
                        "dynamic-include",
                        "include name is not a literal string; it cannot be checked",
                        info.file,
                        line,
                        "include partials by literal path",
                        "warning",
                    )
    used = {i.name for p in ctx.snapshot.prompts.values() for i in ctx.renderer.closure(ctx.renderer.name_of(p))[0]}
    for name, partial in ctx.snapshot.partials.items():
        info = ctx.renderer.info(name)
        if info.error:
            if (info.error.message, partial.path, info.error.line or 0) not in seen:
                yield _from_render(info.error)
        elif name not in used and not broken_prompts(ctx.snapshot):
            yield _f(
                "unused-partial",
                "partial is not included by any prompt",
                partial.path,
                1,
                "include it somewhere or delete it",
                "warning",
            )


def _fallback_vars(ctx: Context, prompt: Prompt) -> tuple[dict[str, int], Finding | None]:
    if prompt.fallback is None:
        return {}, None
    import jinja2
    from jinja2 import meta, nodes

    line = prompt.line_of("fallback")
    try:
        ast = ctx.renderer.env.parse(prompt.fallback)
    except (RecursionError, MemoryError):
        return {}, _f("fallback", "fallback template is nested too deeply to parse", prompt.path, line)
    except jinja2.TemplateSyntaxError as exc:
        return {}, _f("fallback", f"fallback template syntax error: {exc.message}", prompt.path, line)
    undeclared = meta.find_undeclared_variables(ast)
    return {n.name: line for n in ast.find_all(nodes.Name) if n.name in undeclared}, None


def check_variables(ctx: Context) -> Iterator[Finding]:
    for prompt in ctx.snapshot.prompts.values():
        if ctx.renderer.problems(prompt):
            continue
        used = ctx.renderer.used_variables(prompt)
        fallback_used, problem = _fallback_vars(ctx, prompt)
        if problem:
            yield problem
        can_declare = prompt.path.endswith(loader.FRONTMATTER_EXTENSIONS)
        for name, (file, line) in sorted(used.items(), key=lambda kv: kv[1]):
            if name not in prompt.inputs:
                yield _f(
                    "undeclared-variable",
                    f"variable {name!r} is used but not declared in the inputs of {prompt.id!r}",
                    file,
                    line,
                    f"declare it under `inputs:` in {prompt.path}"
                    if can_declare
                    else "use a .prompt file with frontmatter to declare inputs",
                    "error" if can_declare else "warning",
                )
        for name, line in fallback_used.items():
            if name not in prompt.inputs:
                yield _f(
                    "fallback",
                    f"fallback uses {name!r}, which is not a declared input",
                    prompt.path,
                    line,
                    "the fallback may use only the prompt's inputs",
                )
        for name in prompt.inputs:
            if name not in used and name not in fallback_used:
                yield _f(
                    "unused-input",
                    f"input {name!r} is declared but never used",
                    prompt.path,
                    prompt.line_of(f"inputs.{name}"),
                    "use it in the template or remove it",
                    "warning",
                )


def check_routing(ctx: Context) -> Iterator[Finding]:
    r = ctx.snapshot.routing
    known = sorted(r.models)
    hint = f"known models: {', '.join(known)}" if known else "declare it under `models:` in routing.yaml"

    def unknown(name: str | None, where: str) -> Iterator[Finding]:
        if name is not None and name not in r.models:
            yield _f(
                "route-unknown-model", f"{where} names unknown model {name!r}", r.path, r.lines.get(where, 1), hint
            )

    yield from unknown(r.model, "defaults.model")
    for name in r.fallbacks:
        yield from unknown(name, "defaults.fallbacks")
    yield from unknown(r.judge, "judge")
    for route in r.routes:
        for name in [m for m in (route.model, *(route.fallbacks or ())) if m is not None]:
            if name not in r.models:
                yield _f(
                    "route-unknown-model",
                    f"route {route.pattern!r} names unknown model {name!r}",
                    r.path,
                    _route_model_line(r, route.pattern, name, route.line),
                    hint,
                )
        matches = [p for p in ctx.snapshot.prompts if fnmatchcase(p, route.pattern)]
        if not routing.is_glob(route.pattern) and route.pattern not in ctx.snapshot.prompts:
            yield _f(
                "route-unknown-prompt",
                f"route {route.pattern!r} names no prompt",
                r.path,
                route.line,
                "fix the prompt id, or remove the route",
            )
        elif routing.is_glob(route.pattern) and not matches:
            yield _f(
                "route-unknown-prompt",
                f"route {route.pattern!r} matches no prompt",
                r.path,
                route.line,
                "fix the pattern, or remove the route",
                "warning",
            )
    if r.models or r.routes:
        for prompt in ctx.snapshot.prompts.values():
            if routing.resolve(r, prompt).model is None:
                yield _f(
                    "unrouted-prompt",
                    f"no model serves prompt {prompt.id!r}",
                    prompt.path,
                    1,
                    "add a route for it or set defaults.model in routing.yaml",
                    "warning",
                )


def _route_model_line(r: Routing, pattern: str, name: str, default: int) -> int:
    """The line of the exact `model:` or fallbacks entry that names `name` in a route."""
    route = next(x for x in r.routes if x.pattern == pattern)
    if route.model == name:
        return r.lines.get(f"routes.{pattern}.model", default)
    for i, fallback in enumerate(route.fallbacks or ()):
        if fallback == name:
            return r.lines.get(f"routes.{pattern}.fallbacks.{i}", default)
    return default


def broken_prompts(snapshot: Snapshot) -> set[str]:
    """Ids of prompts whose file failed to load."""
    prefix = snapshot.config.prompts_dir + "/" if snapshot.config.prompts_dir else ""
    return {
        loader.prompt_id_of(p.file[len(prefix) :])
        for p in snapshot.problems
        if p.severity == "error" and p.file.startswith(prefix) and p.file.endswith(loader.PROMPT_EXTENSIONS)
    }


def check_suites(ctx: Context) -> Iterator[Finding]:
    routing_ok = not ctx.snapshot.problems_in(ctx.snapshot.routing.path)
    for suite in ctx.snapshot.suites.values():
        prompt = ctx.snapshot.prompts.get(suite.prompt)
        if prompt is None and suite.prompt in broken_prompts(ctx.snapshot):
            continue  # the prompt's own file error is already reported
        if prompt is None:
            yield _f(
                "suite-unknown-prompt",
                f"suite targets unknown prompt {suite.prompt!r}",
                suite.path,
                suite.line_of("prompt"),
                "run `promptops list` to see prompt ids",
            )
            continue
        if not suite.cases:
            yield _f("empty-suite", "suite has no cases", suite.path, 1, "add cases or a dataset")
        for case in suite.cases:
            values = dict(case.vars)
            for name, spec in prompt.inputs.items():
                if name not in values and isinstance(spec, dict) and "default" in spec:
                    values[name] = spec["default"]
            problem = input_problem(prompt, values)
            if problem is not None:
                where, detail = problem
                if detail:
                    yield _f(
                        "case-vars",
                        f"case {case.id!r}: {('var ' + where + ': ') if where else ''}{detail}",
                        case.file,
                        case.line,
                        f"fit the inputs of prompt {prompt.id!r}",
                    )
            extra = sorted(set(case.vars) - set(prompt.inputs))
            if extra and prompt.inputs:
                yield _f(
                    "case-vars",
                    f"case {case.id!r}: var {extra[0]!r} is not an input of {prompt.id!r}",
                    case.file,
                    case.line,
                    "remove it or declare it in the prompt",
                    "warning",
                )
            for a in case.asserts:
                setting = checks.validate(a, prompt)
                if setting and not (a.type == "json-schema" and a.value is None and prompt.output is None):
                    yield _f(
                        "assertion",
                        f"case {case.id!r}: {a.type}: {setting}",
                        case.file,
                        a.line,
                        "see the assertion types in the README",
                    )
                if a.type == "llm-rubric" and routing.judge(ctx.snapshot.routing) is None and routing_ok:
                    yield _f(
                        "no-judge",
                        "llm-rubric needs a judge model",
                        case.file,
                        a.line,
                        "set `judge:` in routing.yaml to a named model",
                    )
                if a.type == "json-schema" and a.value is None and prompt.output is None:
                    yield _f(
                        "no-output-schema",
                        "json-schema assertion without a schema",
                        case.file,
                        a.line,
                        f"give `value:` a schema, or declare `output:` in {prompt.path}",
                    )


def check_coverage(ctx: Context) -> Iterator[Finding]:
    covered = {s.prompt for s in ctx.snapshot.suites.values() if s.cases}
    evals_dir = ctx.snapshot.config.evals_dir
    # A suite that failed to load may cover any prompt: its error is reported, not a guess at coverage.
    broken_suite = any(p.file.startswith(evals_dir + "/") and p.severity == "error" for p in ctx.snapshot.problems)
    for prompt in ctx.snapshot.prompts.values():
        if prompt.id not in covered and not broken_suite:
            high = prompt.risk == "high"
            yield _f(
                "missing-evals",
                f"prompt {prompt.id!r}{' (risk: high)' if high else ''} has no eval cases",
                prompt.path,
                1,
                f"add a suite under evals/ with `prompt: {prompt.id}`",
                "error" if high else "warning",
            )
        if prompt.risk == "high":
            if not prompt.owner:
                yield _f(
                    "high-risk-owner",
                    f"high-risk prompt {prompt.id!r} has no owner",
                    prompt.path,
                    prompt.line_of("risk"),
                    "add `owner:` (a team or handle) to the frontmatter",
                )
            if prompt.fallback is None:
                yield _f(
                    "high-risk-fallback",
                    f"high-risk prompt {prompt.id!r} has no fallback",
                    prompt.path,
                    prompt.line_of("risk"),
                    "add `fallback:`, the answer given when the kill switch is on",
                )


def check_sources(ctx: Context) -> Iterator[Finding]:
    for prompt in ctx.snapshot.prompts.values():
        for pattern in prompt.sources:
            if not ctx.source.glob(pattern):
                yield _f(
                    "missing-source",
                    f"source {pattern!r} matches no file",
                    prompt.path,
                    prompt.line_of("sources"),
                    "paths are relative to the repository root",
                )


def managed_files(ctx: Context) -> list[str]:
    snap = ctx.snapshot
    files = [*snap.files, snap.routing.path, *(s.path for s in snap.suites.values())]
    files += [f"{snap.config.evals_dir}/{d}" for s in snap.suites.values() for d in s.datasets]
    if snap.config.path or ctx.source.read("promptops.yaml") is not None:
        files.append("promptops.yaml")
    return sorted(set(files))


def check_secrets(ctx: Context) -> Iterator[Finding]:
    for path in managed_files(ctx):
        raw = ctx.source.read(path)
        if raw is None:
            continue
        text = raw.decode("utf-8", errors="replace")
        lines_seen: set[int] = set()
        for hit in find_secrets(text):
            if hit.line in lines_seen:
                continue
            lines_seen.add(hit.line)
            yield _f(
                "literal-secret",
                f"{hit.detector.label} appears in this file",
                path,
                hit.line,
                "remove it, rotate the key, and name an environment variable with api_key_env",
            )


SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


def _history(source: Source) -> tuple[GitRepo, str, str] | None:
    """(repository, tip commit, the project's directory in it) of a source with a git history, else None."""
    if isinstance(source, GitSource):
        return source.repo, source.sha, source.prefix
    if isinstance(source, TreeSource) and toplevel(source.root) is not None:
        repo = GitRepo(source.root)
        if repo.has_commits():
            rel = source.root.relative_to(repo.root).as_posix()
            return repo, "HEAD", "" if rel == "." else rel + "/"
    return None


def _last_release(repo: GitRepo, tip: str, prefix: str) -> str | None:
    """The highest release tag (`prefix` + MAJOR.MINOR.PATCH) the tip contains."""
    found = []
    for tag in repo.run("tag", "--merged", tip, "--list", f"{prefix}*").splitlines():
        match = SEMVER.match(tag[len(prefix) :])
        if match:
            found.append((tuple(int(g) for g in match.groups()), tag))
    return max(found)[1] if found else None


def check_change_reason(ctx: Context) -> Iterator[Finding]:
    """Commits since the last release that touch a high-risk prompt carry a `Change-Reason:` trailer."""
    high = {p.path: p for p in ctx.snapshot.prompts.values() if p.risk == "high"}
    found = _history(ctx.source) if high else None
    if found is None:
        return
    repo, tip, prefix = found
    last = _last_release(repo, tip, ctx.snapshot.config.tag_prefix)
    paths = {prefix + path: prompt for path, prompt in high.items()}
    for entry in repo.log([f"{last}..{tip}" if last else tip], sorted(paths), with_files=True):
        if entry.trailers("Change-Reason"):
            continue
        for prompt in (paths[f] for f in entry.files if f in paths):
            yield _f(
                "change-reason",
                f"commit {entry.sha[:7]} ({entry.subject}) changes high-risk prompt {prompt.id!r} "
                "without a Change-Reason: trailer",
                prompt.path,
                1,
                "reword the commit with a `Change-Reason: why` trailer (`git commit --amend`, or `git rebase -i` "
                "for an older one)",
            )


RULE_DOCS: dict[str, str] = {
    "invalid-file": "a file does not parse, does not fit its schema, is not UTF-8, is empty or too large",
    "unknown-file": "a file under prompts/ that is not a prompt",
    "duplicate-prompt": "two files give the same prompt id",
    "duplicate-case-id": "two cases of a suite share an id",
    "template-syntax": "a Jinja2 syntax error",
    "unknown-partial": "an include of a partial that does not exist",
    "include-cycle": "partials that include each other",
    "unsafe-template": "a name the sandbox refuses (self, cycler, joiner, namespace, lipsum)",
    "dynamic-include": "an include whose name is not a literal string",
    "unused-partial": "a partial no prompt includes",
    "undeclared-variable": "a variable used but not declared under inputs",
    "unused-input": "an input declared but never used",
    "fallback": "a fallback template that does not parse or uses undeclared inputs",
    "route-unknown-model": "routing names a model that is not declared under models",
    "route-unknown-prompt": "a route names no prompt, or a glob matches none",
    "unrouted-prompt": "no model serves a prompt",
    "suite-unknown-prompt": "an eval suite targets a prompt that does not exist",
    "empty-suite": "an eval suite without cases",
    "case-vars": "eval case vars that do not fit the prompt's inputs",
    "no-judge": "llm-rubric without a judge model",
    "assertion": "an assertion whose settings cannot work (a missing value, a bad regex, ...)",
    "no-output-schema": "json-schema assertion with no schema to use",
    "missing-evals": "a prompt without eval cases (an error for risk: high)",
    "high-risk-owner": "a high-risk prompt without an owner",
    "high-risk-fallback": "a high-risk prompt without a fallback",
    "missing-source": "a pinned source that matches no file",
    "literal-secret": "an API key, token or private key in a managed file",
    "change-reason": "a commit since the last release that changes a high-risk prompt without a Change-Reason: "
    "trailer (off unless promptops.yaml turns it on)",
}

RULES: tuple[Rule, ...] = (
    Rule("invalid-file", "error", "a file does not parse or does not fit its schema", check_files),
    Rule("template", "error", "template syntax, unknown partials, include cycles, unsafe names", check_templates),
    Rule("variables", "error", "variables used but not declared; inputs declared but unused", check_variables),
    Rule("routing", "error", "routes naming unknown prompts or models; prompts no model serves", check_routing),
    Rule("suites", "error", "suites naming unknown prompts; case vars that do not fit the inputs", check_suites),
    Rule("coverage", "error", "prompts without evals; high-risk prompts without owner or fallback", check_coverage),
    Rule("sources", "error", "pinned sources that match no file", check_sources),
    Rule("secrets", "error", "literal secrets in any managed file", check_secrets),
    Rule("change-reason", "off", "high-risk prompt changes without a Change-Reason: trailer", check_change_reason),
)


def lint(source: Source, snapshot: Snapshot | None = None) -> list[Finding]:
    """Every finding for the project, in file and line order, with severities from promptops.yaml applied."""
    snap = snapshot or loader.load(source)
    ctx = Context(source=source, snapshot=snap, renderer=Renderer(snap))
    findings: list[Finding] = list(unknown_rule_ids(source, snap))
    for rule in RULES:
        if rule.severity == "off" and snap.config.lint_rules.get(rule.id, "off") == "off":
            continue  # opt-in: it runs (and may read git history) only when promptops.yaml turns it on
        try:
            findings.extend(rule.check(ctx))
        except InputError as exc:
            findings.append(_f("invalid-file", exc.message, exc.file or "", exc.line or 0, exc.hint or ""))
    out = []
    for finding in findings:
        level: Any = snap.config.lint_rules.get(finding.rule)
        if level == "off":
            continue
        out.append(replace(finding, severity=level) if level in ("error", "warning") else finding)
    return sorted(set(out), key=lambda f: (f.file, f.line, f.rule, f.message))


def unknown_rule_ids(source: Source, snap: Snapshot) -> Iterator[Finding]:
    """`lint: rules:` in promptops.yaml naming a rule that does not exist: the setting would silently do
    nothing (a misspelt `off` keeps the rule on), so it is an error naming the known ids."""
    known = sorted({*RULE_DOCS, *(r.id for r in RULES)})
    unknown = [name for name in snap.config.lint_rules if name not in known]
    if not unknown:
        return
    raw = source.read(snap.config.path or CONFIG_FILE) or b""
    _, lines = yamltext.parse(raw.decode("utf-8", "replace"), CONFIG_FILE)
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        yield _f(
            "invalid-file",
            f"lint.rules: unknown rule id {name!r}",
            CONFIG_FILE,
            yamltext.line_for(lines, ("lint", "rules", name)),
            (f"did you mean {close[0]!r}? " if close else "") + f"known rule ids: {', '.join(known)}",
        )
