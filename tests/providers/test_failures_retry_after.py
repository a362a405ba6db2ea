"""`Retry-After` as the provider sends it: milliseconds, seconds, or an HTTP date (RFC 9110), never an error."""

from __future__ import annotations

import email.utils
import time

from hypothesis import given
from hypothesis import strategies as st

from promptops.providers.failures import retry_after


def test_seconds_milliseconds_and_an_http_date_are_read() -> None:
    assert retry_after({"retry-after-ms": "1500"}) == 1.5
    assert retry_after({"retry-after": "7"}) == 7.0
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)  # "Mon, 30 Nov 2026 13:00:30 GMT"
    assert 25 <= (retry_after({"retry-after": soon}) or 0) <= 31
    past = email.utils.formatdate(time.time() - 30, usegmt=True)
    assert retry_after({"retry-after": past}) == 0.0
    assert retry_after({}) is None


@given(st.text(max_size=40))
def test_any_header_value_gives_a_wait_or_none(value: str) -> None:
    wait = retry_after({"retry-after": value})
    assert wait is None or wait >= 0
