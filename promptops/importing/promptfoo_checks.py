"""promptfoo assertions and transforms as promptops's: the types with an equivalent mapped, inline python
checks written as functions, and javascript kept as commented python stubs that fail to run (an error, never a
pass) and that lint warns about until a person replaces them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import Plan
from .promptfoo_text import nunjucks_to_jinja

STUB_MARKER = "promptops: imported stub"  # lint's `imported-stub` rule looks for this line in a python check

SAME = {
    "equals", "contains", "icontains", "contains-any", "contains-all", "icontains-any", "icontains-all", "regex",
    "starts-with", "ends-with", "is-json", "llm-rubric", "latency", "cost",
}  # fmt: skip
RUBRIC_LIKE = {"model-graded-closedqa", "factuality", "g-eval", "answer-relevance", "model-graded-factuality"}
ASSERT_KEYS = {"type", "value", "threshold", "weight", "metric", "transform"}


@dataclass
class PythonChecks:
    """The python file of one imported suite: inline python checks, and stubs for javascript."""

    path: str  # relative to the repository root, e.g. evals/checks/support.py
    functions: list[str] = field(default_factory=list)
    stubs: int = 0
    _seen: dict[tuple[str, str], str] = field(default_factory=dict)  # the same code (a CSV column) written once

    def _name(self, kind: str) -> str:
        return f"{kind}_{len(self.functions) + 1}"

    def expression(self, code: str) -> str:
        """An inline promptfoo python check (an expression, or a body that returns) as a function; its ref."""
        if ("python", code) in self._seen:
            return self._seen[("python", code)]
        name = self._name("check")
        self._seen[("python", code)] = f"{self.path}:{name}"
        lines = code.strip("\n").splitlines()
        body = [f"    return {lines[0].strip()}"] if len(lines) == 1 else ["    " + line for line in _dedent(lines)]
        self.functions.append("\n".join([f"def {name}(output, context):", *body]))
        return f"{self.path}:{name}"

    def stub(self, language: str, code: str, kind: str) -> str:
        """A function that refuses to run, with the original code beside it; its ref."""
        if (kind, code) in self._seen:
            return self._seen[(kind, code)]
        name = self._name(kind)
        self._seen[(kind, code)] = f"{self.path}:{name}"
        self.stubs += 1
        quoted = "\n".join(f"    # {line}" for line in code.strip("\n").splitlines())
        self.functions.append(
            f"def {name}(output, context):\n"
            f"    # {STUB_MARKER}: the {language} below was imported from promptfoo; write it in python\n"
            f"    # (output is the model's answer as text; context['vars'] holds the case's vars).\n"
            f"{quoted}\n"
            f'    raise NotImplementedError("imported {language} {kind}: replace this stub in {self.path}")'
        )
        return f"{self.path}:{name}"

    def text(self) -> str:
        head = '"""Checks imported from promptfoo. A function marked as an imported stub fails until rewritten."""\n'
        return head + "\n\n" + "\n\n\n".join(self.functions) + "\n"


def _dedent(lines: list[str]) -> list[str]:
    indent = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
    return [x[indent:] for x in lines]


@dataclass
class Mapper:
    """Maps the assertions and transforms of one suite, reporting each to the plan."""

    plan: Plan
    checks: PythonChecks
    read_file: Callable[[str, str], str | None]  # (file:// path, where) -> text, or None (reported)

    def assertion(self, raw: Any, where: str, what: str) -> dict[str, Any] | None:
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            self.plan.review(where, what, "not an assertion with a `type`; left out")
            return None
        kind = raw["type"]
        negate, base = (True, kind[4:]) if kind.startswith("not-") else (False, kind)
        value, keys = raw.get("value"), dict(raw)
        if base in ("latency", "cost") and "threshold" in raw and value is None:  # promptfoo's limit is `threshold`
            value = keys.pop("threshold")
        out = self._typed(base, value, where, f"{what} ({kind})", kind)
        if out is None:
            return None
        if negate:
            out["type"] = "not-" + out["type"]
        for key in ("threshold", "weight", "metric"):
            if key in keys:
                out[key] = keys[key]
        if "transform" in raw:
            spec = self.transform(raw["transform"], where, f"{what}.transform")
            if spec is not None:
                out["transform"] = spec
        for key in sorted(set(raw) - ASSERT_KEYS):
            self.plan.review(where, f"{what}.{key}", f"assertion setting `{key}` has no promptops equivalent; left out")
        return out

    def _typed(self, base: str, value: Any, where: str, what: str, kind: str) -> dict[str, Any] | None:
        if isinstance(value, str) and value.startswith("file://") and base not in ("python", "javascript"):
            value = self._file_value(value, where, what)
        if base not in ("python", "javascript"):
            value = self._templated(value, where, what)
        if base in SAME:
            out: dict[str, Any] = {"type": base}
            if value is not None:
                out["value"] = value
            note = {"llm-rubric": " (graded by routing.yaml's `judge` model)", "is-json": " with its schema"}
            self.plan.mapped(where, what, kind + (note.get(base, "") if value is not None else ""))
            return out
        if base == "similar":
            self.plan.review(where, what, "similar: promptfoo compares embeddings, promptops compares the text "
                             "(difflib ratio); check the threshold")  # fmt: skip
            return {"type": "similar", "value": value}
        if base in RUBRIC_LIKE:
            self.plan.review(where, what, f"{base} became llm-rubric with the value as rubric; check the wording")
            return {"type": "llm-rubric", "value": str(value or base)}
        if base == "python":
            return {"type": "python", "value": self._python(value, where, what)}
        if base == "javascript":
            ref = self.checks.stub("javascript", str(value), "check")
            self.plan.review(where, what, f"javascript kept as a commented python stub in {ref}: rewrite it")
            return {"type": "python", "value": ref}
        self.plan.review(where, what, f"assertion type `{base}` has no promptops equivalent; left out")
        return None

    def _templated(self, value: Any, where: str, what: str) -> Any:
        """An assertion value's Nunjucks (promptfoo renders values from the vars too) read as Jinja2."""
        if isinstance(value, list):
            return [self._templated(v, where, what) for v in value]
        if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
            return value
        new, notes = nunjucks_to_jinja(value)
        for _, note, review in notes:
            (self.plan.review if review else self.plan.mapped)(where, f"{what}.value", note)
        return new

    def _python(self, value: Any, where: str, what: str) -> str:
        if isinstance(value, str) and value.startswith("file://"):
            path, _, function = value[len("file://") :].partition(":")
            text = self.read_file(path, where)
            if text is None:
                return self.checks.stub("python", value, "check")
            name = re.sub(r"[^A-Za-z0-9_]", "_", path.rsplit("/", 1)[-1].removesuffix(".py"))
            target = f"evals/checks/{name}.py"
            self.plan.files[target] = text
            self.plan.mapped(where, what, f"python file copied to {target}")
            return f"{target}:{function or 'get_assert'}"
        ref = self.checks.expression(str(value))
        self.plan.mapped(where, what, f"inline python became {ref}")
        return ref

    def _file_value(self, value: str, where: str, what: str) -> Any:
        text = self.read_file(value[len("file://") :], where)
        if text is not None:
            self.plan.mapped(where, what, f"value read from {value}")
        return text

    def transform(self, code: Any, where: str, what: str) -> Any:
        """A promptfoo transform (javascript, or file://) as promptops transform steps."""
        if not isinstance(code, str):
            self.plan.review(where, what, "a transform that is not text; left out")
            return None
        steps = js_transform(code)
        if steps is not None:
            self.plan.mapped(where, what, f"transform {code.strip()!r} became {json.dumps(steps)}")
            return steps
        ref = self.checks.stub("javascript", code, "transform")
        self.plan.review(where, what, f"transform kept as a commented python stub in {ref}: rewrite it")
        return {"python": ref}


