"""What one loaded bundle serves: its prompts, routes, kill list and redaction, verified and ready to render.

A `Served` is immutable and built whole before it is used, so a reload swaps one reference and a call in flight
keeps the release it started with. Building it imports the renderer (Jinja2) and jsonschema: that happens when
an application loads an environment, never when it imports promptops.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import redaction
from ..errors import GateFailed, InputError, PromptopsError
from ..model import Config, Message, ModelSpec, Partial, Price, Prompt, ResolvedRoute, Routing, Snapshot

if TYPE_CHECKING:
    from ..render import Renderer

PROMPT_EXTENSIONS = (".prompt", ".txt", ".md", ".j2", ".jinja", ".jinja2", ".json", ".yaml", ".yml")


@dataclass(frozen=True)
class Served:
    """One verified bundle (release plus kill list) as the runtime serves it."""

    doc: Mapping[str, Any]
    environment: str
    origin: str  # where it came from: the ledger commit, or the export file
    prompts: Mapping[str, Prompt] = field(default_factory=dict)
    routes: Mapping[str, ResolvedRoute] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.doc.get("version") or "")

    @property
    def digest(self) -> str:
        return str(self.doc["digest"])

    @property
    def killed(self) -> Mapping[str, Any]:
        return self.doc.get("kill_switch") or {}

    @property
    def redaction(self) -> Mapping[str, Any]:
        return self.doc.get("redaction") or {}

    @cached_property
    def renderer(self) -> Renderer:
        from ..release.bundle import documents_reader
        from ..render import Renderer

        prompts_dir = _prompts_dir(self.prompts.values())
        partials: dict[str, Partial] = {}
        for entry in self.doc["prompts"].values():
            for name, text in (entry.get("partials") or {}).items():
                partials[name] = Partial(name=name, path=f"{prompts_dir}/{name}" if prompts_dir else name, body=text)
        snapshot = Snapshot(
            label=f"{self.version or self.digest}",
            config=Config(prompts_dir=prompts_dir),
            prompts=self.prompts,
            partials=partials,
            routing=Routing(),
            suites={},
        )
        read, pins = documents_reader(self.doc)
        return Renderer(replace(snapshot, read=read, pins=pins))

    def prompt(self, prompt_id: str) -> Prompt:
        prompt = self.prompts.get(prompt_id)
        if prompt is None:
            import difflib

            close = difflib.get_close_matches(prompt_id, list(self.prompts), n=3)
            where = f"{self.environment} ({self.version})" if self.environment else self.version or self.digest
            hint = f"did you mean {', '.join(close)}?" if close else f"prompts: {', '.join(sorted(self.prompts))}"
            raise InputError(f"{where} has no prompt {prompt_id!r}", hint=hint)
        return prompt

    def render(self, prompt_id: str, variables: Mapping[str, Any]) -> list[Message]:
        return self.render_traced(prompt_id, variables)[0]

    def render_traced(self, prompt_id: str, variables: Mapping[str, Any]) -> tuple[list[Message], dict[str, str]]:
        """The messages, and the pinned documents they read (path -> digest)."""
        self.prompt(prompt_id)
        return self.renderer.render_traced(prompt_id, variables)

    def fallback_text(self, prompt: Prompt, variables: Mapping[str, Any], used: dict[str, str] | None = None) -> str:
        """The fallback answer; the pinned documents it reads are added to `used` when given."""
        assert prompt.fallback is not None
        values = self.renderer.check_inputs(prompt, variables)
        return self.renderer.render_text(prompt, prompt.fallback, values, f"the fallback of {prompt.id!r}", used)


@dataclass(frozen=True)
class Trust:
    """What a bundle must carry to be served: a signature (`require`), checked with these keys."""

    require: bool = False
    allowed_signers: Path | None = None
    hmac_key: bytes | None = field(default=None, repr=False)


def build(data: bytes, *, environment: str, origin: str, trust: Trust = Trust()) -> Served:
    """Verify a bundle's bytes (canonical form, digest, kill-list seal, signature) and make it servable."""
    from .. import signing
    from ..release.bundle import verify_bytes

    ok, found = verify_bytes(data)
    if not ok:
        raise GateFailed(f"{origin}: refused: {found}", hint="export the environment again, or roll back")
    try:
        signing.check(data, allowed_signers=trust.allowed_signers, hmac_key=trust.hmac_key, require=trust.require)
    except PromptopsError as exc:
        exc.message = f"{origin}: refused: {exc.message}"
        raise
    doc = json.loads(data)
    if environment and doc.get("environment") != environment:  # a stripped export would un-kill prompts
        what = f"the export of {doc['environment']!r}" if doc.get("environment") else "not an environment's export"
        raise GateFailed(
            f"{origin}: refused: the file is {what}, not the export of {environment!r}",
            hint=f"deploy what `promptops export --env {environment}` writes",
        )
    try:
        prompts = {pid: _prompt(pid, entry) for pid, entry in doc["prompts"].items()}
        routes = {pid: _route(pid, entry["routing"]) for pid, entry in doc["prompts"].items()}
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise InputError(
            f"{origin}: not a bundle this version of promptops can serve ({type(exc).__name__}: {exc})",
            hint="export it with the same promptops version the application runs",
        ) from None
    _refuse_credentials(origin, routes)
    label = environment or str(doc.get("environment") or "")  # an export names its environment
    return Served(doc=doc, environment=label, origin=origin, prompts=prompts, routes=routes)


