"""Golden files for what a human reads. PROMPTOPS_UPDATE_GOLDEN=1 rewrites them on purpose."""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("PROMPTOPS_UPDATE_GOLDEN") == "1" or not path.exists():
        if os.environ.get("CI") == "true" and not path.exists():
            raise AssertionError(f"golden file {name} is missing; create it with PROMPTOPS_UPDATE_GOLDEN=1")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, (
        f"output differs from golden file tests/golden/{name} (refresh with PROMPTOPS_UPDATE_GOLDEN=1)"
    )
