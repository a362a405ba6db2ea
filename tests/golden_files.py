"""Golden files for what a human reads. PROMPTOPS_UPDATE_GOLDEN=1 writes or rewrites them, on purpose."""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def check_golden(name: str, text: str, directory: Path = GOLDEN) -> None:
    """`text` must equal the golden file `name`. A missing golden file fails (it is never written silently, or a
    test would pass against whatever the code printed the first time); PROMPTOPS_UPDATE_GOLDEN=1 writes it."""
    path = directory / name
    if os.environ.get("PROMPTOPS_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if not path.exists():
        raise AssertionError(f"golden file tests/golden/{name} is missing; create it with PROMPTOPS_UPDATE_GOLDEN=1")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, (
        f"output differs from golden file tests/golden/{name} (refresh with PROMPTOPS_UPDATE_GOLDEN=1)"
    )
