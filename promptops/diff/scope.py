"""The files a change can reach, so a one-prompt change in a repository of thousands loads a few files.

The prompts including a changed partial, the suites of an affected prompt, the prompts a routing change
re-routes: a superset is cheap and safe, a file left out would be a wrong diff.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .. import loader, routing
from ..errors import InputError
from ..model import Prompt
from ..workspace import CONFIG_FILE, Source
from .includes import reaching, template_refs

_SUITE_PROMPT = re.compile(
    r"""^prompt:[ \t]*(?:"([^"\\]*)"|'([^']*)'|([^\s'"&*!|>{\[#][^#\n]*?))[ \t]*(?:#.*)?$""", re.M
)


class _Texts:
    """The text of a file as both sides have it (the head's alone when unchanged), read once. A file that
    cannot be read (a link leading outside the repository) counts as empty and is kept in scope, so the
    loader reports it as it would in a full comparison."""

    def __init__(self, base: Source, head: Source, changed: frozenset[str]) -> None:
        self.base, self.head, self.changed = base, head, changed
        self.unreadable: set[str] = set()
        self._texts: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        if path not in self._texts:
            sides = (self.head, self.base) if path in self.changed else (self.head,)
            try:
                self._texts[path] = "\n".join((s.read(path) or b"").decode("utf-8", "replace") for s in sides)
            except InputError:
                self.unreadable.add(path)
                self._texts[path] = ""
        return self._texts[path]


def _scope(base: Source, head: Source, changed: frozenset[str], renames: Mapping[str, str]) -> set[str]:
    """The files both sides must load: what changed, and every file whose comparison a change can reach.

    Supersets are cheap and safe (a file in scope that did not change compares equal); a file left out
    that a change reaches would be a wrong diff, so every test below errs towards keeping a file. Files are
    read only when a question needs them (no change reads nothing).
    """
    config = loader.load_config(head)
    pre = config.prompts_dir + "/" if config.prompts_dir else ""
    epre = config.evals_dir + "/" if config.evals_dir else ""
    text = _Texts(base, head, changed)
    paths = {*head.list_dir(config.prompts_dir), *(p for p in changed if p.startswith(pre))}
    name_of = {p: p[len(pre) :] for p in paths if p.endswith(loader.PROMPT_EXTENSIONS)}
    partials = {path for path, name in name_of.items() if "_" in name and loader.is_partial(name)}  # no "_", no partial
    prompts = {name: path for path, name in name_of.items() if path not in partials}
    targets = {name_of[p] for p in changed if p in name_of}
    scope = {p for p in name_of if p in changed or p in partials}
    if targets:
        scope |= {prompts[n] for n in reaching({name_of[p]: text(p) for p in name_of}, targets) if n in prompts}
    # Prompts whose messages may change: their eval cases are rendered, so their suites are loaded.
    ids = {loader.prompt_id_of(name_of[p]) for p in scope if name_of[p] in prompts}
    ids |= {loader.prompt_id_of(old[len(pre) :]) for old in renames if old.startswith(pre)}
    if config.routing_file in changed:
        scope |= _rerouted(base, head, config.routing_file, prompts)
    if any(not p.startswith((pre, epre)) and p not in (config.routing_file, CONFIG_FILE) for p in changed):
        pinning = {name for name, path in prompts.items() if "sources" in text(path)}
        scope |= {prompts[name] for name in pinning}
        ids |= {loader.prompt_id_of(name) for name in pinning}  # source() may put a document in their messages
    frontier = set(scope)  # closed under includes, so every prompt in scope renders on both sides
    while frontier:
        refs = [template_refs(text(p)) for p in frontier]
        if any(dynamic for _, dynamic in refs):
            frontier = set(prompts.values()) - scope
        else:
            frontier = {prompts[n] for names, _ in refs for n in names if n in prompts} - scope
        scope |= frontier
    scope |= _suites(head, config.evals_dir, changed, ids, text)
    return scope | text.unreadable


def _suites(head: Source, evals_dir: str, changed: frozenset[str], ids: set[str], text: _Texts) -> set[str]:
    """The suite files to load: the changed ones, and those of the prompts in `ids` or reading a changed
    data file (a suite whose `prompt:` line is not plain enough to read is kept)."""
    epre = evals_dir + "/" if evals_dir else ""
    suites = {*head.list_dir(evals_dir), *(p for p in changed if p.startswith(epre))}
    suites = {
        p
        for p in suites
        if p.endswith(loader.SUITE_EXTENSIONS) and p[len(epre) :].split("/")[0] not in loader.RESERVED_EVAL_DIRS
    }
    scope = suites & changed
    data = [p[len(epre) :] for p in changed if p.startswith(epre) and p not in suites]
    if ids or data:
        for path in suites - changed:
            body = text(path)
            found = {next(g for g in m.groups() if g is not None).strip() for m in _SUITE_PROMPT.finditer(body)}
            if len(found) != 1 or found & ids or any(d in body for d in data):
                scope.add(path)
    return scope


def _rerouted(base: Source, head: Source, path: str, prompts: Mapping[str, str]) -> set[str]:
    """Prompt files whose resolved route may differ: resolved without and with every parameter overridden,
    since a prompt's own params sit between the model's and the route's (equal twice means equal for all)."""
    try:
        a, b = loader.load_routing(base, path), loader.load_routing(head, path)
    except InputError:
        return set(prompts.values())
    keys = {
        k
        for r in (a, b)
        for d in (r.params, *(m.params for m in r.models.values()), *(x.params for x in r.routes))
        for k in d
    }
    marker = {k: object() for k in keys}
    out = set()
    for name, file in prompts.items():
        pid = loader.prompt_id_of(name)
        for params in ({}, marker):
            stub = Prompt(id=pid, path=file, body="", params=params)
            if routing.resolve(a, stub).as_dict() != routing.resolve(b, stub).as_dict():
                out.add(file)
                break
    return out
