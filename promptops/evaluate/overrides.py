"""Human overrides under evals/overrides/: a reviewer's verdict on one output, with author, time and reason."""

from __future__ import annotations

from pathlib import Path

import yaml

from .. import yamltext
from ..errors import InputError
from ..formats import decode
from ..model import Override, Status
from ..workspace import Source, atomic_write

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
