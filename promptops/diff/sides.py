"""The two sides of a git change, loaded through the Source seam (nothing is checked out).

git says which paths changed and which were renamed; scope.py says which files those changes can reach,
and only those are loaded. When HEAD is the working tree, files git reports unchanged are read from disk
on both sides.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from .. import loader
from ..errors import GitError, InputError
from ..git import GitRepo
from ..model import Snapshot
from ..workspace import CONFIG_FILE, GitSource, Source, TreeSource
from .scope import _scope

DEFAULT_BRANCHES = ("origin/HEAD", "main", "master", "origin/main", "origin/master")
_NO_LINK = getattr(os, "O_NOFOLLOW", 0)  # not on Windows: every read is checked there
_BATCHED = (*loader.PROMPT_EXTENSIONS, *loader.SUITE_EXTENSIONS)  # what the scope and the load read


@dataclass
class Sides:
    base: Snapshot
    head: Snapshot
    base_source: Source
    head_source: Source
    base_sha: str
    head_sha: str | None  # None: the working tree
    renames: dict[str, str]
    changed: frozenset[str]


def default_base(repo: GitRepo, head: str | None) -> tuple[str, str]:
    """(label, sha): the merge-base of HEAD with the default branch, or an InputError saying what to fetch."""
    branch = next((b for b in DEFAULT_BRANCHES if repo.read_ref(f"{b}^{{commit}}")), None)
    shallow = repo.shallow
    if branch is None:
        hint = "name the base: `promptops diff BASE`, e.g. `promptops diff origin/develop`"
        if shallow:
            hint = (
                "this is a shallow clone without the default branch; fetch it: `git fetch origin main` "
                "(or `git fetch --unshallow`), or name the base: `promptops diff BASE`"
            )
        raise InputError(
            "no default branch to compare with: none of " + ", ".join(DEFAULT_BRANCHES) + " exists", hint=hint
        )
    target = head or "HEAD"
    if not repo.has_commits():
        raise InputError(
            "the repository has no commits yet", hint="commit first, or name the base: `promptops diff BASE`"
        )
    found = repo.merge_base(branch, target)
    name = branch.removeprefix("origin/")
    if not found:
        if shallow:
            hint = (
                f"this is a shallow clone that does not reach the fork point of {target} and {branch}: "
                f"`git fetch --unshallow` (or deepen it: `git fetch --deepen=200 origin {name}`); "
                "in GitHub Actions check out with `fetch-depth: 0`"
            )
        else:
            hint = f"{target} and {branch} share no history; name the base: `promptops diff BASE`"
        raise InputError(f"cannot find the merge-base of {target} and {branch}", hint=hint)
    return f"merge-base with {branch} ({found[:10]})", found


def _status(repo: GitRepo, base: str, head: str | None, prefix: str) -> tuple[set[str], dict[str, str]]:
    """(changed paths, renames old -> new), relative to the project, from `git diff --name-status -M`."""
    changed: set[str] = set()
    renames: dict[str, str] = {}
    n = len(prefix)
    for status, *paths in repo.name_status(base, head, prefix or "."):
        if status[0] in "RC":
            old, new = paths[0][n:], paths[1][n:]
            changed |= {old, new} if status[0] == "R" else {new}
            if status[0] == "R":
                renames[old] = new
        else:
            changed.add(paths[0][n:])
    if head is None:
        # Untracked files are changes too; ignored ones are left out (they are the same on both sides).
        changed |= {p[n:] for p in repo.untracked(prefix or ".")}
    return changed, renames


class _ListedTree(TreeSource):
    """The working tree, each folder listed once (the scope and both sides' loads list the same ones), and a
    listed file read with one `open` that does not follow a link.

    A diff reads every prompt and suite file to find what a change reaches, and the checked read (resolve
    the path, refuse one that leads outside the repository) costs twice the read itself. A listed file is
    found by walking real folders inside the root, so when it is not a link itself it is the file there; a
    link, a special file and an unlisted path take the checked way."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self._listed: dict[str, list[str]] = {}
        self._files: set[str] = set()

    def list_dir(self, prefix: str) -> list[str]:
        if prefix not in self._listed:
            self._listed[prefix] = super().list_dir(prefix)
            self._files.update(self._listed[prefix])
        return list(self._listed[prefix])

    def read(self, path: str) -> bytes | None:
        if _NO_LINK and path in self._files:
            try:
                data = _read_regular(self._inside + path)
            except OSError:  # a link (ELOOP), gone, unreadable: the checked read says which
                data = None
            if data is not None:
                return data
        return super().read(path)


def _read_regular(path: str) -> bytes | None:
    """The bytes of a regular file, opened without following a link; None for a special file (a FIFO) or a
    large one (left to the checked read: one `read` call is enough for the small files a project holds)."""
    fd = os.open(path, os.O_RDONLY | _NO_LINK | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > 1 << 20:
            return None
        data = os.read(fd, info.st_size + 1)
        if len(data) <= info.st_size:
            return data
        chunks = [data]  # it grew since fstat: read to the end
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class _Overlay:
    """The base side when HEAD is the working tree: files git reports unchanged are read from disk.

    The base version of a changed file is read from git once (the scope, the listing and the load all ask
    for it); the changed prompt and suite files are fetched together, in one `git cat-file` call."""

    def __init__(self, tree: TreeSource, git: GitSource, changed: frozenset[str]) -> None:
        self.tree, self.git, self.changed = tree, git, changed
        self.label = git.label
        self._based: dict[str, bytes | None] = {}

    def _base(self, path: str) -> bytes | None:
        if path not in self._based:
            batch = {path, *(p for p in self.changed if p.endswith(_BATCHED) and p not in self._based)}
            found = self.git.repo.read_many(self.git.sha, [self.git.prefix + p for p in sorted(batch) if _plain(p)])
            n = len(self.git.prefix)
            self._based.update(dict.fromkeys(batch))
            self._based.update({p[n:]: data for p, data in found.items()})
        return self._based[path]

    def list_dir(self, prefix: str) -> list[str]:
        pre = prefix.rstrip("/") + "/" if prefix else ""
        same = [p for p in self.tree.list_dir(prefix) if p not in self.changed]
        return sorted(same + [p for p in self.changed if p.startswith(pre) and self._base(p) is not None])

    def read(self, path: str) -> bytes | None:
        return self._base(path) if path in self.changed else self.tree.read(path)

    def document(self, path: str) -> bytes | None:
        return self.git.document(path) if path in self.changed else self.tree.document(path)

    def glob(self, pattern: str) -> list[str]:
        return self.git.glob(pattern)


def _plain(path: str) -> bool:
    """A path git reads as itself (`./x` or `a//b` would be read relative to the working directory)."""
    return not any(part in ("", ".", "..") for part in path.split("/")) and "\n" not in path


class _Scoped:
    """A source whose listings hold only the files a change can reach (reads pass through)."""

    def __init__(self, source: Source, scope: Collection[str] | None) -> None:
        self.source, self.scope = source, scope
        self.label = source.label

    def list_dir(self, prefix: str) -> list[str]:
        found = self.source.list_dir(prefix)
        return found if self.scope is None else [p for p in found if p in self.scope]

    def read(self, path: str) -> bytes | None:
        return self.source.read(path)

    def document(self, path: str) -> bytes | None:
        return self.source.document(path)

    def glob(self, pattern: str) -> list[str]:
        return self.source.glob(pattern)


def open_sides(root: Path, base: str | None, head: str | None) -> Sides:
    """Both sides of a change, loaded through the Source seam (nothing is checked out).

    BASE defaults to the merge-base with the default branch, HEAD to the working tree.
    """
    repo = GitRepo(root)
    rel = root.resolve().relative_to(repo.root).as_posix()
    prefix = "" if rel == "." else rel + "/"
    head_sha = repo.resolve(head) if head else None
    if base is None:
        label, base_sha = default_base(repo, head_sha)
    else:
        base_sha = repo.resolve(base)
        label = f"{base} ({base_sha[:10]})"
    try:
        changed_set, renames = _status(repo, base_sha, head_sha, prefix)
    except GitError as exc:
        raise InputError(f"git could not compare {base_sha[:10]} with {head or 'the working tree'}: {exc}") from None
    changed = frozenset(changed_set)
    base_git = GitSource(root, base_sha, repo)
    base_git.label = label
    head_source: Source
    if head_sha is None:
        head_source = _ListedTree(root)
        base_source: Source = _Overlay(head_source, base_git, changed)
    else:
        head_source = GitSource(root, head_sha, repo)
        head_source.label = f"{head} ({head_sha[:10]})"
        base_source = base_git
    scope = None if CONFIG_FILE in changed else _scope(base_source, head_source, changed, renames)
    return Sides(
        base=loader.load(_Scoped(base_source, scope)),
        head=loader.load(_Scoped(head_source, scope)),
        base_source=base_source,
        head_source=head_source,
        base_sha=base_sha,
        head_sha=head_sha,
        renames=renames,
        changed=changed,
    )
