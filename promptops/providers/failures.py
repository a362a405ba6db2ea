"""Provider failures as ProviderError: one message per kind that keeps the provider's reason whole (on one
line, bounded) and never contains the API key, for the native route and for litellm's."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .. import redaction
from . import RETRYABLE, ProviderError

_CONTEXT_WINDOW = (
    "exceed context limit", "this model's maximum context length is",
    "requested token count exceeds the model's maximum context length", "model's maximum context limit",
    "is longer than the model's context length", "input tokens exceed the configured limit",
    "`inputs` tokens + `max_new_tokens` must be", "exceeds the available context size",
    "exceeds the maximum number of tokens allowed", '"code": "context_length_exceeded"', "prompt is too long",
)  # fmt: skip
DETAIL_CHARS = 2000  # the provider's reason is kept whole, up to this (a hostile server could send megabytes)


def status_error(
    status: int, raw: bytes, headers: Mapping[str, str], who: Who, key: str | None, asked: Mapping[str, Any] | None
) -> ProviderError:
    """A non-200 answer, classified as litellm classifies OpenAI's. `asked` is the response_format sent."""
    text = raw.decode("utf-8", "replace")
    try:
        detail = str(json.loads(text)["error"]["message"])
    except (ValueError, LookupError, TypeError):
        detail = text
    lowered = text.lower()
    kind = "context_window" if status in (400, 413) and context_window(lowered) else kind_of_status(status)
    error = make(kind, who, status, detail, retry_after(headers), key)
    return refused_schema(error, who, status, lowered, asked)


def context_window(lowered: str) -> bool:
    if "string_above_max_length" in lowered or ("invalid 'user'" in lowered and "string too long" in lowered):
        return False
    if "current length is" in lowered and "while limit is" in lowered:
        return True
    return "string too long. expected a string with maximum length" in lowered or any(
        s in lowered for s in _CONTEXT_WINDOW
    )


def refused_schema(
    error: ProviderError, who: Who, status: int | None, lowered: str, asked: Mapping[str, Any] | None
) -> ProviderError:
    """A server that refuses `response_format: json_schema` (llama-cpp-python's answers 500) fails the same way
    every time: say so, name the setting, and do not retry."""
    if not asked or asked.get("type") != "json_schema" or status not in (400, 422, 500):
        return error
    if not any(word in lowered for word in ("response_format", "json_schema", "response format", "schema")):
        return error
    setting = f"structured_output: json_object (or none) on model {who.name!r} in routing.yaml"
    return ProviderError(
        "bad_request",
        f"{error.message} -- the server does not accept response_format json_schema (a prompt with an `output` "
        f"schema asks for it)",
        hint=f"set {setting}; the output schema still gates every answer",
    )


@dataclass(frozen=True)
class Who:
    """Whom an error names: the model as configured, its routing.yaml name and where it was called."""

    label: str
    name: str
    api_base: str | None


def endpoint(api_base: str) -> str:
    """An endpoint as messages show it: scheme, host, port and path only. User info, the query string and the
    fragment are dropped (a key can ride in any of them: `https://user:key@host`, `...?code=key`)."""
    try:
        parts = urllib.parse.urlsplit(api_base)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:  # not a URL that can be taken apart: nothing of it is shown
        return "an endpoint that is not a valid URL"
    if ":" in host:
        host = f"[{host}]"
    path = parts.path.rsplit("@", 1)[-1]  # `user:key@host` without `//` parses as a path
    return urllib.parse.urlunsplit((parts.scheme, host + port, path, "", ""))


def kind_of_status(status: int) -> str:
    if status == 429:
        return "rate_limit"
    if status in (401, 403):
        return "auth"
    if status == 404:
        return "not_found"
    if status == 408:
        return "timeout"
    return "server" if status >= 500 else "bad_request"