_PROP = r"[A-Za-z_$][A-Za-z0-9_$]*"
_ACCESS = re.compile(rf"^((?:\.{_PROP}|\[\d+\]|\[['\"][^'\"]+['\"]\])+)$")


def js_transform(code: str) -> list[Any] | None:
    """The transforms whose meaning is certain, as steps; None for anything else (it becomes a stub)."""
    text = code.strip().removesuffix(";").strip()
    text = re.sub(r"^return\s+", "", text)
    simple: dict[str, list[Any]] = {
        "output.trim()": ["strip"],
        "output.toLowerCase()": ["lower"],
        "output.trim().toLowerCase()": ["strip", "lower"],
        "output.toLowerCase().trim()": ["lower", "strip"],
        "JSON.parse(output)": [{"json-path": "$"}],
    }
    if text in simple:
        return simple[text]
    for head in ("JSON.parse(output)", "output"):
        if text.startswith(head):
            rest = text[len(head) :]
            if _ACCESS.match(rest):
                path = "$" + re.sub(r"\[['\"]([^'\"]+)['\"]\]", r"['\1']", rest)
                return [{"json-path": path}]
    return None


_EXPECTED = re.compile(r"^(not-)?([a-z-]+)(?:\(([0-9.]+)\))?:(.*)$", re.DOTALL)
_EXPECTED_ALIASES = {"fn": "javascript", "eval": "javascript", "grade": "llm-rubric"}
_EXPECTED_KINDS = SAME | RUBRIC_LIKE | set(_EXPECTED_ALIASES) | {
    "python", "javascript", "similar", "levenshtein", "rouge-n", "bleu", "contains-json", "webhook", "perplexity",
}  # fmt: skip


def expected_assertion(text: str) -> dict[str, Any]:
    """A CSV `__expected` cell as a promptfoo assertion: `type: value`, `type(threshold): value`, or plain text
    (equals)."""
    if text.strip() in ("is-json", "not-is-json", "contains-json", "is-xml", "is-sql"):
        return {"type": text.strip()}
    match = _EXPECTED.match(text)
    if match is None:
        return {"type": "equals", "value": text}
    negate, kind, threshold, value = match.groups()
    if kind not in _EXPECTED_KINDS:
        return {"type": "equals", "value": text}
    kind = _EXPECTED_ALIASES.get(kind, kind)
    value = value.strip()
    raw: dict[str, Any] = {"type": (negate or "") + kind}
    if kind in ("contains-any", "contains-all", "icontains-any", "icontains-all"):
        raw["value"] = [v.strip() for v in value.split(",") if v.strip()]
    elif value:
        raw["value"] = value
    if threshold:
        raw["threshold"] = float(threshold)
    return raw
