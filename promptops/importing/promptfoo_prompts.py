"""promptfoo prompts as prompt files: inline text, file:// paths (globs too), `---`-separated multi-prompt files,
chat messages (JSON/YAML role lists) as messages files, Nunjucks read as Jinja2 with each difference noted."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from .. import yamltext
from ..errors import InputError
from ..model import ROLES
from ..render import template_variables
from . import Plan
from .promptfoo_text import nunjucks_to_jinja, without_unknown_filters

if TYPE_CHECKING:
    from .promptfoo import Source

TEXT_FILES = (".txt", ".md", ".j2", ".njk", ".nunjucks", ".prompt", ".jinja", ".jinja2")
CHAT_FILES = (".json", ".yaml", ".yml", ".jsonl")
AFFIX = ("promptfoo_prefix", "promptfoo_suffix")
_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)


@dataclass
class ImportedPrompt:
    label: str
    where: str
    text: str | None = None  # a text prompt
    messages: list[dict[str, str]] | None = None  # a chat prompt
    id: str = ""
    variables: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"prompts/{self.id}.prompt" if self.messages is None else f"prompts/{self.id}.yaml"


@dataclass
class Prompts:
    src: Source
    plan: Plan
    base: str
    found: list[ImportedPrompt] = field(default_factory=list)

    def read(self, raw: Any) -> None:
        if isinstance(raw, dict):  # the older form: {file path: label}
            items: list[Any] = [{"id": k, "label": v} for k, v in raw.items()]
        else:
            items = raw if isinstance(raw, list) else [raw] if raw is not None else []
        for i, item in enumerate(items):
            where = self.src.where("prompts", i) if isinstance(raw, list) else self.src.where("prompts")
            self._one(item, where, f"prompts[{i}]")
        if not self.found:
            self.plan.review(self.src.where("prompts"), "prompts", "no prompt could be imported: write one")
        self._name()

    def _one(self, item: Any, where: str, what: str) -> None:
        label = ""
        if isinstance(item, dict):
            label = str(item.get("label") or "")
            for key in sorted(set(item) - {"id", "raw", "label"}):
                self.plan.review(where, f"{what}.{key}", f"prompt setting `{key}` has no promptops equivalent")
            item = item.get("raw") or item.get("id")
        if not isinstance(item, str) or not item.strip():
            self.plan.review(where, what, "not a prompt text or file:// path; left out")
            return
        if item.startswith("file://"):
            self._files(item[len("file://") :], label, where, what)
            return
        chat = _chat(item)
        if chat is not None:
            self._add(ImportedPrompt(label, where, messages=chat), what, "inline chat messages")
        else:
            self._add(ImportedPrompt(label, where, text=item.rstrip("\n") + "\n"), what, "inline prompt")

    def _files(self, spec: str, label: str, where: str, what: str) -> None:
        if ":" in spec.split("/")[-1] or spec.endswith((".py", ".js", ".ts")):
            self.plan.review(where, what, f"a prompt function ({spec}) cannot be imported: write its output as a "
                             "template")  # fmt: skip
            return
        paths = sorted(self.src.dir.glob(spec)) if any(c in spec for c in "*?[") else [self.src.dir / spec]
        if not paths:
            self.plan.review(where, what, f"{spec} matches no file; left out")
        for path in paths:
            rel = path.relative_to(self.src.dir).as_posix() if path.is_relative_to(self.src.dir) else str(path)
            text = self.src.read(rel, where, self.plan)
            if text is None:
                continue
            stem = label or path.stem
            if rel.endswith(CHAT_FILES):
                self._chat_file(text, rel, stem, where, what)
                continue
            if not rel.endswith(TEXT_FILES):
                self.plan.review(where, what, f"{rel}: read as a text prompt (unknown extension)")
            parts = [p for p in _SEPARATOR.split(text) if p.strip()]
            for n, part in enumerate(parts, 1):
                name = stem if len(parts) == 1 else f"{stem}-{n}"
                first = text.count("\n", 0, text.find(part)) + 1
                self._add(ImportedPrompt(name, f"{rel}:{first}", text=part.strip("\n") + "\n"), what, f"from {rel}")

    def _chat_file(self, text: str, rel: str, stem: str, where: str, what: str) -> None:
        try:
            data, _ = yamltext.parse(text, rel)
        except InputError as exc:
            self.plan.review(where, what, f"{rel} does not parse ({exc.message}); left out")
            return
        chat = _chat(data)
        if chat is None:
            self.plan.review(where, what, f"{rel} is not a list of {{role, content}} messages; left out")
            return
        self._add(ImportedPrompt(stem, f"{rel}:1", messages=chat), what, f"chat messages from {rel}")

    def _add(self, prompt: ImportedPrompt, what: str, how: str) -> None:
        texts = [prompt.text] if prompt.text is not None else [m["content"] for m in prompt.messages or []]
        converted = []
        file, _, line = prompt.where.rpartition(":")
        for text in texts:
            new, notes = nunjucks_to_jinja(text)
            converted.append(new)
            for n, note, review in notes:
                at = f"{file}:{int(line) + n - 1}" if not file.endswith(self.src.config.name) else prompt.where
                (self.plan.review if review else self.plan.mapped)(at, what, note)
        if prompt.text is not None:
            prompt.text = converted[0]
        else:
            prompt.messages = [{**m, "content": c} for m, c in zip(prompt.messages or [], converted, strict=True)]
        prompt.variables = self._variables(converted, prompt.where, what)
        self.found.append(prompt)
        self.plan.mapped(prompt.where, what, how)

    def _variables(self, texts: list[str], where: str, what: str) -> list[str]:
        names: list[str] = []
        for text in texts:
            try:
                names += [n for n in template_variables(without_unknown_filters(text)) if n not in names]
            except InputError as exc:
                self.plan.review(where, what, f"the template does not parse as Jinja2: {exc.message}; fix it")
        return names

    def _name(self) -> None:
        taken: set[str] = set()
        for n, prompt in enumerate(self.found, 1):
            slug = re.sub(r"[^A-Za-z0-9_-]+", "-", prompt.label).strip("-") or f"prompt-{n}"
            pid = self.base if len(self.found) == 1 else f"{self.base}/{slug}"
            while pid in taken:
                pid += "-2"
            taken.add(pid)
            prompt.id = pid

    def files(self, affix: bool) -> dict[str, str]:
        """The prompt files; with `affix`, each takes the CSV __prefix/__suffix as optional inputs."""
        return {p.path: _prompt_file(p, affix) for p in self.found}


def _chat(data: Any) -> list[dict[str, str]] | None:
    if isinstance(data, str):
        if not data.lstrip().startswith("["):
            return None
        try:
            data = json.loads(data)
        except ValueError:
            return None
    if not isinstance(data, list) or not data:
        return None
    ok = all(isinstance(m, dict) and m.get("role") in ROLES and isinstance(m.get("content"), str) for m in data)
    return [{"role": m["role"], "content": m["content"]} for m in data] if ok else None


def _prompt_file(prompt: ImportedPrompt, affix: bool) -> str:
    inputs: dict[str, Any] = {name: {} for name in prompt.variables}
    if affix:
        inputs.update({name: {"type": "string", "default": ""} for name in AFFIX})
    front: dict[str, Any] = {"description": f"Imported from promptfoo ({prompt.where})"}
    if inputs:
        front["inputs"] = inputs
    if prompt.messages is not None:
        messages = [dict(m) for m in prompt.messages]
        if affix:
            last = (
                max(i for i, m in enumerate(messages) if m["role"] == "user")
                if any(m["role"] == "user" for m in messages)
                else len(messages) - 1
            )
            messages[last]["content"] = "{{ promptfoo_prefix }}" + messages[last]["content"] + "{{ promptfoo_suffix }}"
        return yaml.safe_dump({**front, "messages": messages}, sort_keys=False, allow_unicode=True, width=120)
    body = prompt.text or ""
    if affix:
        body = "{{ promptfoo_prefix }}" + body.rstrip("\n") + "{{ promptfoo_suffix }}\n"
    head = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=120)
    return f"---\n{head}---\n{body}"
