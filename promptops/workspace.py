"""Where inputs live: the working tree, a git revision, or a dict in tests, behind one Source seam."""

from __future__ import annotations

import contextlib
import fnmatch
import os
from pathlib import Path, PurePosixPath
from typing import Protocol

from .errors import InputError
from .git import GitRepo, toplevel

CONFIG_FILE = "promptops.yaml"


class LinkedFile(InputError):
    """A document asked for through a symbolic link: `source()` reads only regular files (exit 2)."""


class IgnoredFile(InputError):
    """A document read from the working tree that git ignores: no commit, so no release, carries it (exit 2)."""


class Source(Protocol):
    """Read-only access to the files of a project at one point in time. Paths are POSIX, root-relative."""

    label: str

    def list_dir(self, prefix: str) -> list[str]:
        """Every file under the directory `prefix`, sorted."""
        ...

    def read(self, path: str) -> bytes | None:
        """A file's bytes, or None when it does not exist."""
        ...

    def glob(self, pattern: str) -> list[str]:
        """Files matching a glob (`**` crosses directories), sorted."""
        ...

    def document(self, path: str) -> bytes | None:
        """A document's bytes for `source()`, as `read` gives them, but LinkedFile when the path or a directory
        on it is a symbolic link (the prompt lists the path, not what the link points at)."""
        ...


def _match(paths: list[str], pattern: str) -> list[str]:
    while pattern.startswith("./"):
        pattern = pattern[2:]
    if pattern in ("", "."):
        return []

    def hit(path: str) -> bool:
        try:
            return PurePosixPath(path).match(pattern) or fnmatch.fnmatchcase(path, pattern)
        except ValueError:  # a pattern PurePosixPath refuses
            return fnmatch.fnmatchcase(path, pattern)

    return sorted(p for p in paths if hit(p))


def matches(path: str, pattern: str) -> bool:
    """Whether `path` is one of the files the glob `pattern` names (as `Source.glob` matches them)."""
    return bool(_match([path], pattern))


def _top_dir(pattern: str) -> str:
    parts = []
    for part in PurePosixPath(pattern).parts:
        if any(ch in part for ch in "*?["):
            break
        parts.append(part)
    return "/".join(parts[:-1]) if len(parts) == len(PurePosixPath(pattern).parts) else "/".join(parts)


