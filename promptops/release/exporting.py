"""`export`: the document an environment runs, checked against the ledger and the release before it is given out.

A deploy pipeline writes it to a file; an application's runtime gets the same bytes from `export_document`
without the command line.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from ..config_model import Config
from ..digest import canonical
from ..errors import GateFailed, InputError
from ..git import GitRepo
from .bundle import with_kill_switch
from .environments import check_env
from .ledger import Ledger
from .releasing import bundle_at
from .replay import verified_state


def export_document(
    root: Path, config: Config, env: str, *, bundles: MutableMapping[str, dict[str, Any]] | None = None
) -> bytes:
    """The canonical bundle `env` runs, with its name and kill list.

    Refuses (exit 1) a ledger that does not replay and a release whose commit no longer builds the digest the
    environment was promoted with; exit 2 for an unknown environment or one that runs nothing yet. `bundles`
    (release bundles by digest, already checked) spares a caller that exports again and again, such as the
    runtime after a kill, from rebuilding a release it has built before."""
    check_env(config, env)
    ledger = Ledger(GitRepo(root), config.ledger_branch)
    state = verified_state(ledger)
    current = state.environments.get(env)
    if not current:
        raise InputError(
            f"{env} runs no release yet", hint=f"promote one: promptops promote VERSION --env {env} --reason TEXT"
        )
    doc = bundles.get(current["digest"]) if bundles is not None else None
    if doc is None:
        doc = bundle_at(root, current["version"], config.tag_prefix)
    if doc["digest"] != current["digest"]:
        raise GateFailed(
            f"{current['version']} now builds {doc['digest']}, but {env} was promoted with "
            f"{current['digest']}: the release tag was moved or rewritten",
            hint=f"run `promptops verify {current['version']}`",
        )
    if bundles is not None:
        bundles[current["digest"]] = doc
    return canonical(with_kill_switch(doc, state.killed_in(env), env))
