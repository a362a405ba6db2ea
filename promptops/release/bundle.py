"""The bundle: one canonical JSON document holding everything a release runs, and its digest.

The same commit (and release evidence) gives the same bytes: keys are sorted, separators fixed, no time but
the commit's. The digest is the sha256 of the canonical document without `digest`, `environment`,
`kill_switch`, `kill_switch_digest` and `signature`: the environment's name and kill list are its state,
filled in by `export` and sealed to the release digest by `kill_switch_digest`, not part of what was
released; the signature (promptops.signing) covers everything else, and is made after the digest.

A file is whole when `verify_bytes` says so; whether it is what was released is for `verifying` to say,
against the release tag and the ledger.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .. import digest, routing
from ..digest import canonical, sha256
from ..model import Snapshot
from ..render import Renderer
from ..workspace import Source

FORMAT_VERSION = 1
# Left out of the release digest: the digest itself, what an environment adds in `export` (its name and kill
# list, sealed by `kill_switch_digest`), and the signature of a file that travels (see promptops.signing).
UNSIGNED = ("digest", "environment", "kill_switch", "kill_switch_digest", "signature")
__all__ = ["canonical", "sha256"]


def digest_of(doc: Mapping[str, Any]) -> str:
    return digest.digest_of({k: v for k, v in doc.items() if k not in UNSIGNED})


def source_hashes(snapshot: Snapshot, source: Source) -> dict[str, str]:
    """Content hash of every file a prompt pins under `sources`."""
    hashes = {}
    for prompt in snapshot.prompts.values():
        for pattern in prompt.sources:
            for path in source.glob(pattern):
                data = source.read(path)
                if data is not None:
                    hashes[path] = sha256(data)
    return dict(sorted(hashes.items()))


def pinned_documents(pins: Mapping[str, str], source: Source) -> dict[str, str]:
    """The text of every pinned document, by its content hash: each content once, however many paths hold it.
    A document that is not UTF-8 text is left out (its hash stays pinned; `source()` refuses it anyway)."""
    out: dict[str, str] = {}
    for path, pin in pins.items():
        data = source.read(path)
        if data is None or pin in out:
            continue
        try:
            out[pin] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return dict(sorted(out.items()))


def documents_reader(doc: Mapping[str, Any]) -> tuple[Callable[[str], bytes | None], dict[str, str]]:
    """(read, pins) for rendering from a bundle: a pinned path's content comes from the bundle's documents."""
    pins = dict((doc.get("hashes") or {}).get("sources") or {})
    documents = doc.get("documents") or {}

    def read(path: str) -> bytes | None:
        text = documents.get(pins.get(path, ""))
        return text.encode("utf-8") if isinstance(text, str) else None

    return read, pins


def content_hashes(snapshot: Snapshot, source: Source) -> dict[str, dict[str, str]]:
    """Hashes of the release's inputs: prompts, partials, routing, eval files and datasets, sources."""

    def hash_of(path: str) -> str:
        data = source.read(path)
        return sha256(data) if data is not None else "missing"

    evals = {s.path: hash_of(s.path) for s in snapshot.suites.values()}
    datasets = {
        f"{snapshot.config.evals_dir}/{d}": hash_of(f"{snapshot.config.evals_dir}/{d}")
        for s in snapshot.suites.values()
        for d in s.datasets
    }
    return {
        "prompts": {p.path: hash_of(p.path) for p in sorted(snapshot.prompts.values(), key=lambda p: p.path)},
        "partials": {p.path: hash_of(p.path) for p in sorted(snapshot.partials.values(), key=lambda p: p.path)},
        "routing": {snapshot.routing.path: hash_of(snapshot.routing.path)},
        "evals": dict(sorted(evals.items())),
        "datasets": dict(sorted(datasets.items())),
        "sources": source_hashes(snapshot, source),
    }


