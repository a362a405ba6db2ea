"""Sandboxed Jinja2 rendering, role markers, input checks and the include graph. With sandbox.py (the budgeted
sandbox) the only jinja2 importers. Over 400 lines: the static analysis, rendering and error locations share
the compiled-template state of one Renderer."""

from __future__ import annotations

import copy
import difflib
import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.bccache import Bucket
from jinja2.sandbox import SecurityError

from . import pinned, redaction, validation
from .budget import Clock, OverBudget
from .errors import InputError
from .model import ROLES, Message, Prompt, Snapshot
from .sandbox import LOOP_FILTER, SAFE_GLOBALS, BudgetedSandbox

MARKER = re.compile(r"^[ \t]*(" + "|".join(ROLES) + r"):[ \t]*\r?$", re.MULTILINE)
# Wraps a role line once it is marked for the split (with the renderer's nonce). A private-use character: not
# whitespace, so Jinja's whitespace control (`{{- x }}`, `-%}`) next to a role line cannot strip it (with the
# record separator \x1e, which Python counts as whitespace, it did, and the marker leaked into the message).
ROLE_MARK = "\ue000"
SOURCE = "source"  # the template function that reads a pinned document (promptops.pinned)
FORBIDDEN_NAMES = frozenset({"self", "cycler", "joiner", "namespace", "lipsum"})


