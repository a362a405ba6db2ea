"""Recorded responses committed under evals/recordings/: read for --replay, written by --record."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ..errors import InputError
from ..formats import decode, parse_json
from ..providers import Completion
from ..redaction import Redactor
from ..workspace import Source, atomic_write
from .runner import Recorded

DIRECTORY = "recordings"
JUDGE_FILE = "_judge"


def directory(evals_dir: str) -> str:
    return f"{evals_dir}/{DIRECTORY}" if evals_dir else DIRECTORY


def read_all(source: Source, evals_dir: str) -> dict[str, Completion]:
    """Every recording of the project, by request key. Checks every line: `--record` calls this before any
    provider call, so a broken file is found before the calls it would waste."""
    found: dict[str, Completion] = {}
    for path in source.list_dir(directory(evals_dir)):
        if not path.endswith(".jsonl"):
            continue
        text = decode(source.read(path) or b"", path, 64 * 1024 * 1024)
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = parse_json(line)
                if (
                    not isinstance(row, dict)
                    or not isinstance(row.get("key"), str)
                    or not isinstance(row.get("text"), str)
                ):
                    raise ValueError("each line must be an object with a string `key` and `text`")
                if not isinstance(row.get("cost"), (int, float, type(None))) or isinstance(row.get("cost"), bool):
                    raise ValueError("`cost` must be a number")
                found[row["key"]] = Completion(
                    text=row["text"],
                    prompt_tokens=int(row.get("prompt_tokens", 0)),
                    completion_tokens=int(row.get("completion_tokens", 0)),
                    cost=row.get("cost"),
                    latency_ms=float(row.get("latency_ms", 0.0)),
                    model=str(row.get("model", "")),
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(
                    f"invalid recording: {exc}", file=path, line=n, hint="re-record with `promptops eval --record`"
                ) from None
    return found


def write(root: Path, evals_dir: str, recorded: Sequence[Recorded], redactor: Redactor) -> list[str]:
    """Merge new recordings into their suites' files (atomically). Texts are redacted as the project says."""
    by_file: dict[str, list[Recorded]] = {}
    for r in recorded:
        by_file.setdefault(r.suite or JUDGE_FILE, []).append(r)
    written = []
    for suite, items in sorted(by_file.items()):
        rel = f"{directory(evals_dir)}/{suite}.jsonl"
        path = root / rel
        rows: dict[str, dict[str, object]] = {}
        if path.exists():
            for n, line in enumerate(path.read_text("utf-8", errors="replace").splitlines(), 1):
                if line.strip():
                    try:
                        row = parse_json(line)
                        rows[row["key"]] = row
                    except (ValueError, KeyError, TypeError) as exc:
                        raise InputError(
                            f"invalid recording: {exc}",
                            file=rel,
                            line=n,
                            hint="fix or delete this line, then re-record",
                        ) from None
        for r in items:
            c = r.completion
            rows[r.key] = {
                "key": r.key,
                "case": r.case,
                "variant": r.variant,
                "model": r.model,
                "text": redactor.text(c.text, "output") or "",
                "prompt_tokens": c.prompt_tokens,
                "completion_tokens": c.completion_tokens,
                "cost": c.cost,
                "latency_ms": round(c.latency_ms, 1),
            }
        ordered = sorted(rows.values(), key=lambda row: (str(row["case"]), str(row["variant"]), str(row["key"])))
        atomic_write(path, "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in ordered))
        written.append(rel)
    return written
