"""Where a served bundle comes from, and how the runtime notices that it changed.

* `ExportFile`: the file `promptops export` wrote (what a container ships). A change is a new inode, size or
  modification time; a deploy replaces the file (atomically, by rename) to promote, roll back or kill. Needs no
  git binary.
* `LedgerEnvironment`: an environment on a repository's ledger branch. A change is the ledger ref moving; the
  export document is rebuilt from git (the release tag's commit) and its kill list. Release bundles are kept by
  digest, so a kill or revive (same release, new kill list) switches without rebuilding anything.
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from pathlib import Path
from typing import Any, Protocol

from ..errors import InputError

KEEP_BUNDLES = 4  # release bundles kept by digest: a rollback to one of them and back rebuilds nothing


class Origin(Protocol):
    environment: str

    def fingerprint(self) -> Hashable:
        """Cheap: changes whenever `read()` would return something else."""
        ...

    def read(self) -> tuple[bytes, str]:
        """(the bundle's bytes, where they came from for messages)."""
        ...


class ExportFile:
    def __init__(self, path: Path, environment: str = "") -> None:
        self.path = path
        self.environment = environment

    def fingerprint(self) -> Hashable:
        try:
            st = os.stat(self.path)
        except OSError as exc:
            return ("missing", type(exc).__name__)
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def read(self) -> tuple[bytes, str]:
        try:
            return self.path.read_bytes(), str(self.path)
        except OSError as exc:
            raise InputError(
                f"cannot read the bundle {self.path}: {exc.strerror or exc}", file=str(self.path)
            ) from None


class LedgerEnvironment:
    def __init__(self, root: Path, environment: str) -> None:
        from .. import loader
        from ..git import GitRepo
        from ..release.ledger import Ledger
        from ..workspace import TreeSource, discover_root

        self.environment = environment
        self.root = discover_root(root)
        self.repo = GitRepo(self.root)
        self.config = loader.load_config(TreeSource(self.root))
        self.ledger = Ledger(self.repo, self.config.ledger_branch)
        self._bundles: dict[str, dict[str, Any]] = {}  # release bundles by digest

    def fingerprint(self) -> Hashable:
        return self.ledger.head()

    def read(self) -> tuple[bytes, str]:
        from ..release.exporting import export_document

        head = self.ledger.head()
        data = export_document(self.root, self.config, self.environment, bundles=self._bundles)
        while len(self._bundles) > KEEP_BUNDLES:  # the oldest goes first
            del self._bundles[next(iter(self._bundles))]
        return data, f"{self.environment} on {self.config.ledger_branch} ({str(head)[:12]})"
