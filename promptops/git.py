"""The one door to git.

Commands run the real git binary in the repository resolved from a path, with the inherited variables that
would redirect it (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE, ...) removed: inside a pre-commit hook or CI we
still act on the repository we were pointed at. GitPython, the only importer of which is this module, is
loaded lazily and used to read trees and blobs through its persistent `cat-file` process.

It is longer than our other modules on purpose: every question promptops asks git (history, tags,
signatures, plumbing for the ledger) is a small named method here, so no other module runs git itself.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import GitError, InputError, NotAGitRepository

REDIRECTING = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_CEILING_DIRECTORIES",
)
ZERO = "0" * 40
LINK_MODE = 0o120000  # a symbolic link in a git tree
PATH_LOG_FORMAT = "--format=%x00%H%x1f%an%x1f%ae%x1f%aI%x1f%cI%x1f%B%x1f"


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


@dataclass(frozen=True)
class LogEntry:
    """A commit with its full message and the trailers promptops reads (Change-Reason:, Approved-by:)."""

    sha: str
    author: str
    email: str
    date: str
    message: str
    files: tuple[str, ...] = ()

    def trailers(self, key: str) -> list[str]:
        prefix = key.lower() + ":"
        return [
            line.split(":", 1)[1].strip()
            for line in self.message.splitlines()
            if line.lower().startswith(prefix) and line.split(":", 1)[1].strip()
        ]

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0]


@dataclass(frozen=True)
class PathCommit:
    """A commit that touched a path: its log entry, its commit date, and git's name-status rows for it
    (`("M", path)`, `("R100", old, new)`, ...)."""

    entry: LogEntry
    committed: str
    changes: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Signature:
    """A signature on a tag or commit: `none`, `good` (with who signed), `bad`, or `unchecked` (signed, but
    git has no key to check it with, e.g. no `gpg.ssh.allowedSignersFile`)."""

    status: str
    signer: str = ""
    detail: str = ""


@dataclass(frozen=True)
class ChainCommit:
    sha: str
    parents: tuple[str, ...]
    message: str
    signature: Signature
    # The blobs `chain(ref, files)` was asked for, by name, that the commit's tree has at its root.
    files: Mapping[str, bytes] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class TagInfo:
    name: str
    commit: str
    tagger: str
    date: str
    message: str


class GitRepo:
    """A repository resolved from a path."""

    def __init__(self, path: Path) -> None:
        top = toplevel(path)
        if top is None:
            raise NotAGitRepository(
                f"{path} is not inside a git repository",
                hint="run `git init`, or drop the option that needs git history",
            )
        self.root = top
        self.env = {k: v for k, v in os.environ.items() if k not in REDIRECTING}
        if shutil.which("git", path=self.env.get("PATH")) is None:
            raise GitError(
                "git is not installed (no `git` on PATH), and this command needs it",
                hint="install git, or add the directory holding it to PATH",
            )
        # GIT_OPTIONAL_LOCKS=0: reading (git status) must not rewrite the user's index under an editor's feet.
        self.env.update(LC_ALL="C", LANGUAGE="C", GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0")
        self._repo: Any = None
        self._trees: dict[str, Any] = {}
        self._git_dir: Path | None = None
        self._commits: set[str] = set()  # full shas `resolve` returned

    # -- running git -----------------------------------------------------------------------------------------
    def _git(self, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["git", *args], cwd=self.root, env=self.env, input=input, capture_output=True, check=False
        )

    def run(self, *args: str, input: bytes | None = None, check: bool = True) -> str:
        """Run one git command; a failure becomes GitError with the command and its stderr. For this module's
        methods: other modules ask git through a named method."""
        done = self._git(*args, input=input)
        if check and done.returncode != 0:
            raise GitError("git command failed", command=" ".join(args), stderr=done.stderr.decode("utf-8", "replace"))
        return done.stdout.decode("utf-8", "replace").rstrip("\n")

    def ok(self, *args: str) -> bool:
        """Whether a git command succeeds (for questions such as `merge-base --is-ancestor`)."""
        return self._git(*args).returncode == 0

    @property
    def git_dir(self) -> Path:
        if self._git_dir is None:
            self._git_dir = (self.root / self.run("rev-parse", "--git-dir")).resolve()
        return self._git_dir

    @property
    def shallow(self) -> bool:
        return (self.git_dir / "shallow").exists()

    def resolve(self, rev: str) -> str:
        """The full commit sha of `rev`, or an InputError that says how to get it. A sha this method returned
        names that commit for good, so asking again for it runs no git."""
        if rev in self._commits:
            return rev
        out = self.run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", check=False)
        if out:
            self._commits.add(out)
            return out
        hint = "check the revision name with `git log --oneline`"
        if self.shallow:
            hint = (
                f"this is a shallow clone; fetch the history first: `git fetch --unshallow` "
                f"(or `git fetch origin {rev}`)"
            )
        raise InputError(f"unknown git revision {rev!r}", hint=hint)

    # -- reading trees (GitPython) ---------------------------------------------------------------------------
    @property
    def repo(self) -> Any:
        if self._repo is None:
            import git as gitpython

            try:
                self._repo = gitpython.Repo(self.root)
            except (gitpython.InvalidGitRepositoryError, gitpython.NoSuchPathError) as exc:
                raise NotAGitRepository(f"{self.root} is not a usable git repository: {exc}") from None
            self._repo.git.update_environment(
                GIT_DIR=str(self.git_dir), GIT_WORK_TREE=str(self.root), GIT_INDEX_FILE=str(self.git_dir / "index")
            )
        return self._repo

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
        """The content of a file at a commit, or None when it does not exist there (or is not a file).

        Through `git cat-file`, not GitPython: reading one changed file (what `diff` against the working tree
        does) then costs one git process instead of importing GitPython and opening the repository."""
        if any(part in ("", ".", "..") for part in path.split("/")):
            return None  # git would read `./x` relative to the working directory: only plain paths name a file
        return self.read_many(sha, [path]).get(path)

    def is_link(self, sha: str, path: str) -> bool:
        """Whether the path is committed at the commit as a symbolic link (mode 120000)."""
        try:
            entry = self._tree(sha)[path]
        except KeyError:
            return False
        return bool(entry.mode == LINK_MODE)

    def read_many(self, sha: str, paths: Sequence[str]) -> dict[str, bytes]:
        """The contents of many files at a commit, through one `git cat-file --batch` (missing ones left out)."""
        found = self.read_objects([f"{sha}:{p}" for p in paths if "\n" not in p], kind="blob")
        return {spec.split(":", 1)[1]: data for spec, data in found.items()}

    def read_objects(self, specs: Sequence[str], kind: str | None = None) -> dict[str, bytes]:
        """Many objects (`REV:PATH`, a sha, ...) through one `git cat-file --batch`: {spec: raw content}, missing
        ones (and, with `kind`, objects of another type) left out."""
        found = self._read_typed(specs)
        return {spec: data for spec, (found_kind, data) in found.items() if kind is None or found_kind == kind}

    def _read_typed(self, specs: Sequence[str]) -> dict[str, tuple[str, bytes]]:
        """{spec: (object type, raw content)} of the objects found, through one `git cat-file --batch`."""
        wanted = [s for s in specs if "\n" not in s]
        if not wanted:
            return {}
        request = "".join(f"{s}\n" for s in wanted).encode("utf-8")
        done = self._git("cat-file", "--batch", input=request)
        if done.returncode != 0:
            raise GitError(
                "cannot read objects from git",
                command="cat-file --batch",
                stderr=done.stderr.decode("utf-8", "replace"),
            )
        out, pos, found = done.stdout, 0, {}
        for spec in wanted:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            if len(header) == 3:
                size = int(header[2])
                found[spec] = (header[1].decode(), out[pos : pos + size])
                pos += size + 1
        return found

    # -- history ---------------------------------------------------------------------------------------------
    def has_commits(self) -> bool:
        return self.ok("rev-parse", "--verify", "--quiet", "HEAD^{commit}")

    def last_commits(self, paths: list[str]) -> dict[str, CommitInfo]:
        """For each path, the last commit that touched it (one walk of the history)."""
        if not paths or not self.has_commits():
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

    def log(self, revs: Sequence[str], paths: Sequence[str] = (), with_files: bool = False) -> list[LogEntry]:
        """Commits of `revs` (e.g. ["v1.0.0..HEAD"]) touching `paths`, newest first, with full messages."""
        args = ["log", "--format=%x00%H%x1f%an%x1f%ae%x1f%aI%x1f%B%x1f"]
        if with_files:
            args += ["--name-only", "--no-renames"]
        out = self.run(*args, *revs, "--", *paths)
        entries = []
        for chunk in out.split("\x00")[1:]:
            sha, author, email, date, message, files = chunk.split("\x1f", 5)
            entries.append(
                LogEntry(sha, author, email, date, message.strip(), tuple(f for f in files.split("\n") if f.strip()))
            )
        return entries

    def path_log(self, revs: Sequence[str], path: str, follow: bool = False) -> list[PathCommit]:
        """The commits of `revs` touching `path`, newest first (date order), with renames detected (`-M`) and,
        with `follow`, followed back across them (`git log --follow`)."""
        args = ["-c", "core.quotePath=false", "log", PATH_LOG_FORMAT, "--date-order", "--name-status", "-M"]
        out = self.run(*args, *(["--follow"] if follow else []), *revs, "--", path)
        walked = []
        for chunk in out.split("\x00")[1:]:
            sha, author, email, authored, committed, message, rest = chunk.split("\x1f", 6)
            rows = tuple(tuple(line.split("\t")) for line in rest.splitlines() if "\t" in line)
            walked.append(PathCommit(LogEntry(sha, author, email, authored, message.strip()), committed, rows))
        return walked

    def paths_in_history(self, revs: Sequence[str], pathspec: str) -> list[str]:
        """Every path under `pathspec` that a commit of `revs` touched, newest first, repeats kept."""
        args = ("-c", "core.quotePath=false", "log", "--format=", "--name-only", "--no-renames")
        return self.run(*args, *revs, "--", pathspec).splitlines()

    def tree_paths(self, rev: str, pathspec: str) -> list[str]:
        """The files under `pathspec` in the tree of `rev` (`git ls-tree -r --name-only`)."""
        return self.run("-c", "core.quotePath=false", "ls-tree", "-r", "--name-only", rev, "--", pathspec).splitlines()

    def parent_graph(self, tips: Sequence[str]) -> dict[str, list[str]]:
        """{commit: its parents} for every commit reachable from `tips` (one `git rev-list --parents`)."""
        graph: dict[str, list[str]] = {}
        for line in self.run("rev-list", "--parents", *tips).splitlines():
            sha, *parents = line.split()
            graph[sha] = parents
        return graph

    def commit_messages(self, ref: str) -> list[tuple[str, str]]:
        """(sha, full message) of every commit of `ref`, newest first."""
        out = self.run("log", "--format=%x00%H%x1f%B", ref)
        return [(sha, message) for sha, _, message in (c.partition("\x1f") for c in out.split("\x00")[1:])]

    def merge_base(self, one: str, other: str) -> str | None:
        """The best common ancestor of two commits, or None when they share no history (or one is missing)."""
        return self.run("merge-base", one, other, check=False) or None

    def name_status(self, base: str, head: str | None, pathspec: str) -> list[tuple[str, ...]]:
        """What changed under `pathspec` from `base` to `head` (None: the working tree), renames detected:
        `(status, path)` rows, `(status, old, new)` for a rename or copy. Two revisions are compared tree to
        tree (`git diff-tree -r --name-status -M`: plumbing, no index or work tree read, no user diff config);
        the working tree with `git diff --name-status -M`."""
        if head:
            args = ["diff-tree", "-r", "-z", "-M", "--name-status", "--no-commit-id", base, head]
        else:
            args = ["diff", "--name-status", "-z", "-M", "--no-ext-diff", "--no-textconv", base]
        tokens = self.run(*args, "--", pathspec).split("\x00")
        rows: list[tuple[str, ...]] = []
        i = 0
        while i < len(tokens) and tokens[i]:
            width = 3 if tokens[i][0] in "RC" else 2
            rows.append(tuple(tokens[i : i + width]))
            i += width
        return rows

    def tracked(self, pathspec: str) -> list[str]:
        """Files under `pathspec` that git tracks (in the index), relative to the repository root."""
        return self._ls_files(pathspec, "--cached")

    def untracked(self, pathspec: str) -> list[str]:
        """Files under `pathspec` git does not track, ignored ones left out."""
        return self._ls_files(pathspec, "--others", "--exclude-standard")

    def ignored(self, pathspec: str) -> list[str]:
        """Untracked files under `pathspec` that git ignores (.gitignore, .git/info/exclude, core.excludesFile),
        relative to the repository root; a directory whose untracked files all are is given once, ending in `/`."""
        return self._ls_files(pathspec, "--others", "--ignored", "--exclude-standard", "--directory")

    def _ls_files(self, pathspec: str, *flags: str) -> list[str]:
        listed = self.run("ls-files", "-z", *flags, "--", pathspec)
        return [p for p in listed.split("\x00") if p]

    def commit_time(self, sha: str) -> str:
        return self.run("show", "-s", "--format=%cI", sha)

    def commit_people(self, sha: str) -> list[str]:
        """`Name <email>` of a commit's author and of its committer; [] when the commit is unknown."""
        return self.run("show", "-s", "--format=%an <%ae>%n%cn <%ce>", sha, check=False).splitlines()

    def identity(self) -> str:
        """`Name <email>` of whoever git would record as the committer; "" when git has none."""
        out = self.run("var", "GIT_COMMITTER_IDENT", check=False)
        return out.rsplit(">", 1)[0] + ">" if ">" in out else ""

    def dirty(self, pathspec: str = ".") -> list[str]:
        """Uncommitted changes (staged, unstaged, untracked) under a path, as `git status --porcelain` lines."""
        out = self.run("status", "--porcelain", "--untracked-files=all", "--", pathspec)
        return [line for line in out.splitlines() if line.strip()]

    # -- tags ------------------------------------------------------------------------------------------------
    def tags(self, pattern: str, merged_into: str | None = None) -> list[str]:
        """Tag names matching a glob; with `merged_into`, only the tags that commit contains."""
        merged = ["--merged", merged_into] if merged_into else []
        out = self.run("tag", *merged, "--list", pattern)
        return [t for t in out.splitlines() if t]

    def tag_details(self, pattern: str) -> list[TagInfo]:
        """Every tag under a ref glob (`refs/tags/v*`) with its commit, tagger, date and message (one git call);
        a lightweight tag has no tagger, date or message."""
        fields = ("%(refname:short)", "%(objectname)", "%(*objectname)", "%(taggername) %(taggeremail)")
        out = self.run(
            "for-each-ref", "--format=%00" + "%1f".join((*fields, "%(taggerdate:iso-strict)", "%(contents)")), pattern
        )
        found = []
        for chunk in out.split("\x00")[1:]:
            name, obj, peeled, tagger, date, message = chunk.split("\x1f", 5)
            found.append(TagInfo(name, peeled or obj, tagger.strip(), date.strip(), message))
        return found

    def tag(self, name: str) -> TagInfo | None:
        """An annotated tag: the commit it points at, who made it, when, and its message."""
        ref = f"refs/tags/{name}"
        if not self.ok("rev-parse", "--verify", "--quiet", ref):
            return None
        kind = self.run("cat-file", "-t", ref)
        commit = self.run("rev-parse", f"{ref}^{{commit}}")
        if kind != "tag":
            return TagInfo(name, commit, "", "", "")
        out = self.run(
            "for-each-ref", "--format=%(taggername) %(taggeremail)%00%(taggerdate:iso-strict)%00%(contents)", ref
        )
        tagger, date, message = ([*out.split("\x00", 2), "", ""])[:3]
        return TagInfo(name, commit, tagger.strip(), date.strip(), message)

    def tag_signature(self, name: str) -> Signature:
        """Whether the annotated tag `name` is signed, and whether git can check the signature."""
        raw = self.read_objects([f"refs/tags/{name}"], kind="tag").get(f"refs/tags/{name}", b"")
        if not SIGNATURE_BLOCK.search(raw):
            return Signature("none")
        done = self._git("verify-tag", "--raw", f"refs/tags/{name}")
        err = done.stderr.decode("utf-8", "replace")
        if done.returncode == 0:
            return Signature("good", _signer(err))
        return Signature(_failed(err), detail=_last_line(err))

    def tag_ssh_signature(self, name: str) -> str:
        """The armored SSH signature of the annotated tag `name` ("" when it has none, or another kind)."""
        raw = self.read_objects([f"refs/tags/{name}"], kind="tag").get(f"refs/tags/{name}", b"")
        text = raw.decode("utf-8", "replace")
        start = text.find("-----BEGIN SSH SIGNATURE-----")
        end = text.find("-----END SSH SIGNATURE-----", start)
        if start < 0 or end < 0:
            return ""
        return text[start : end + len("-----END SSH SIGNATURE-----")] + "\n"

    def create_tag(self, name: str, commit: str, message: str) -> None:
        """An annotated tag; git signs it when `tag.gpgSign` is set."""
        self.run("tag", "-a", "--cleanup=verbatim", "-F", "-", name, commit, input=message.encode("utf-8"))

    # -- objects and refs (plumbing) -------------------------------------------------------------------------
    def read_ref(self, ref: str) -> str | None:
        out = self.run("rev-parse", "--verify", "--quiet", ref, check=False)
        return out or None

    def show(self, rev_path: str) -> bytes | None:
        """`git cat-file blob REV:PATH`, or None when it does not exist."""
        done = self._git("cat-file", "blob", rev_path)
        return done.stdout if done.returncode == 0 else None

    def write_blob(self, data: bytes) -> str:
        return self.run("hash-object", "-w", "--stdin", input=data)

    def write_tree(self, entries: dict[str, str]) -> str:
        """A tree of blobs: {file name: blob sha}."""
        text = "".join(f"100644 blob {sha}\t{name}\n" for name, sha in sorted(entries.items()))
        return self.run("mktree", input=text.encode("utf-8"))

    def commit_tree(self, tree: str, parents: Sequence[str], message: str, sign: bool = False) -> str:
        """A commit object; `sign` signs it with the key git is set up to sign with (commit-tree itself
        ignores `commit.gpgSign`)."""
        args = ["commit-tree", *(["-S"] if sign else []), tree]
        for parent in parents:
            args += ["-p", parent]
        return self.run(*args, "-F", "-", input=message.encode("utf-8"))

    def config_flag(self, key: str) -> bool:
        """A boolean setting of git's configuration (false when unset or not a boolean)."""
        return self.run("config", "--type=bool", "--get", key, check=False) == "true"

    def config_value(self, key: str) -> str | None:
        return self.run("config", "--get", key, check=False) or None

    def valid_branch(self, name: str) -> bool:
        """Whether `name` is a branch name git accepts (`git check-ref-format`)."""
        return self.valid_ref(f"refs/heads/{name}")

    def valid_ref(self, ref: str) -> bool:
        """Whether `ref` (a full name, `refs/...`) is a name git accepts."""
        return self.ok("check-ref-format", ref)

    def chain(self, ref: str, files: Sequence[str] = ()) -> list[ChainCommit]:
        """The commits of `ref`, oldest first, with their parents, message and signature status, and the blobs
        named `files` at the root of each one's tree; one `git log` for the messages and git's verdict on
        signatures, one `cat-file` for the commits (to see which carry a signature) and the files."""
        out = self.run("log", "--reverse", "--topo-order", "--format=%x00%H%x1f%P%x1f%G?%x1f%GS%x1f%B", ref)
        rows = [chunk.split("\x1f", 4) for chunk in out.split("\x00")[1:]]
        objects = self._read_typed([*(r[0] for r in rows), *(f"{r[0]}:{name}" for r in rows for name in files)])
        commits = []
        for sha, parents, verdict, signer, message in rows:
            kind, raw = objects.get(sha, ("", b""))
            header = (raw if kind == "commit" else b"").split(b"\n\n", 1)[0]
            signed = b"\ngpgsig " in header or b"\ngpgsig-sha256 " in header
            blobs = {name: o[1] for name in files if (o := objects.get(f"{sha}:{name}")) and o[0] == "blob"}
            commits.append(
                ChainCommit(sha, tuple(parents.split()), message, _commit_signature(signed, verdict, signer), blobs)
            )
        return commits

    def compare_and_swap(self, ref: str, new: str, old: str | None) -> bool:
        """Move `ref` to `new` only if it still points at `old` (None: only if it does not exist).

        False when the ref has moved (another writer won: read it again and retry). Any other refusal (a ref
        name git rejects, a lock left by a git process that died, a full disk) is GitError with git's own
        reason: retrying would not help, and "it moved" would be untrue. Whether the ref moved is read from
        the ref itself, not from git's wording."""
        done = self._git("update-ref", ref, new, old or ZERO)
        if done.returncode == 0:
            return True
        if self.valid_ref(ref) and self.read_ref(ref) != old:
            return False
        raise GitError(
            f"git refused to move {ref}",
            command=f"update-ref {ref} {new} {old or ZERO}",
            stderr=done.stderr.decode("utf-8", "replace"),
            hint="git's reason is above; a stale `.lock` file is left by a git process that was killed: "
            "remove it once no git command is running",
        )

    def push(self, remote: str, refspecs: Sequence[str]) -> None:
        """Push; a refusal becomes GitError quoting git's reason (e.g. `[rejected] (fetch first)`)."""
        done = self._git("push", "--porcelain", remote, *refspecs)
        if done.returncode == 0:
            return
        out, err = done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")
        # --porcelain reports each ref as "<flag>\t<from>:<to>\t<summary>"; "!" marks a refused one.
        refused = [line.split("\t")[-1] for line in out.splitlines() if line.startswith("!")]
        if refused:
            raise GitError(
                f"the push to {remote} was rejected: {'; '.join(refused)}",
                command=f"push {remote} {' '.join(refspecs)}",
                hint=f"{remote} has changed; fetch and look before pushing again",
            )
        fatal = next((line for line in err.splitlines() if line.startswith("fatal:")), "")
        raise GitError(
            f"the push to {remote} failed" + (f": {fatal[6:].strip()}" if fatal else ""),
            command=f"push {remote} {' '.join(refspecs)}",
            hint="check the remote (`git remote -v`) and your access to it",
        )

    def fetch(self, remote: str, refspec: str) -> None:
        done = self._git("fetch", "--quiet", remote, refspec)
        if done.returncode != 0:
            raise GitError(
                f"cannot fetch from {remote}",
                command=f"fetch {remote} {refspec}",
                stderr=done.stderr.decode("utf-8", "replace"),
                hint="check the remote, or run without --push and publish the ledger later",
            )

    def is_ancestor(self, older: str, newer: str) -> bool:
        return self.ok("merge-base", "--is-ancestor", older, newer)