class TreeSource:
    """The working tree (uncommitted changes included). Hidden directories are skipped."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.label = "working tree"
        self._folders: dict[str, Path] = {}
        self._inside = os.path.join(str(self.root), "")  # what every path inside starts with
        self._ignored: tuple[frozenset[str], tuple[str, ...]] | None = None  # (files, directories ending in /)

    def _safe(self, rel: str) -> Path:
        path = self._resolve(rel)
        if path != self.root and not str(path).startswith(self._inside):  # both resolved: a prefix test will do
            raise InputError(
                "points outside the repository (a symbolic link or an absolute path?)",
                file=rel,
                hint="promptops reads only files inside the repository: copy the file in instead of linking it",
            )
        return path

    def _resolve(self, rel: str) -> Path:
        """`(root / rel).resolve()`, resolving each directory once: a diff reads every prompt, and a full
        resolve checks each path component again for every file."""
        parent, _, name = rel.rpartition("/")
        if (
            not name
            or name in (".", "..")
            or rel.startswith("/")
            or any(p in ("", ".", "..") for p in parent.split("/") if parent)
        ):
            return (self.root / rel).resolve()
        folder = self._folders.get(parent)
        if folder is None:
            folder = self._folders[parent] = (self.root / parent).resolve() if parent else self.root
        path = folder / name
        return path.resolve() if path.is_symlink() else path

    def list_dir(self, prefix: str) -> list[str]:
        base = self._safe(prefix) if prefix else self.root
        if not base.is_dir():
            return []
        found = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            for name in dirnames:  # os.walk does not enter linked directories: one leading out is an error
                if (Path(dirpath) / name).is_symlink():
                    self._safe(name if rel_dir == "." else f"{rel_dir}/{name}")
            for name in filenames:
                found.append(name if rel_dir == "." else f"{rel_dir}/{name}")
        return sorted(found)

    def read(self, path: str) -> bytes | None:
        target = self._safe(path)
        try:
            return target.read_bytes() if target.is_file() else None
        except OSError as exc:
            raise InputError(f"cannot read file: {exc.strerror}", file=path) from None

    def glob(self, pattern: str) -> list[str]:
        """As in a commit, files git ignores are left out: no release could carry them."""
        found = _match(self.list_dir(_top_dir(pattern)), pattern)
        return [p for p in found if not self.ignored(p)] if found else found

    def document(self, path: str) -> bytes | None:
        current = self.root
        for part in PurePosixPath(path).parts:
            current = current / part
            if current.is_symlink():
                raise LinkedFile(f"{path} is read through a symbolic link", file=path)
        if self.ignored(path):
            raise IgnoredFile(f"{path} is a file git ignores (it is untracked and matches a .gitignore)", file=path)
        return self.read(path)

    def ignored(self, path: str) -> bool:
        """Whether git ignores `path`: untracked and matched by .gitignore, .git/info/exclude or the user's
        excludes file (a tracked file never is), or inside a `.git` directory. Git is asked once, at the first
        question; outside a git repository nothing else is ignored. Compared without case: on a case-insensitive
        disk `.ENV` reads `.env`."""
        key = PurePosixPath(path).as_posix().casefold()
        if ".git" in key.split("/"):  # git's own files: its config may hold a remote's credentials
            return True
        if self._ignored is None:
            self._ignored = self._ask_git()
        files, folders = self._ignored
        return key in files or key.startswith(folders)

    def _ask_git(self) -> tuple[frozenset[str], tuple[str, ...]]:
        if toplevel(self.root) is None:
            return frozenset(), ()
        repo = GitRepo(self.root)
        rel = self.root.relative_to(repo.root).as_posix()
        prefix = "" if rel == "." else rel + "/"
        found = [p[len(prefix) :].casefold() for p in repo.ignored(f":(literal){rel}" if prefix else ".")]
        return frozenset(p for p in found if not p.endswith("/")), tuple(p for p in found if p.endswith("/"))


class GitSource:
    """The project as committed at a git revision, read from git objects (nothing is checked out)."""

    def __init__(self, root: Path, rev: str, repo: GitRepo | None = None) -> None:
        self.repo = repo or GitRepo(root)
        self.sha = self.repo.resolve(rev)
        rel = root.resolve().relative_to(self.repo.root)
        self.prefix = "" if str(rel) == "." else rel.as_posix() + "/"
        self.label = f"{rev} ({self.sha[:10]})"
        self.rev = rev
        self._contents: dict[str, bytes] = {}

    def list_dir(self, prefix: str) -> list[str]:
        full = self.prefix + prefix
        n = len(self.prefix)
        # Hidden directories are skipped, as in the working tree, so both sides of a diff see the same files.
        found = [
            p[n:]
            for p in self.repo.list_files(self.sha, full.rstrip("/"))
            if not any(part.startswith(".") for part in p[n:].split("/")[:-1])
        ]
        # Whoever lists a directory reads its files next: fetch them all in one git call.
        missing = [self.prefix + p for p in found if p not in self._contents]
        for path, data in self.repo.read_many(self.sha, missing).items():
            self._contents[path[n:]] = data
        return found

    def read(self, path: str) -> bytes | None:
        if path in self._contents:
            return self._contents[path]
        return self.repo.read(self.sha, self.prefix + path)

    def glob(self, pattern: str) -> list[str]:
        return _match(self.list_dir(_top_dir(pattern)), pattern)

    def document(self, path: str) -> bytes | None:
        if self.repo.is_link(self.sha, self.prefix + path):
            raise LinkedFile(f"{path} is committed as a symbolic link", file=path)
        return self.read(path)


class DictSource:
    """Files given as a dict: for tests and generated repositories."""

    def __init__(self, files: dict[str, str | bytes], label: str = "dict") -> None:
        self.files = {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}
        self.label = label

    def list_dir(self, prefix: str) -> list[str]:
        pre = prefix.rstrip("/") + "/" if prefix else ""
        return sorted(p for p in self.files if p.startswith(pre))

    def read(self, path: str) -> bytes | None:
        return self.files.get(path)

    def document(self, path: str) -> bytes | None:
        return self.read(path)

    def glob(self, pattern: str) -> list[str]:
        return _match(list(self.files), pattern)


def discover_root(start: Path) -> Path:
    """The project root: the nearest directory with promptops.yaml, else the git root."""
    start = start.resolve()
    if not start.is_dir():
        raise InputError(f"{start} is not a directory", hint="pass --repo DIR naming a repository")
    for candidate in (start, *start.parents):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
        if (candidate / ".git").exists():
            return candidate
    raise InputError(
        f"{start} is not inside a promptops repository (no {CONFIG_FILE}, no git repository)",
        hint="run `promptops init`, or pass --repo DIR",
    )


def find_projects(root: Path, depth: int = 3) -> list[Path]:
    """Directories below `root` (at most `depth` levels, hidden ones skipped) that hold a promptops.yaml."""
    found: list[Path] = []
    level = [root]
    for _ in range(depth):
        level = sorted(child for parent in level for child in _subdirectories(parent))
        found += [d for d in level if (d / CONFIG_FILE).is_file()]
    return sorted(found)


def _subdirectories(parent: Path) -> list[Path]:
    try:
        children = list(parent.iterdir())
    except OSError:
        return []
    return [c for c in children if c.is_dir() and not c.name.startswith(".") and c.name != "node_modules"]


def open_source(root: Path, ref: str | None = None) -> Source:
    """The working tree of `root`, or `root` as committed at `ref`."""
    if ref is None:
        return TreeSource(root)
    return GitSource(root, ref)


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write a file so that a crash leaves either the old content or the new, never a torn file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise InputError(
            f"cannot write the file: {exc.strerror or exc}",
            file=str(path),
            hint="check the path: its directory must be writable, and no part of it a file",
        ) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
