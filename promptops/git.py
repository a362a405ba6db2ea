"""The one door to git. GitPython is imported only when a git operation actually runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import GitError, InputError, NotAGitRepository

if TYPE_CHECKING:
    pass


def toplevel(path: Path) -> Path | None:
    """The work tree root of the git repository holding `path`, found on disk (no git call)."""
    path = path.resolve()
    for candidate in (path, *path.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author: str
    email: str
    date: str
    subject: str


class GitRepo:
    """A repository resolved from a path. Inherited GIT_* variables are overridden, never trusted."""

    def __init__(self, path: Path) -> None:
        top = toplevel(path)
        if top is None:
            raise NotAGitRepository(
                f"{path} is not inside a git repository",
                hint="run `git init`, or drop the option that needs git history",
            )
        import git as gitpython

        self._git = gitpython
        try:
            self.repo = gitpython.Repo(top)
        except (gitpython.InvalidGitRepositoryError, gitpython.NoSuchPathError) as exc:
            raise NotAGitRepository(f"{top} is not a usable git repository: {exc}") from None
        self.root = top
        git_dir = str(self.repo.git_dir)
        self.repo.git.update_environment(
            GIT_DIR=git_dir, GIT_WORK_TREE=str(top), GIT_INDEX_FILE=os.path.join(git_dir, "index")
        )
        self._trees: dict[str, Any] = {}

    def run(self, *args: str, **kwargs: Any) -> str:
        """Run one git command; failures become GitError with the command and its stderr."""
        try:
            return str(self.repo.git.execute(["git", *args], **kwargs))
        except self._git.GitCommandError as exc:
            raise GitError("git command failed", command=" ".join(args), stderr=str(exc.stderr)) from None

    def resolve(self, rev: str) -> str:
        """The full commit sha of `rev`, or an InputError that says how to get it."""
        try:
            return str(self.repo.git.rev_parse("--verify", "--quiet", f"{rev}^{{commit}}"))
        except self._git.GitCommandError:
            pass
        hint = "check the revision name with `git log --oneline`"
        if (Path(self.repo.git_dir) / "shallow").exists():
            hint = (
                f"this is a shallow clone; fetch the history first: `git fetch --unshallow` "
                f"(or `git fetch origin {rev}`)"
            )
        raise InputError(f"unknown git revision {rev!r}", hint=hint)

    def _tree(self, sha: str) -> Any:
        if sha not in self._trees:
            self._trees[sha] = self.repo.commit(sha).tree
        return self._trees[sha]

    def list_files(self, sha: str, prefix: str = "") -> list[str]:
        """Paths of the blobs under `prefix` (relative to the repository root) at a commit."""
        tree = self._tree(sha)
        if prefix:
            try:
                tree = tree[prefix.rstrip("/")]
            except KeyError:
                return []
            if tree.type != "tree":
                return [str(tree.path)]
        return sorted(str(item.path) for item in tree.traverse() if item.type == "blob")

    def read(self, sha: str, path: str) -> bytes | None:
        """The content of a file at a commit, or None when it does not exist there."""
        try:
            blob = self._tree(sha)[path]
        except KeyError:
            return None
        if blob.type != "blob":
            return None
        return bytes(blob.data_stream.read())

    def last_commits(self, paths: list[str]) -> dict[str, CommitInfo]:
        """For each path, the last commit that touched it (one walk of the history)."""
        if not paths or not self.repo.head.is_valid():
            return {}
        wanted = set(paths)
        found: dict[str, CommitInfo] = {}
        out = self.run(
            "log",
            "--format=%x00%H%x1f%an%x1f%ae%x1f%aI%x1f%s",
            "--name-only",
            "--no-renames",
            "HEAD",
            "--",
            *sorted({p.split("/")[0] for p in paths}),
        )
        for chunk in out.split("\x00")[1:]:
            head, _, names = chunk.partition("\n")
            sha, author, email, date, subject = head.split("\x1f", 4)
            for name in names.split("\n"):
                if name in wanted and name not in found:
                    found[name] = CommitInfo(sha, author, email, date, subject)
            if len(found) == len(wanted):
                break
        return found


def identity(path: Path) -> str:
    """`Name <email>` of the git user at `path`, or "" when git has none (or there is no repository)."""
    if toplevel(path) is None:
        return ""
    repo = GitRepo(path)
    try:
        return repo.run("var", "GIT_AUTHOR_IDENT").rsplit(">", 1)[0] + ">"
    except GitError:
        return ""