SIGNATURE_BLOCK = re.compile(rb"^-----BEGIN (?:SSH|PGP) SIGNATURE-----$", re.MULTILINE)
UNCHECKABLE = ("allowedSignersFile", "No public key", "Can't check signature", "no signature found")


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _signer(verify_output: str) -> str:
    """Who signed, from git's verify output (`Good "git" signature for ada@example.test with ...`)."""
    match = re.search(r'Good "\w+" signature for (\S+)', verify_output) or re.search(
        r'Good signature from "([^"]+)"', verify_output
    )
    return match.group(1) if match else ""


def _failed(verify_output: str) -> str:
    return "unchecked" if any(m in verify_output for m in UNCHECKABLE) else "bad"


def _commit_signature(signed: bool, verdict: str, signer: str) -> Signature:
    """git's `%G?` letter as a Signature: G/U good, X/Y good but expired, B/R bad, E (or N on a signed commit,
    which git reports for an SSH signature it has no allowed signers for) unchecked."""
    if not signed:
        return Signature("none")
    if verdict in ("G", "U", "X", "Y"):
        return Signature("good", signer)
    if verdict in ("B", "R"):
        return Signature("bad", signer)
    return Signature("unchecked", detail="git cannot check the signature (no key or allowed signers configured)")


def identity(path: Path) -> str:
    """`Name <email>` of the git user at `path`, or "" when git has none (or there is no repository)."""
    if toplevel(path) is None:
        return ""
    return GitRepo(path).identity()
