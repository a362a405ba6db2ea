"""Canonical JSON and its sha256: the one rule behind every digest and content address promptops computes.

Bundles, release evidence, cache and recording keys, plan ids and audit records all hash the same canonical
text (sorted keys, compact separators, UTF-8, no NaN or infinity), so a value hashes the same wherever it is
hashed. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

PREFIX = "sha256:"
_ENCODERS = {
    ascii: json.JSONEncoder(sort_keys=True, ensure_ascii=ascii, separators=(",", ":"), allow_nan=False)
    for ascii in (False, True)
}


def encoder(*, ascii: bool = False) -> json.JSONEncoder:
    """The encoder of the canonical form (`ascii`: escape every non-ASCII character, as the audit log does)."""
    return _ENCODERS[ascii]


def canonical_json(value: Any, *, default: Callable[[Any], Any] | None = None, ascii: bool = False) -> str:
    """The canonical text of a JSON value. `default` turns values JSON lacks into JSON (e.g. `str`)."""
    if default is None:
        return _ENCODERS[ascii].encode(value)
    return json.dumps(
        value, sort_keys=True, ensure_ascii=ascii, separators=(",", ":"), allow_nan=False, default=default
    )


def canonical(value: Any) -> bytes:
    """The canonical form of a document as a file: its canonical JSON, a newline, UTF-8."""
    return (canonical_json(value) + "\n").encode("utf-8")


def hex_of(data: bytes | str) -> str:
    """The bare sha256 hex digest of bytes (or of a string's UTF-8)."""
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def sha256(data: bytes | str) -> str:
    """The labelled digest (`sha256:<hex>`) that bundles, tags and evidence carry."""
    return PREFIX + hex_of(data)


def key_of(value: Any, *, default: Callable[[Any], Any] | None = None) -> str:
    """The content address of a JSON value: the bare hex digest of its canonical JSON."""
    return hex_of(canonical_json(value, default=default))


def digest_of(value: Any) -> str:
    """The labelled digest of a document: sha256 of its canonical form as a file (`canonical`)."""
    return sha256(canonical(value))
