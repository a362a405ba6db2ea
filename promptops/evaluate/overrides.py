"""Human overrides under evals/overrides/: a reviewer's verdict on one output, with author, time and reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import yaml

from .. import yamltext
from ..errors import InputError
from ..formats import decode
from ..git import identity
from ..model import Override, Snapshot, Status
from ..workspace import Source, atomic_write
from .store import STATE_FILE, Store

DIRECTORY = "overrides"
VERDICTS: tuple[Status, ...] = ("pass", "fail")


def _dir(evals_dir: str) -> str:
    return f"{evals_dir}/{DIRECTORY}" if evals_dir else DIRECTORY


def read_all(source: Source, evals_dir: str) -> dict[tuple[str, str], Override]:
    found: dict[tuple[str, str], Override] = {}
    base = _dir(evals_dir)
    for path in source.list_dir(base):
        if not path.endswith((".yaml", ".yml")):
            continue
        suite = path[len(base) + 1 :].rsplit(".", 1)[0]
        data, lines = yamltext.parse(decode(source.read(path) or b"", path), path)
        if not isinstance(data, list):
            raise InputError("an overrides file holds a list of overrides", file=path, line=1)
        for i, row in enumerate(data):
            line = yamltext.line_for(lines, (i,))
            try:
                verdict = row["verdict"]
                if verdict not in VERDICTS:
                    raise ValueError(f"verdict must be pass or fail, not {verdict!r}")
                found[(suite, str(row["case"]))] = Override(
                    suite=suite,
                    case=str(row["case"]),
                    verdict=verdict,
                    reason=str(row["reason"]),
                    author=str(row["author"]),
                    time=str(row["time"]),
                    output_hash=str(row["output_hash"]),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise InputError(
                    f"invalid override: {exc}", file=path, line=line, hint="record overrides with `promptops override`"
                ) from None
    return found


def record(root: Path, evals_dir: str, override: Override) -> str:
    """Add or replace the override of one case (atomically); returns the file's path."""
    rel = f"{_dir(evals_dir)}/{override.suite}.yaml"
    path = root / rel
    rows = []
    if path.exists():
        loaded, _ = yamltext.parse(decode(path.read_bytes(), rel), rel)
        if not isinstance(loaded, list):
            raise InputError("an overrides file holds a list of overrides", file=rel, line=1)
        rows = [r for r in loaded if isinstance(r, dict) and r.get("case") != override.case]
    rows.append(
        {
            "case": override.case,
            "verdict": override.verdict,
            "reason": override.reason,
            "author": override.author,
            "time": override.time,
            "output_hash": override.output_hash,
        }
    )
    rows.sort(key=lambda r: str(r["case"]))
    header = (
        "# Human verdicts on eval outputs, recorded by `promptops override`. Each applies only while the\n"
        "# output it judged (output_hash) is unchanged.\n"
    )
    atomic_write(path, header + yaml.safe_dump(rows, sort_keys=False, allow_unicode=True, width=1000))
    return rel


def check_verdict(verdict: str, reason: str) -> Status:
    """The verdict, once it is pass or fail and comes with a reason."""
    if verdict not in VERDICTS:
        raise InputError(f"--verdict must be pass or fail, not {verdict!r}")
    if not reason.strip():
        raise InputError("--reason must say why", hint='e.g. --reason "correct: the policy changed on 1 May"')
    return "pass" if verdict == "pass" else "fail"


def judge(
    root: Path,
    snapshot: Snapshot,
    suite: str,
    case: str,
    verdict: str,
    reason: str,
    author: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> tuple[str, Override]:
    """`promptops override` as a function: record a verdict on the latest output of a case.

    Returns the overrides file written (relative to `root`) and the override. `author` defaults to the git
    identity; the output judged is the most recent one in the results store."""
    status = check_verdict(verdict, reason)
    if suite not in snapshot.suites:
        raise InputError(f"unknown eval suite {suite!r}", hint=f"known: {', '.join(sorted(snapshot.suites))}")
    if case not in {c.id for c in snapshot.suites[suite].cases}:
        raise InputError(f"suite {suite!r} has no case {case!r}", file=snapshot.suites[suite].path)
    store = Store(root / STATE_FILE, warn=warn)
    latest = store.latest_output(suite, case)
    store.close()
    if latest is None or latest.output is None:
        raise InputError(f"no output of {suite}:{case} to judge yet", hint=f"run `promptops eval {suite}` first")
    who = author or identity(root)
    if not who:
        raise InputError("who is deciding? set your git identity (git config user.name) or pass --author")
    override = Override(
        suite=suite,
        case=case,
        verdict=status,
        reason=reason.strip(),
        author=who,
        time=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        output_hash=latest.output_hash,
    )
    return record(root, snapshot.config.evals_dir, override), override
