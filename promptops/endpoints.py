"""Credentials written into an endpoint URL: `https://user:pass@host/v1`, `?api-key=...`, `?code=...`.

An endpoint is shown as written in bundles, diffs, reports, errors and the audit log, so a key in it would be
shown too. One rule finds them, for routing.yaml's `api_base` (refused at load) and for the importer (which
writes the URL without them): the two cannot disagree. Standard library only; never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote_plus, urlsplit, urlunsplit

# Words of a query parameter's name that make its value a credential (`api-key`, `accessToken`, `sig`, `code`).
CREDENTIAL_WORDS = frozenset(
    {
        "key",
        "apikey",
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "pass",
        "sig",
        "signature",
        "code",
        "auth",
        "authorization",
        "credential",
        "credentials",
        "session",
        "jwt",
        "bearer",
    }
)
CREDENTIAL_ENDINGS = ("key", "token", "secret", "password", "signature")
MAX_NAME_SHOWN = 40


@dataclass(frozen=True)
class UrlCredentials:
    """What of a URL carries credentials, described without them (`user:password@`, `query parameter
    'code'`), the credential values themselves, and the URL written without them."""

    found: tuple[str, ...]
    values: tuple[str, ...]
    clean: str


def credential_name(name: str) -> bool:
    """Whether a query parameter of that name carries a credential: `key`, `api-key`, `code`, `sig`,
    `access_token`, `subscriptionKey` yes; `api-version`, `format` no."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name).lower()
    words = re.findall(r"[a-z0-9]+", spaced)
    joined = "".join(words)
    return (
        any(w in CREDENTIAL_WORDS or w.startswith(("auth", "credential", "passw", "secret")) for w in words)
        or joined in CREDENTIAL_WORDS
        or joined.endswith(CREDENTIAL_ENDINGS)
    )


def url_credentials(url: str) -> UrlCredentials:
    """The credentials `url` carries: user information before the host, query parameters named like
    credentials, and a `#fragment` (never sent to a server; a token is what one would hold)."""
    parts = _split(url)
    found: list[str] = []
    values: list[str] = []
    _, at, host = parts.netloc.rpartition("@")
    if at:
        found.append("user:password@ before the host")
        values += [v for v in (parts.username, parts.password) if v]
    kept: list[str] = []
    for piece in parts.query.split("&"):
        if not piece:
            continue
        raw_name, _, raw_value = piece.partition("=")
        name = unquote_plus(raw_name)
        if not credential_name(name):
            kept.append(piece)
            continue
        shown = name if len(name) <= MAX_NAME_SHOWN else name[:MAX_NAME_SHOWN] + "..."
        found.append(f"query parameter {shown!r}")
        values += [v for v in (unquote_plus(raw_value), raw_value) if v]
    if parts.fragment:
        found.append("a #fragment")
        values.append(parts.fragment)
    if not found:
        return UrlCredentials((), (), url)
    clean = urlunsplit((parts.scheme, host, parts.path, "&".join(kept), ""))
    return UrlCredentials(tuple(dict.fromkeys(found)), tuple(dict.fromkeys(values)), clean)


def _split(url: str) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError:  # e.g. an unclosed `[` in the host: split by hand, so nothing is missed
        rest, _, fragment = url.partition("#")
        rest, _, query = rest.partition("?")
        scheme, sep, after = rest.partition("://")
        if not sep:
            return SplitResult("", "", rest, query, fragment)
        netloc, slash, path = after.partition("/")
        return SplitResult(scheme, netloc, slash + path, query, fragment)


API_BASE_HINT = (
    "write the URL without it and give the key through the model's `api_key_env` (or the provider's own "
    "environment variable); rotate the key: it was written in routing.yaml"
)


def api_base_problem(model: str, api_base: object) -> str | None:
    """Why routing.yaml's `api_base` of `model` is refused (it carries credentials), or None. The message names
    what carries them, never their value."""
    if not isinstance(api_base, str):
        return None
    found = url_credentials(api_base).found
    if not found:
        return None
    return (
        f"model {model!r}: `api_base` carries credentials ({', '.join(found)}); an endpoint is shown as written "
        "in bundles, diffs, reports and the audit log"
    )
