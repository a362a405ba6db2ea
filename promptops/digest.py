"""Canonical JSON and its sha256: the one rule behind every digest and content address promptops computes.

Bundles, release evidence, cache and recording keys, plan ids and audit records all hash the same canonical
text (sorted keys, compact separators, UTF-8, no NaN or infinity), so a value hashes the same wherever it is
hashed. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

PREFIX = "sha256:"
_ENCODERS = {
    ascii: json.JSONEncoder(sort_keys=True, ensure_ascii=ascii, separators=(",", ":"), allow_nan=False)
    for ascii in (False, True)
}


def encoding(encoder: json.JSONEncoder) -> Callable[[Any], str]:
    """`encoder.encode`, with the standard library's C encoder made once instead of at every call (what `encode`
    does; a third of its time for a small value such as a request), for the JSON made once per call or task.
    The same text; `encoder.encode` itself where the C accelerator is missing. Values must hold no cycle (which
    the encoder would recurse into rather than refuse) and the encoder's `default` must not encode JSON itself."""
    if c_make_encoder is None or encoder.indent is not None:  # pragma: no cover - CPython has both
        return encoder.encode
    text = encode_basestring_ascii if encoder.ensure_ascii else encode_basestring
    make = c_make_encoder(
        None,
        encoder.default,
        text,
        None,
        encoder.key_separator,
        encoder.item_separator,
        encoder.sort_keys,
        encoder.skipkeys,
        encoder.allow_nan,
    )
    return lambda value: "".join(make(value, 0))


_CANONICAL = {ascii: encoding(e) for ascii, e in _ENCODERS.items()}


def encoder(*, ascii: bool = False) -> json.JSONEncoder:
    """The encoder of the canonical form (`ascii`: escape every non-ASCII character, as the audit log does)."""
    return _ENCODERS[ascii]


def canonical_json(value: Any, *, default: Callable[[Any], Any] | None = None, ascii: bool = False) -> str:
    """The canonical text of a JSON value. `default` turns values JSON lacks into JSON (e.g. `str`)."""
    if default is None:
        return _CANONICAL[ascii](value)
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