def make(
    kind: str,
    who: Who,
    status: int | None,
    detail: str,
    retry: float | None,
    key: str | None,
    timeout: float | None = None,
) -> ProviderError:
    """One message per kind with the provider's reason in full (on one line), never with the key in it."""
    label, code = who.label, f" ({status})" if status else ""
    detail = whole(scrub(str(detail), key))  # scrub before cutting: half a key is still a leak
    where = endpoint(who.api_base) if who.api_base else "its default address"
    message = {
        "rate_limit": f"rate limited by {label}{code}",
        "timeout": f"{label} did not answer within {timeout:g} s" if timeout else f"{label} timed out: {detail}",
        "server": f"{label} failed{code}: {detail}",
        "connection": f"could not reach {label} at {where}: {detail}",
        "malformed": f"{label} sent an unreadable answer: {detail}",
        "auth": f"{label} refused the API key{code}: {detail}",
        "bad_request": f"{label} rejected the request{code}: {detail}",
        "context_window": f"the prompt does not fit the context window of {label}: {detail}",
        "not_found": f"{label} was not found{code}: {detail}",
    }[kind]
    if retry is not None and kind in RETRYABLE:  # a 503 may say when to come back, as a 429 does
        message += f"; retry after {retry:g} s"
    else:
        retry = None
    hint = "check the API key and its environment variable" if kind == "auth" else None
    return ProviderError(kind, scrub(message, key), retry_after=retry, hint=hint)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms` or `Retry-After` (seconds or an HTTP date), if the answer has one."""
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            import email.utils  # an HTTP date is rare; the module costs about 10 ms to import

            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (ValueError, TypeError):
        return None


def whole(text: str) -> str:
    """The provider's whole reason on one line (lines joined), bounded by DETAIL_CHARS."""
    joined = " ".join(line.strip() for line in str(text).strip().splitlines() if line.strip())
    return joined if len(joined) <= DETAIL_CHARS else joined[: DETAIL_CHARS - 3] + "..."


def one_line(value: object) -> str:
    """The first line of a Python exception's text (our own messages, not a provider's reason)."""
    text = str(value).strip()
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= 200 else line[:197] + "..."


def scrub(text: str, key: str | None) -> str:
    return redaction.scrub(text, (key,) if key else ())


def transport_error(exc: Exception, who: Who, timeout: float, key: str | None) -> ProviderError:
    """A failure of the native route's transport (no litellm involved): a timeout or a dropped connection."""
    chain = list(_causes(exc))
    if any(isinstance(e, (asyncio.TimeoutError, TimeoutError)) for e in chain):
        return make("timeout", who, None, "", None, key, timeout)
    malformed = [e for e in chain if isinstance(e, (json.JSONDecodeError, UnicodeDecodeError))]
    if malformed:
        return make("malformed", who, None, _detail(malformed[-1]), None, key)
    return make("connection", who, None, _detail(chain[-1]), None, key)


def status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def litellm_error(litellm: Any, exc: Exception, who: Who, timeout: float, key: str | None) -> ProviderError:
    """Any failure of a call through litellm (its exceptions, or aiohttp's on the direct route) as a ProviderError."""
    import aiohttp  # all three are loaded with litellm: no import cost here
    import httpx
    import openai

    chain = list(_causes(exc))
    status = status_of(exc)
    headers = getattr(getattr(exc, "response", None), "headers", None) or getattr(exc, "litellm_response_headers", None)
    malformed = [e for e in chain if isinstance(e, json.JSONDecodeError)]
    dropped = [e for e in chain if isinstance(e, (aiohttp.ClientError, httpx.TransportError, OSError))]
    if isinstance(exc, litellm.Timeout) or any(
        isinstance(e, (asyncio.TimeoutError, openai.APITimeoutError, httpx.TimeoutException)) for e in chain
    ):
        kind, detail = "timeout", _detail(exc)
    elif isinstance(exc, litellm.ContextWindowExceededError):
        kind, detail = "context_window", _detail(exc)
    elif malformed:  # litellm reports a 200 with a body that is not JSON as a 500
        kind, detail, status = "malformed", _detail(malformed[-1]), None
    elif dropped or any(isinstance(e, (openai.APIConnectionError, litellm.APIConnectionError)) for e in chain):
        kind, detail, status = "connection", _detail((dropped or chain)[-1]), None  # litellm says 500 here too
    elif isinstance(exc, (litellm.BadRequestError, litellm.UnprocessableEntityError)):
        kind, detail = "bad_request", _detail(exc)
    elif status is not None:
        kind, detail = kind_of_status(status), _detail(exc)
    else:  # litellm refused the call before sending it (unknown parameter, missing key, ...)
        kind, detail = "bad_request", _detail(exc)
    retry = retry_after(headers) if headers is not None else None
    return make(kind, who, status, detail, retry, key, timeout)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


_LITELLM_PREFIX = re.compile(r"^(?:litellm\.\w+:\s*)?(?:\w+(?:Error|Timeout):\s*)?(?:\w+Exception\s*-\s*)?")


def _detail(exc: BaseException) -> str:
    """The provider's own words in full, without litellm's `litellm.XError: XError: OpenAIException - ` prefix."""
    message = getattr(exc, "message", None)
    text = message if isinstance(message, str) and message else str(exc) or type(exc).__name__
    return _LITELLM_PREFIX.sub("", whole(text)) or type(exc).__name__