def _refuse_credentials(origin: str, routes: Mapping[str, ResolvedRoute]) -> None:
    """A bundle released before promptops refused credentials in `api_base` is not served: its key would be
    sent, and shown wherever the endpoint is (refused when loading routing.yaml since; the bundle keeps it)."""
    from ..endpoints import API_BASE_HINT, api_base_problem

    for prompt_id, route in sorted(routes.items()):
        for spec in (route.model, *route.fallbacks):
            problem = api_base_problem(spec.name, spec.api_base) if spec is not None else None
            if problem is not None:
                raise InputError(
                    f"{origin}: refused: prompt {prompt_id!r}, {problem}",
                    hint=f"fix routing.yaml ({API_BASE_HINT}), then release and export again",
                )


def _prompt(prompt_id: str, entry: Mapping[str, Any]) -> Prompt:
    meta = entry["metadata"]
    return Prompt(
        id=prompt_id,
        path=str(entry["path"]),
        body=str(entry["template"]),
        description=meta.get("description") or "",
        owner=meta.get("owner") or "",
        risk=meta.get("risk") or "low",
        tags=tuple(meta.get("tags") or ()),
        inputs=meta.get("inputs") or {},
        required=tuple(meta["required"]) if meta.get("required") is not None else None,
        output=meta.get("output"),
        sources=tuple(meta.get("sources") or ()),
        fallback=meta.get("fallback"),
        params=meta.get("params") or {},
    )


def _spec(data: Mapping[str, Any]) -> ModelSpec:
    redaction.note_key_names([data.get("api_key_env")])
    return ModelSpec(
        name=str(data["name"]),
        model=str(data["model"]),
        api_base=data.get("api_base"),
        api_key_env=data.get("api_key_env"),
        structured_output=str(data.get("structured_output") or "json_schema"),
        price=Price(**data["price"]) if data.get("price") else None,
    )


def _route(prompt_id: str, data: Mapping[str, Any]) -> ResolvedRoute:
    return ResolvedRoute(
        prompt=prompt_id,
        route=data.get("route"),
        model=_spec(data["model"]) if data.get("model") else None,
        fallbacks=tuple(_spec(m) for m in data.get("fallbacks") or ()),
        params=data.get("params") or {},
        timeout=float(data.get("timeout") or 60.0),
        retries=int(data.get("retries") or 0),
    )


def _prompts_dir(prompts: Any) -> str:
    """The prompts directory the bundle's paths share (a prompt's path is `<dir>/<id><extension>`)."""
    for prompt in prompts:
        stem = prompt.path
        for ext in PROMPT_EXTENSIONS:
            stem = stem.removesuffix(ext)
        if stem.endswith(prompt.id):
            return stem[: -len(prompt.id)].rstrip("/")
    return "prompts"
