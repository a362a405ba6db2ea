"""Rules on the repository: pinned sources, literal secrets in managed files, and (opt-in, reading git
history through git.py) Change-Reason: trailers on high-risk prompt changes since the last release."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..git import GitRepo, toplevel
from ..model import Finding
from ..pinned import listed
from ..redaction import find_secrets
from ..routing import is_glob
from ..workspace import GitSource, Source, TreeSource
from .context import Context, make_finding


def check_sources(ctx: Context) -> Iterator[Finding]:
    tree = ctx.source if isinstance(ctx.source, TreeSource) else None
    for prompt in ctx.snapshot.prompts.values():
        for pattern in prompt.sources:
            if not ctx.source.glob(pattern) and not (tree and not is_glob(pattern) and tree.ignored(pattern)):
                yield make_finding(
                    "missing-source",
                    f"source {pattern!r} matches no file",
                    prompt.path,
                    prompt.line_of("sources"),
                    "paths are relative to the repository root",
                )
    if tree is not None:
        yield from _ignored_sources(ctx, tree)


def _ignored_sources(ctx: Context, tree: TreeSource) -> Iterator[Finding]:
    """Documents git ignores, named by a prompt's `sources` or by a literal `source("...")` call: `source()`
    refuses them in the working tree (git is asked only when some prompt lists sources)."""
    for prompt in ctx.snapshot.prompts.values():
        if not prompt.sources:
            continue
        named = {p: (prompt.path, prompt.line_of("sources")) for p in prompt.sources if not is_glob(p)}
        for info in ctx.renderer.closure(ctx.renderer.name_of(prompt))[0]:
            named.update({p: (info.file, n) for p, n in info.sources.items() if p not in named and listed(prompt, p)})
        for path, (file, line) in named.items():
            if tree.ignored(path):
                yield make_finding(
                    "ignored-source",
                    f"source {path!r} of prompt {prompt.id!r} is a file git ignores: source() refuses it",
                    file,
                    line,
                    "commit the document under a path git does not ignore, or remove it from the prompt's `sources`",
                )


def managed_files(ctx: Context) -> list[str]:
    snap = ctx.snapshot
    files = [*snap.files, snap.routing.path, *(s.path for s in snap.suites.values())]
    files += [f"{snap.config.evals_dir}/{d}" for s in snap.suites.values() for d in s.datasets]
    if snap.config.path or ctx.source.read("promptops.yaml") is not None:
        files.append("promptops.yaml")
    return sorted(set(files))


def check_secrets(ctx: Context) -> Iterator[Finding]:
    for path in managed_files(ctx):
        raw = ctx.source.read(path)
        if raw is None:
            continue
        text = raw.decode("utf-8", errors="replace")
        lines_seen: set[int] = set()
        for hit in find_secrets(text):
            if hit.line in lines_seen:
                continue
            lines_seen.add(hit.line)
            yield make_finding(
                "literal-secret",
                f"{hit.detector.label} appears in this file",
                path,
                hit.line,
                "remove it, rotate the key, and name an environment variable with api_key_env",
            )


SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


def _history(source: Source) -> tuple[GitRepo, str, str] | None:
    """(repository, tip commit, the project's directory in it) of a source with a git history, else None."""
    if isinstance(source, GitSource):
        return source.repo, source.sha, source.prefix
    if isinstance(source, TreeSource) and toplevel(source.root) is not None:
        repo = GitRepo(source.root)
        if repo.has_commits():
            rel = source.root.relative_to(repo.root).as_posix()
            return repo, "HEAD", "" if rel == "." else rel + "/"
    return None


def _last_release(repo: GitRepo, tip: str, prefix: str) -> str | None:
    """The highest release tag (`prefix` + MAJOR.MINOR.PATCH) the tip contains."""
    found = []
    for tag in repo.tags(f"{prefix}*", merged_into=tip):
        match = SEMVER.match(tag[len(prefix) :])
        if match:
            found.append((tuple(int(g) for g in match.groups()), tag))
    return max(found)[1] if found else None


def check_change_reason(ctx: Context) -> Iterator[Finding]:
    """Commits since the last release that touch a high-risk prompt carry a `Change-Reason:` trailer."""
    high = {p.path: p for p in ctx.snapshot.prompts.values() if p.risk == "high"}
    found = _history(ctx.source) if high else None
    if found is None:
        return
    repo, tip, prefix = found
    last = _last_release(repo, tip, ctx.snapshot.config.tag_prefix)
    paths = {prefix + path: prompt for path, prompt in high.items()}
    for entry in repo.log([f"{last}..{tip}" if last else tip], sorted(paths), with_files=True):
        if entry.trailers("Change-Reason"):
            continue
        for prompt in (paths[f] for f in entry.files if f in paths):
            yield make_finding(
                "change-reason",
                f"commit {entry.sha[:7]} ({entry.subject}) changes high-risk prompt {prompt.id!r} "
                "without a Change-Reason: trailer",
                prompt.path,
                1,
                "reword the commit with a `Change-Reason: why` trailer (`git commit --amend`, or `git rebase -i` "
                "for an older one)",
            )
