"""Canonical JSON and content digests: the bytes that are hashed and signed, the same on every machine.

Standard library only: the runtime and `signing` use it without loading anything else of promptops.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def canonical(doc: Mapping[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8, a final newline; NaN and infinities refused."""
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text + "\n").encode("utf-8")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
