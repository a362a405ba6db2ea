"""Rules on files and templates: files that do not load, template problems, variables and inputs."""

from __future__ import annotations

from collections.abc import Iterator

from .. import prompt_files
from ..model import Finding, Prompt
from ..render import RenderError
from .context import Context, from_render_error, make_finding
from .evals import broken_prompts


def check_files(ctx: Context) -> Iterator[Finding]:
    yield from ctx.snapshot.problems


def check_templates(ctx: Context) -> Iterator[Finding]:
    seen: set[tuple[str, str, int]] = set()
    for prompt in ctx.snapshot.prompts.values():
        for err in ctx.renderer.problems(prompt):
            key = (err.message, err.file or "", err.line or 0)
            if key not in seen:
                seen.add(key)
                yield from_render_error(err)
        for info in ctx.renderer.closure(ctx.renderer.name_of(prompt))[0]:
            for line in info.dynamic_includes:
                if ("dynamic", info.file, line) not in seen:
                    seen.add(("dynamic", info.file, line))
                    yield make_finding(
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
                yield from_render_error(info.error)
        elif name not in used and not broken_prompts(ctx.snapshot):
            yield make_finding(
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
    line = prompt.line_of("fallback")
    try:
        names = ctx.renderer.free_variables(prompt.fallback)
    except RenderError as exc:
        return {}, make_finding("fallback", f"fallback {exc.message}", prompt.path, line)
    return dict.fromkeys(names, line), None


def check_variables(ctx: Context) -> Iterator[Finding]:
    for prompt in ctx.snapshot.prompts.values():
        if ctx.renderer.problems(prompt):
            continue
        used = ctx.renderer.used_variables(prompt)
        fallback_used, problem = _fallback_vars(ctx, prompt)
        if problem:
            yield problem
        can_declare = prompt_files.can_declare(prompt)
        for name, (file, line) in sorted(used.items(), key=lambda kv: kv[1]):
            if name not in prompt.inputs:
                yield make_finding(
                    "undeclared-variable",
                    f"variable {name!r} is used but not declared in the inputs of {prompt.id!r}",
                    file,
                    line,
                    f"declare it under `inputs:` in {prompt.path}"
                    if can_declare
                    else "use a .prompt file with frontmatter (or a messages file with `messages:`) to declare inputs",
                    "error" if can_declare else "warning",
                )
        for name, line in fallback_used.items():
            if name not in prompt.inputs:
                yield make_finding(
                    "fallback",
                    f"fallback uses {name!r}, which is not a declared input",
                    prompt.path,
                    line,
                    "the fallback may use only the prompt's inputs",
                )
        for name in prompt.inputs:
            if name not in used and name not in fallback_used:
                yield make_finding(
                    "unused-input",
                    f"input {name!r} is declared but never used",
                    prompt.path,
                    prompt.line_of(f"inputs.{name}"),
                    "use it in the template or remove it",
                    "warning",
                )
