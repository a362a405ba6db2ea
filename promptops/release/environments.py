"""Environments on the ledger: promote, rollback, kill, revive, status, history, export."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .. import clock
from ..config_model import Config
from ..errors import GateFailed, InputError
from ..git import GitRepo
from .ledger import Event, Ledger
from .record import parse_message
from .replay import verified_state
from .transitions import LedgerState, apply

ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def now() -> str:
    return clock.stamp()


@dataclass
class Context:
    repo: GitRepo
    config: Config
    ledger: Ledger
    who: str
    root: Path | None = None  # the project directory (default: the repository's root)

    def check_env(self, env: str) -> Mapping[str, Any]:
        return check_env(self.config, env)

    def release(self, version: str) -> tuple[str, dict[str, Any], str]:
        return release_of(self.repo, self.config, version)


def open_context(root: Path, config: Config, sync_from: str | None = None, *, writes: bool = True) -> Context:
    """What a ledger command acts in: the repository of the project at `root`, its ledger, and who you are.
    With `sync_from` (a remote), the remote's ledger is taken in first, before an event that will be pushed.
    A command that only reads the ledger (`writes=False`: status, history) records no one, so git is not asked
    who you are (`who` is ""): it works where git has no identity, such as a CI job, one git process sooner."""
    repo = GitRepo(root)
    who = repo.identity() if writes else ""
    if writes and not who:
        raise InputError("git has no identity for you", hint="git config user.name and user.email")
    ctx = Context(repo=repo, config=config, ledger=Ledger(repo, config.ledger_branch), who=who, root=root)
    if sync_from is not None:
        ctx.ledger.sync(sync_from)
    return ctx


def publish(ctx: Context, event: Event, remote: str) -> None:
    """Push the ledger with `event` on it; a refused push takes the event back (see `Ledger.publish`)."""
    ctx.ledger.publish(remote, event)


def check_env(config: Config, env: str) -> Mapping[str, Any]:
    """The settings of a known, well-named environment."""
    if not ENV_NAME.match(env):
        raise InputError(f"{env!r} is not a valid environment name")
    if config.environments and env not in config.environments:
        raise InputError(
            f"unknown environment {env!r}",
            hint=f"environments in promptops.yaml: {', '.join(sorted(config.environments))}",
        )
    return config.environments.get(env, {})


def release_of(repo: GitRepo, config: Config, version: str) -> tuple[str, dict[str, Any], str]:
    """(tag, release record, tagger) of a release named by version or tag."""
    prefix = config.tag_prefix
    tag = version if prefix and version.startswith(prefix) else f"{prefix}{version}"
    if repo.tag(tag) is None and repo.tag(version) is not None:
        tag = version  # a tag named exactly as given
    info = repo.tag(tag)
    if info is None:
        raise InputError(
            f"no release {version!r} (no tag {tag})",
            hint="list releases with `git tag --list`; fetch tags with `git fetch --tags`",
        )
    record = parse_message(info.message, tag)
    if record.get("commit") != info.commit:
        raise GateFailed(
            f"tag {tag} points at {info.commit[:12]}, but its release record says "
            f"{str(record.get('commit'))[:12]}: the tag was moved",
            hint="restore the tag, or cut a new release",
        )
    return tag, record, info.tagger


def _need_reason(reason: str, action: str) -> None:
    if not reason.strip():
        raise InputError(
            f"a {action} needs a reason: it is recorded on the ledger for whoever reads the history",
            hint='e.g. --reason "refund answers quote the old policy"',
        )


def _writable(ctx: Context) -> None:
    """Nothing is written on top of a ledger that does not replay: its state may have been forged."""
    verified_state(ctx.ledger)


def _verified_release(ctx: Context, tag: str, what: str) -> None:
    # Rebuilding the bundle needs the whole loader: imported only by the commands that verify a release.
    from .releasing import verify_tag

    ok, detail = verify_tag(ctx.root or ctx.repo.root, tag, ctx.config.tag_prefix)
    if not ok:
        raise GateFailed(
            f"release {tag} does not verify, so it is not {what}: {detail}",
            hint=f"run `promptops verify {tag}`; restore the tag from a clone that has the original, or cut a "
            "new release",
        )


def promote(
    ctx: Context,
    version: str,
    env: str,
    reason: str,
    approved_by: str = "",
    *,
    unverified: bool = False,
    new_env: bool = False,
) -> Event:
    _need_reason(reason, "promote")
    ctx.check_env(env)
    state = verified_state(ctx.ledger)
    if not ctx.config.environments and state.environments and env not in state.environments and not new_env:
        known = ", ".join(sorted(state.environments)) or "none yet"
        raise InputError(
            f"no environment {env!r} on the ledger (environments: {known}), and promptops.yaml declares none",
            hint="check the name; to start a new environment pass --new-env, or declare it under `environments:` "
            "in promptops.yaml",
        )
    tag, record, tagger = ctx.release(version)
    _verified_release(ctx, tag, "promoted")
    approved_by, approval = _approval(ctx, env, tag, record, tagger, approved_by, unverified)

    def change(state: LedgerState) -> tuple[LedgerState, Event]:
        event = Event(
            action="promote",
            environment=env,
            by=ctx.who,
            time=now(),
            reason=reason,
            version=tag,
            digest=str(record["digest"]),
            release_commit=str(record["commit"]),
            approved_by=approved_by,
            approval=approval,
            previous=state.version(env),
        )
        return apply(state, event), event

    return ctx.ledger.append(change)


def rollback(
    ctx: Context, env: str, reason: str, to: str | None = None, approved_by: str = "", *, unverified: bool = False
) -> Event:
    """Back to the release before (or `to`). In an environment that requires approval, a rollback to a release
    it ran before needs none (it awaits one after the fact); a release new to it is approved as a promote is."""
    _need_reason(reason, "rollback")
    ctx.check_env(env)
    _writable(ctx)
    target_record: tuple[str, dict[str, Any]] | None = None
    approval = ("", "")
    if to is not None:
        tag, record, tagger = ctx.release(to)
        target_record = (tag, record)
        ran_here = any(
            e.environment == env and e.version == tag and e.action in ("promote", "rollback")
            for e in ctx.ledger.events()
        )
        if not ran_here:  # a release new to the environment is checked as a promote checks it
            _verified_release(ctx, tag, "rolled back to")
            try:
                approval = _approval(ctx, env, tag, record, tagger, approved_by, unverified)
            except GateFailed as exc:
                raise GateFailed(f"{tag} never ran in {env}: {exc.message}", hint=exc.hint) from None
    if approval == ("", "") and approved_by.strip():
        approval = (approved_by.strip(), "unverified")

    def change(state: LedgerState) -> tuple[LedgerState, Event]:
        current = state.environments.get(env)
        if not current:
            raise InputError(f"{env} runs no release yet; nothing to roll back")
        stack = current["stack"]
        if target_record is None:
            if len(stack) < 2:
                raise InputError(
                    f"{env} has run only {current['version']}; nothing earlier to roll back to",
                    hint="promote an earlier release explicitly, or pass --to VERSION",
                )
            target = stack[-2]
        else:
            tag, record = target_record
            ran = [e for e in stack[:-1] if e["version"] == tag]
            target = ran[-1] if ran else {"version": tag, "digest": record["digest"], "commit": record["commit"]}
        event = Event(
            action="rollback",
            environment=env,
            by=ctx.who,
            time=now(),
            reason=reason,
            version=target["version"],
            digest=str(target["digest"]),
            release_commit=str(target["commit"]),
            previous=current["version"],
            approved_by=approval[0],
            approval=approval[1],
        )
        return apply(state, event), event

    return ctx.ledger.append(change)


def _id_of(path: str, prompts_dir: str) -> str:
    rel = path[len(prompts_dir) + 1 :] if prompts_dir and path.startswith(prompts_dir + "/") else path
    return str(PurePosixPath(rel).with_suffix(""))


def prompt_ids(record: Mapping[str, Any], prompts_dir: str) -> set[str]:
    return {_id_of(path, prompts_dir) for path in record.get("hashes", {}).get("prompts", {})}


def _prompt_event(ctx: Context, action: str, env: str, prompt: str, reason: str, state: LedgerState) -> Event:
    """A kill or revive, naming the release the environment runs."""
    return Event(
        action=action, environment=env, by=ctx.who, time=now(), reason=reason, prompt=prompt, version=state.version(env)
    )


def kill(ctx: Context, prompt: str, env: str, reason: str, allow_error: bool = False) -> Event:
    _need_reason(reason, "kill")
    ctx.check_env(env)
    current = verified_state(ctx.ledger).environments.get(env)
    if not current:
        raise InputError(f"{env} runs no release; there is nothing to kill")
    _, record, _ = ctx.release(current["version"])
    known = prompt_ids(record, ctx.config.prompts_dir)
    if prompt not in known:
        raise InputError(
            f"release {current['version']} has no prompt {prompt!r}", hint=f"prompts: {', '.join(sorted(known))}"
        )
    if not allow_error and not _has_fallback(ctx, record, prompt):
        raise InputError(
            f"{prompt!r} has no fallback in {current['version']}: killed, every call to it would fail",
            hint="give the prompt a `fallback:` answer and release it, or pass --allow-error to kill it anyway "
            "(applications then get a PromptKilled error instead of an answer)",
        )

    def change(state: LedgerState) -> tuple[LedgerState, Event]:
        event = _prompt_event(ctx, "kill", env, prompt, reason, state)
        return apply(state, event), event

    return ctx.ledger.append(change)


def _has_fallback(ctx: Context, record: Mapping[str, Any], prompt: str) -> bool:
    """Whether the released prompt (read from the release's commit) has a `fallback` answer. The file was
    valid when it was released, so its frontmatter alone says so; the loader is not needed."""
    from .. import yamltext
    from ..formats import decode
    from ..prompt_files import FRONTMATTER_EXTENSIONS, split_frontmatter
    from ..workspace import GitSource

    path = next(p for p in record["hashes"]["prompts"] if _id_of(p, ctx.config.prompts_dir) == prompt)
    source = GitSource(ctx.root or ctx.repo.root, str(record["commit"]), ctx.repo)
    data = source.read(path)
    if data is None or not path.endswith(FRONTMATTER_EXTENSIONS):
        return False
    front, _, _ = split_frontmatter(decode(data, path), path)
    parsed = yamltext.parse(front, path, first_line=2)[0] if front and front.strip() else None
    return isinstance(parsed, dict) and parsed.get("fallback") is not None


def revive(ctx: Context, prompt: str, env: str, reason: str) -> Event:
    _need_reason(reason, "revive")
    ctx.check_env(env)
    _writable(ctx)

    def change(state: LedgerState) -> tuple[LedgerState, Event]:
        event = _prompt_event(ctx, "revive", env, prompt, reason, state)
        return apply(state, event), event

    return ctx.ledger.append(change)


def _approval(
    ctx: Context, env: str, tag: str, record: Mapping[str, Any], tagger: str, approved_by: str, unverified: bool
) -> tuple[str, str]:
    """(approved by, how) recorded with a promote: a signed approval's principal and ledger commit, or a typed
    name and "unverified"; ("", "") when the environment asks for none and none was given."""
    # Approval policies and signatures matter to promote and `rollback --to` alone: a plain rollback, a kill
    # or a revive does not import them.
    from . import approvals

    typed = approved_by.strip()
    if unverified and not typed:
        raise InputError("--unverified goes with --approved-by NAME", hint="name who approved, e.g. --approved-by bob")
    pol = approvals.policy(ctx.root or ctx.repo.root, ctx.config, env)
    if not pol.required:
        return (typed, "unverified") if typed else ("", "")
    made_by = approvals.authors(ctx.repo, tagger, str(record["commit"]))
    if not typed:
        if pol.signers is not None and pol.signers.is_file():
            approvals.signers_file(pol)  # an approvers file that lists a pattern or a name is refused (exit 2)
        return approvals.find(
            ctx.ledger, pol, str(record["digest"]), made_by, tag_key=approvals.release_key(ctx.repo, tag)
        )
    if not unverified:
        raise GateFailed(
            f"{env} requires a signed approval; a typed --approved-by is not one",
            hint=f"an approver runs `promptops approve {tag} --env {env} --reason ...`; or, knowingly, add "
            "--unverified (recorded and shown as unverified)",
        )
    if any(approvals.same_person(typed, person) for person in made_by):
        raise GateFailed(f"{typed!r} made release {tag}; someone else must approve promoting it to {env}")
    return typed, "unverified"