def build(
    snapshot: Snapshot,
    source: Source,
    *,
    commit: str,
    commit_time: str,
    version: str | None,
    evidence: Mapping[str, Any] | None,
    notes: Sequence[Mapping[str, Any]] | None = None,
    documents: bool = True,
) -> dict[str, Any]:
    """The bundle of one commit, with its digest; with `documents`, the text of its pinned sources (releases
    recorded before bundles carried them are rebuilt without, so their digests still verify)."""
    renderer = Renderer(snapshot)
    prompts = {}
    for prompt in sorted(snapshot.prompts.values(), key=lambda p: p.id):
        infos, _ = renderer.closure(renderer.name_of(prompt))
        prompts[prompt.id] = {
            "path": prompt.path,
            "template": prompt.body,
            "metadata": {
                "description": prompt.description,
                "owner": prompt.owner,
                "risk": prompt.risk,
                "tags": list(prompt.tags),
                "inputs": dict(prompt.inputs),
                "required": list(prompt.required_inputs),
                "output": prompt.output,
                "sources": list(prompt.sources),
                "fallback": prompt.fallback,
                "params": dict(prompt.params),
            },
            "partials": {i.name: renderer.template_text(i.name) for i in infos if i.name in snapshot.partials},
            "routing": routing.resolve(snapshot.routing, prompt).as_dict(),
        }
    judge = routing.judge(snapshot.routing)
    doc: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "project": snapshot.config.project,
        "version": version,
        "commit": commit,
        "commit_time": commit_time,
        "prompts": prompts,
        "judge": judge.model if judge else None,
        "hashes": content_hashes(snapshot, source),
        "evidence": dict(evidence) if evidence else None,
        "notes": list(notes or []),
        "kill_switch": {},
    }
    carried = pinned_documents(doc["hashes"]["sources"], source) if documents else {}
    if carried:  # the pinned documents travel with the release, so a runtime renders `source()` without git
        doc["documents"] = carried
    if snapshot.config.redaction:  # the reviewed redaction policy travels with the release, under its digest
        doc["redaction"] = dict(snapshot.config.redaction)
    doc["digest"] = digest_of(doc)
    return doc


def kill_switch_digest(doc: Mapping[str, Any]) -> str:
    """Seals an exported bundle's environment and kill list to its release digest."""
    sealed = {"digest": doc["digest"], "kill_switch": doc.get("kill_switch", {})}
    if "environment" in doc:
        sealed["environment"] = doc["environment"]
    return digest.digest_of(sealed)


def with_kill_switch(doc: Mapping[str, Any], killed: Mapping[str, Any], environment: str) -> dict[str, Any]:
    """The bundle an environment runs: the release bundle plus the environment's name and its kill list, sealed.

    The release digest stays that of the release. The export names its environment even when nothing is
    killed (so it is not the release bundle byte for byte): without the name, an export whose kill list was
    removed would be the release bundle itself, and nothing could tell that a killed prompt came back."""
    out = {k: v for k, v in doc.items() if k not in ("kill_switch_digest", "signature")}
    out["environment"] = environment
    out["kill_switch"] = dict(sorted(killed.items()))
    out["kill_switch_digest"] = kill_switch_digest(out)
    return out


def verify_bytes(data: bytes) -> tuple[bool, str]:
    """(ok, what was found): the bytes must be canonical JSON whose recorded digest matches its content."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return False, f"not a valid bundle: {exc}"
    if not isinstance(doc, dict) or not isinstance(doc.get("digest"), str):
        return False, "not a promptops bundle (no digest)"
    try:
        recanonical = canonical(doc)
    except ValueError:  # NaN or an infinity: never in a bundle promptops writes
        recanonical = b""
    if recanonical != data:
        return False, "the bytes are not the canonical form of the bundle (edited?)"
    actual = digest_of(doc)
    if actual != doc["digest"]:
        return False, f"digest mismatch: recorded {doc['digest']}, content hashes to {actual}"
    sealed = doc.get("kill_switch") or "kill_switch_digest" in doc or "environment" in doc
    if sealed and doc.get("kill_switch_digest") != kill_switch_digest(doc):
        return False, "the kill switch does not match its seal (edited?)"
    return True, str(doc["digest"])