class RenderError(InputError):
    """A template problem: syntax, an undefined variable, an unsafe access, a missing partial, a cycle."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        hint: str | None = None,
        rule: str = "template",
    ) -> None:
        super().__init__(message, file=file, line=line, hint=hint)
        self.rule = rule


@dataclass
class TemplateInfo:
    """What static analysis knows of one template (a prompt body or a partial)."""

    name: str
    file: str
    first_line: int
    variables: dict[str, int] = field(default_factory=dict)  # name -> first line used
    includes: dict[str, int] = field(default_factory=dict)  # template name -> line
    dynamic_includes: list[int] = field(default_factory=list)
    forbidden: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)  # literal source("path") calls -> line
    error: RenderError | None = None
    # The pieces of a template made only of text and `{{ variable }}` outputs (the body of most prompts), in
    # order: (text, False) or (variable name, True); None for any other (it renders through Jinja2).
    pieces: tuple[tuple[str, bool], ...] | None = None


class _Loader(jinja2.BaseLoader):
    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Any]:
        text = self.renderer.template_text(template)
        if text is None:
            raise jinja2.TemplateNotFound(template)
        return self.renderer.mark_roles(text), template, lambda: True


class _Compiled(jinja2.BytecodeCache):
    """Compiled templates kept in memory by name and text (jinja2's bucket key and source checksum)."""

    def __init__(self) -> None:
        self._code: dict[tuple[str, str], Any] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        bucket.code = self._code.get((bucket.key, bucket.checksum))

    def dump_bytecode(self, bucket: Bucket) -> None:
        if bucket.code is not None:
            self._code[(bucket.key, bucket.checksum)] = bucket.code


class Shared:
    """What the renderers of two versions of one project share, so a template with the same text on both
    sides is analysed and compiled once (a diff renders both sides of every prompt a change reaches): one
    role-marker nonce, so the same text is marked the same way, the compiled code and the static analysis."""

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(8)
        self.compiled = _Compiled()
        self.infos: dict[tuple[str, str, int, str], TemplateInfo] = {}  # (name, file, first line, text) -> info


class Renderer:
    """Renders the prompts of one snapshot. Templates are compiled once and reused (with `shared`, once for
    every renderer sharing it)."""

    def __init__(self, snapshot: Snapshot, shared: Shared | None = None) -> None:
        self.snapshot = snapshot
        self._shared = shared
        self._nonce = shared.nonce if shared is not None else secrets.token_hex(8)
        self._sentinel = re.compile(ROLE_MARK + self._nonce + r":(\w+)" + ROLE_MARK + r"\n?")
        self.clock = Clock()
        self.env = BudgetedSandbox(
            self.clock,
            loader=_Loader(self),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            auto_reload=False,
            cache_size=-1,
            bytecode_cache=shared.compiled if shared is not None else None,
        )
        read = snapshot.read
        documents = pinned.Documents(read, snapshot.pins) if read is not None else None
        self.env.globals[SOURCE] = pinned.source_function(documents)
        self._by_name: dict[str, Prompt] = {
            p.path[len(snapshot.config.prompts_dir) + 1 :] if snapshot.config.prompts_dir else p.path: p
            for p in snapshot.prompts.values()
        }
        self._info: dict[str, TemplateInfo] = {}
        # Compiled once per renderer: a runtime renders the same prompts and fallbacks on every call.
        self._strings: dict[str, jinja2.Template] = {}
        self._validators: dict[str, Any] = {}
        self._fast: dict[str, validation.Check | None] = {}  # compiled checks of the inputs schemas
        self._inputs: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {}  # defaults and required inputs
        self._renders: set[str] = set()  # prompts found to have no problems (see render_checked)

    # -- template lookup -------------------------------------------------------------------------------------
    def template_text(self, name: str) -> str | None:
        """The text behind an include name (a path relative to prompts/); only files inside prompts/."""
        if name.startswith("/") or ".." in name.split("/"):
            return None
        if name in self.snapshot.partials:
            return self.snapshot.partials[name].body
        prompt = self._by_name.get(name)
        return prompt.body if prompt else None

    def file_of(self, name: str) -> tuple[str, int]:
        if name in self.snapshot.partials:
            return self.snapshot.partials[name].path, 1
        prompt = self._by_name[name]
        return prompt.path, prompt.body_line

    def mark_roles(self, text: str) -> str:
        return MARKER.sub(lambda m: f"{ROLE_MARK}{self._nonce}:{m.group(1)}{ROLE_MARK}", text)

    def name_of(self, prompt: Prompt) -> str:
        prefix = self.snapshot.config.prompts_dir
        return prompt.path[len(prefix) + 1 :] if prefix else prompt.path

    # -- static analysis -------------------------------------------------------------------------------------
    def info(self, name: str) -> TemplateInfo:
        """Variables, includes and forbidden names of one template, parsed once."""
        if name in self._info:
            return self._info[name]
        file, first = self.file_of(name)
        text = self.template_text(name) or ""
        key = (name, file, first, text)
        if self._shared is not None and key in self._shared.infos:
            self._info[name] = self._shared.infos[key]
            return self._info[name]
        info = self._info[name] = self._analyse(name, file, first, text)
        if self._shared is not None:
            self._shared.infos[key] = info
        return info

    def _analyse(self, name: str, file: str, first: int, text: str) -> TemplateInfo:
        info = TemplateInfo(name=name, file=file, first_line=first)
        try:
            ast = self.env.parse(self.mark_roles(text), name=name)
        except (RecursionError, MemoryError):
            info.error = RenderError(
                "template is nested too deeply to parse",
                file=file,
                line=first,
                hint="flatten the nesting",
                rule="template-syntax",
            )
            return info
        except jinja2.TemplateSyntaxError as exc:
            info.error = RenderError(
                f"template syntax error: {exc.message}",
                file=file,
                line=(exc.lineno or 1) + first - 1,
                hint="fix the Jinja2 syntax on this line",
                rule="template-syntax",
            )
            return info
        info.error = self._unknown_filter(ast, file, first)
        if info.error is not None:
            return info
        info.pieces = _pieces(ast)
        undeclared = meta.find_undeclared_variables(ast)
        for node in ast.find_all(nodes.Name):
            line = node.lineno + first - 1
            if node.name in FORBIDDEN_NAMES:
                info.forbidden.setdefault(node.name, line)
            elif node.name in undeclared and node.name not in SAFE_GLOBALS and node.name != SOURCE:
                info.variables.setdefault(node.name, line)
        for call in ast.find_all(nodes.Call):
            named = isinstance(call.node, nodes.Name) and call.node.name == SOURCE
            if named and call.args and isinstance(call.args[0], nodes.Const) and isinstance(call.args[0].value, str):
                info.sources.setdefault(call.args[0].value, call.lineno + first - 1)
        for inc in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
            target = getattr(inc, "template", None)
            if isinstance(target, nodes.Const) and isinstance(target.value, str):
                info.includes.setdefault(target.value, inc.lineno + first - 1)
            else:
                info.dynamic_includes.append(inc.lineno + first - 1)
        return info

    def _unknown_filter(self, ast: nodes.Template, file: str, first: int) -> RenderError | None:
        """A filter or test name that does not exist (`{{ q|nosuch }}`), found before anything renders."""
        for node in ast.find_all((nodes.Filter, nodes.Test)):
            is_filter = isinstance(node, nodes.Filter)
            known = self.env.filters if is_filter else self.env.tests
            if node.name is None or node.name in known:
                continue
            names = [n for n in known if n != LOOP_FILTER]
            close = difflib.get_close_matches(node.name, names, n=1)
            kind = "filter" if is_filter else "test"
            return RenderError(
                f"unknown {kind} {node.name!r}",
                file=file,
                line=node.lineno + first - 1,
                hint=f"did you mean {close[0]!r}?" if close else f"known {kind}s: {', '.join(sorted(names))}",
                rule="template-syntax",
            )
        return None

    def closure(self, name: str) -> tuple[list[TemplateInfo], list[RenderError]]:
        """A template and everything it includes, transitively, with missing partials and cycles as errors."""
        seen: dict[str, TemplateInfo] = {}
        errors: list[RenderError] = []
        reported_cycles: set[frozenset[str]] = set()

        def visit(current: str, stack: list[str]) -> None:
            info = self.info(current)
            seen[current] = info
            for target, line in info.includes.items():
                if target in stack or target == current:
                    members = [*stack[stack.index(target) :], current] if target in stack else [current]
                    # Start the cycle at its smallest name so every prompt reaching it reports it the same way.
                    start = members.index(min(members))
                    members = members[start:] + members[:start]
                    key = frozenset(members)
                    if key not in reported_cycles:
                        reported_cycles.add(key)
                        last = self.info(members[-1])
                        errors.append(
                            RenderError(
                                "include cycle: " + " -> ".join([*members, members[0]]),
                                file=last.file,
                                line=last.includes.get(members[0], line),
                                hint="break the cycle by moving the shared text into a new partial",
                                rule="include-cycle",
                            )
                        )
                    continue
                if self.template_text(target) is None:
                    errors.append(
                        RenderError(
                            f"unknown partial {target!r}",
                            file=info.file,
                            line=line,
                            hint=self._suggest(target),
                            rule="unknown-partial",
                        )
                    )
                    continue
                if target not in seen:
                    visit(target, [*stack, current])

        visit(name, [])
        return list(seen.values()), errors

    def _suggest(self, target: str) -> str:
        known = sorted(self.snapshot.partials)
        close = difflib.get_close_matches(target, known, n=1)
        if close:
            return f"did you mean {close[0]!r}? Includes are paths relative to the prompts directory"
        return 'includes are paths relative to the prompts directory, e.g. {% include "shared/_tone.j2" %}'

    def used_variables(self, prompt: Prompt) -> dict[str, tuple[str, int]]:
        """Every variable the prompt's template reads, with the file and line of its first use."""
        found: dict[str, tuple[str, int]] = {}
        for info in self.closure(self.name_of(prompt))[0]:
            for var, line in info.variables.items():
                found.setdefault(var, (info.file, line))
        return found

    def free_variables(self, source: str) -> list[str]:
        """The variables a template string reads and does not set itself, in the order they appear; RenderError
        when it does not parse."""
        try:
            ast = self.env.parse(source)
        except (RecursionError, MemoryError):
            raise RenderError("template is nested too deeply to parse") from None
        except jinja2.TemplateSyntaxError as exc:
            raise RenderError(f"template syntax error: {exc.message}") from None
        undeclared = meta.find_undeclared_variables(ast)
        return list(dict.fromkeys(n.name for n in ast.find_all(nodes.Name) if n.name in undeclared))

    def problems(self, prompt: Prompt) -> list[RenderError]:
        """Everything that keeps a prompt from rendering, before any variable is given."""
        infos, errors = self.closure(self.name_of(prompt))
        out = [i.error for i in infos if i.error] + errors
        for info in infos:
            for path, line in info.sources.items():
                if not pinned.listed(prompt, path):
                    out.append(
                        RenderError(
                            f"source({path!r}) is not among the documents prompt {prompt.id!r} lists under `sources`",
                            file=info.file,
                            line=line,
                            hint="add the path (or a glob that matches it) to the prompt's `sources`",
                            rule="unlisted-source",
                        )
                    )
            for name, line in info.forbidden.items():
                out.append(
                    RenderError(
                        f"{name!r} is not available in promptops templates",
                        file=info.file,
                        line=line,
                        hint="templates are sandboxed; use plain variables and filters",
                        rule="unsafe-template",
                    )
                )
        return out

    def fingerprint(self, prompt: Prompt) -> str:
        """A digest of everything that shapes a prompt's messages: its file and every template it reaches."""
        parts = [repr(sorted((k, str(v)) for k, v in vars(prompt).items() if k != "lines"))]
        for info in sorted(self.closure(self.name_of(prompt))[0], key=lambda i: i.name):
            parts.append(f"{info.name}\x00{self.template_text(info.name)}")
        return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()

    # -- rendering -------------------------------------------------------------------------------------------
    def prompt(self, prompt_id: str) -> Prompt:
        if prompt_id in self.snapshot.prompts:
            return self.snapshot.prompts[prompt_id]
        bad = [
            p
            for p in self.snapshot.problems
            if p.file.startswith(self.snapshot.config.prompts_dir + "/")
            and p.file.rsplit(".", 1)[0].endswith(prompt_id)
            and p.severity == "error"
        ]
        if bad:
            raise InputError(bad[0].message, file=bad[0].file, line=bad[0].line, hint=bad[0].hint or None)
        close = difflib.get_close_matches(prompt_id, list(self.snapshot.prompts), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "run `promptops list` to see the prompt ids"
        raise InputError(f"unknown prompt {prompt_id!r}", hint=hint)

    def check_inputs(self, prompt: Prompt, variables: Mapping[str, Any]) -> dict[str, Any]:
        """Validate variables against the prompt's inputs; returns them with defaults filled in."""
        if prompt.id not in self._inputs:  # read once a prompt: an eval checks the variables of every case
            defaults = {n: s["default"] for n, s in prompt.inputs.items() if isinstance(s, Mapping) and "default" in s}
            self._inputs[prompt.id] = (defaults, prompt.required_inputs)
        defaults, required = self._inputs[prompt.id]
        values = dict(variables)
        for name, default in defaults.items():
            if name not in values:
                values[name] = default
        missing = [r for r in required if r not in values]
        if missing:
            raise InputError(
                f"missing input {missing[0]!r} for prompt {prompt.id!r}",
                file=prompt.path,
                line=prompt.line_of("inputs"),
                hint=f"pass it with --var {missing[0]}=VALUE",
            )
        if prompt.id not in self._fast:
            self._fast[prompt.id] = validation.fast_check(prompt.inputs_schema) if prompt.inputs else None
        if self._passes_fast(prompt, values):
            return values  # the common case: jsonschema is needed only to word what is wrong
        if prompt.id not in self._validators:
            self._validators[prompt.id] = inputs_validator(prompt)
        problem = input_problem(prompt, values, self._validators[prompt.id])
        if problem is not None:
            where, detail = problem
            raise InputError(
                f"input {where or 'inputs'}: {detail}",
                file=prompt.path,
                line=prompt.line_of("inputs"),
                hint="give a value that fits the prompt's inputs schema",
            )
        return values

    def _passes_fast(self, prompt: Prompt, values: Mapping[str, Any]) -> bool:
        """True when the compiled check of the inputs schema passes the values. A pattern over its time budget
        is no pass: the full validator meets it again and reports it."""
        fast = self._fast[prompt.id]
        try:
            return fast is not None and fast(values)
        except OverBudget:
            return False

    def render(self, prompt_id: str, variables: Mapping[str, Any]) -> list[Message]:
        """The messages of a prompt for the given variables."""
        return self.render_traced(prompt_id, variables)[0]

    def render_shown(self, prompt_id: str, variables: Mapping[str, Any], env: Mapping[str, str]) -> list[Message]:
        """The messages as they may be shown (`promptops render`): the API keys of `env` and anything shaped like
        a key are scrubbed, as from eval results (a template or a pinned document can hold one)."""
        return shown(self.render(prompt_id, variables), redaction.project_secrets(self.snapshot, env))

    def render_traced(self, prompt_id: str, variables: Mapping[str, Any]) -> tuple[list[Message], dict[str, str]]:
        """The messages, and the pinned documents the render read through `source()` (path -> digest)."""
        prompt = self.prompt(prompt_id)
        return self.render_checked(prompt, self.check_inputs(prompt, variables))

    def render_checked(self, prompt: Prompt, values: Mapping[str, Any]) -> tuple[list[Message], dict[str, str]]:
        """render_traced for values `check_inputs` returned (an eval checks each case's once, then renders)."""
        if prompt.id not in self._renders:  # a prompt's problems do not change: an eval renders it per case
            problems = self.problems(prompt)
            if problems:
                raise problems[0]
            self._renders.add(prompt.id)
        name = self.name_of(prompt)
        pieces = self.info(name).pieces
        if pieces is not None and all(piece in values for piece, is_name in pieces if is_name):
            # Text and variables only: what Jinja2 would write (`str` of each value), without running it. A
            # missing variable, or an output past the budget, renders through Jinja2, which reports it.
            text = "".join(str(values[piece]) if is_name else piece for piece, is_name in pieces)
            if len(text) <= self.clock.chars:
                return self._split(text, prompt), {}
        with pinned.rendering(prompt) as used:
            text = self._run(name, _private(values), prompt)  # a template never touches ours
        return self._split(text, prompt), dict(used)

    def render_text(
        self,
        prompt: Prompt,
        template: str,
        variables: Mapping[str, Any],
        what: str,
        used: dict[str, str] | None = None,
    ) -> str:
        """Render a template string (a fallback answer) in the same sandbox; the pinned documents it reads are
        added to `used` (path -> digest) when given."""
        try:
            compiled = self._strings.get(template) or self._strings.setdefault(template, self.env.from_string(template))
        except (RecursionError, MemoryError, SyntaxError):
            raise RenderError(
                f"{what}: template is too deeply nested",
                file=prompt.path,
                line=prompt.line_of("fallback"),
                rule="template-syntax",
            ) from None
        except jinja2.TemplateSyntaxError as exc:
            raise RenderError(
                f"{what}: template syntax error: {exc.message}",
                file=prompt.path,
                line=prompt.line_of("fallback"),
                rule="template-syntax",
            ) from None
        with pinned.rendering(prompt) as read:
            text = self._execute(compiled, _private(variables), prompt.path, prompt.line_of("fallback"), what)
        if used is not None:
            used.update(read)
        return text

    def _run(self, name: str, values: dict[str, Any], prompt: Prompt) -> str:
        try:
            template = self.env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:  # what only compiling finds (problems() finds the rest first)
            known = exc.name is not None and self.template_text(exc.name) is not None
            path, start = self.file_of(exc.name) if known and exc.name else (prompt.path, prompt.body_line)
            raise RenderError(
                f"prompt {prompt.id!r}: template error: {exc.message}",
                file=path,
                line=(exc.lineno or 1) + start - 1,
                rule="template-syntax",
            ) from None
        except (RecursionError, MemoryError, SyntaxError) as exc:
            # Python's own compiler limits (e.g. "too many statically nested blocks").
            why = exc.msg if isinstance(exc, SyntaxError) else type(exc).__name__
            raise RenderError(
                f"prompt {prompt.id!r}: template is too deeply nested to compile ({why})",
                file=prompt.path,
                line=prompt.body_line,
                hint="flatten the nesting",
                rule="template-syntax",
            ) from None
        return self._execute(template, values, prompt.path, prompt.body_line, f"prompt {prompt.id!r}")

    def _execute(self, template: jinja2.Template, values: dict[str, Any], file: str, first: int, what: str) -> str:
        self.clock.start()
        try:
            return self._collect(template.generate(values))
        except OverBudget as exc:
            f, line = self._error_location(exc, file, first)
            raise RenderError(
                f"{what}: {exc}; stopped",
                file=f,
                line=line,
                hint="templates must render quickly and compactly: bound the loops and the sizes this line makes",
            ) from None
        except pinned.SourceError as exc:  # where the template asked for the document
            exc.file, exc.line = self._error_location(exc, file, first)
            raise
        except jinja2.UndefinedError as exc:
            f, line = self._error_location(exc, file, first)
            raise RenderError(
                f"{what}: {exc.message}",
                file=f,
                line=line,
                hint="pass the variable (--var NAME=VALUE), or declare a default under inputs",
            ) from None
        except SecurityError as exc:
            f, line = self._error_location(exc, file, first)
            raise RenderError(f"{what}: unsafe template operation refused: {exc}", file=f, line=line) from None
        except jinja2.TemplateError as exc:
            f, line = self._error_location(exc, file, first)
            raise RenderError(f"{what}: {exc.message or exc}", file=f, line=line) from None
        except (RecursionError, MemoryError) as exc:
            raise RenderError(
                f"{what}: rendering ran away ({type(exc).__name__}); is a macro or include recursive?",
                file=file,
                line=first,
                hint="remove the recursion",
            ) from None
        except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError, AssertionError) as exc:
            # A filter's own argument check (`truncate(-5)` asserts), or a bad operand.
            f, line = self._error_location(exc, file, first)
            raise RenderError(f"{what}: template error: {exc or type(exc).__name__}", file=f, line=line) from None
        finally:
            self.clock.stop()

    def _collect(self, chunks: Any) -> str:
        """The output of a render, refused as soon as it grows past the budget."""
        out: list[str] = []
        size = 0
        for chunk in chunks:
            size += len(chunk)
            self.clock.size(size)
            self.clock.tick()
            out.append(chunk)
        return "".join(out)

    def _error_location(self, exc: BaseException, file: str, first: int) -> tuple[str, int]:
        tb = exc.__traceback__
        found: tuple[str, int] | None = None
        while tb is not None:
            name = tb.tb_frame.f_code.co_filename
            if self.template_text(name) is not None:
                path, start = self.file_of(name)
                found = (path, tb.tb_lineno + start - 1)
            elif name == "<template>":
                found = (file, first)
            tb = tb.tb_next
        return found or (file, first)

    def _split(self, text: str, prompt: Prompt) -> list[Message]:
        parts = self._sentinel.split(text)
        head, rest = parts[0], parts[1:]
        if not rest:
            text = _clean(head)
            return [Message("user", text)] if text else []
        if head.strip():
            raise RenderError(
                "text before the first role marker",
                file=prompt.path,
                line=prompt.body_line,
                hint="start the body with a line such as `system:` or `user:`",
            )
        messages = []
        for role, content in zip(rest[0::2], rest[1::2], strict=False):
            text = _clean(content)
            if text:
                messages.append(Message(role, text))
        return messages


def _pieces(ast: nodes.Template) -> tuple[tuple[str, bool], ...] | None:
    pieces: list[tuple[str, bool]] = []
    for node in ast.body:
        if type(node) is not nodes.Output:
            return None
        for child in node.nodes:
            if type(child) is nodes.TemplateData:
                pieces.append((child.data, False))
            elif type(child) is nodes.Name and child.ctx == "load":
                pieces.append((child.name, True))
            else:
                return None
    return tuple(pieces)


def inputs_validator(prompt: Prompt) -> Any:
    """The validator of a prompt's inputs schema (None when it declares no inputs)."""
    return validation.validator(prompt.inputs_schema) if prompt.inputs else None


def input_problem(prompt: Prompt, values: Mapping[str, Any], validator: Any = None) -> tuple[str, str] | None:
    """(var path, what is wrong) when values do not fit the prompt's inputs schema, else None."""
    if not prompt.inputs:
        return None
    validator = validator or inputs_validator(prompt)
    try:
        error = validation.best_error(validator.iter_errors(dict(values)))
    except validation.UnresolvableRef as exc:
        return "", f"the inputs schema of {prompt.id!r} has a $ref that cannot be resolved: {exc}"
    except OverBudget as exc:
        return "", f"a `pattern` of the inputs schema of {prompt.id!r}: {exc}"
    if error is None:
        return None
    return ".".join(str(p) for p in error.absolute_path), error.message


def _clean(text: str) -> str:
    return text.strip("\n").rstrip()


def template_variables(text: str) -> list[str]:
    """The variables a template string reads and does not set, in order (for writers of prompts, such as an
    import); RenderError with the line when it does not parse. Parses only: nothing is rendered."""
    env = jinja2.Environment(autoescape=False)
    try:
        ast = env.parse(text)
        undeclared = meta.find_undeclared_variables(ast)  # compiles: an unknown filter fails here
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"template error: {exc.message}", line=exc.lineno) from None
    except (RecursionError, MemoryError):
        raise RenderError("template is nested too deeply to parse") from None
    return list(dict.fromkeys(n.name for n in ast.find_all(nodes.Name) if n.name in undeclared))


def builtin_filters() -> frozenset[str]:
    """The filter names a template may use."""
    return frozenset(jinja2.filters.FILTERS)


_SCALARS = (str, int, float, bool, type(None))


def _private(values: Mapping[str, Any]) -> dict[str, Any]:
    """The template's own copy of the variables: a plain dict when every value is immutable (most cases), a
    deep copy only when a list or mapping could be reached from the template."""
    if all(isinstance(v, _SCALARS) for v in values.values()):
        return dict(values)
    return copy.deepcopy(dict(values))


def shown(messages: Sequence[Message], secrets: Sequence[str]) -> list[Message]:
    """Messages with the given key values, and anything shaped like a key, scrubbed from their content."""
    return [Message(m.role, redaction.scrub(m.content, secrets)) for m in messages]
