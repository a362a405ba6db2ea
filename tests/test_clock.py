"""The clock seam: every ledger time comes from one source a caller can replace, written in one format."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from conftest import MINIMAL, Clock
from hypothesis import given
from hypothesis import strategies as st

from promptops import clock


@given(
    when=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30)),
    offset=st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_a_stamp_is_the_same_instant_in_utc_to_the_second(when: datetime, offset: int) -> None:
    aware = when.replace(tzinfo=timezone(timedelta(minutes=offset)))
    previous = clock.use(lambda: aware)
    try:
        written = clock.stamp()
    finally:
        clock.use(previous)
    assert written.endswith("Z") and len(written) == len("2026-01-01T00:00:00Z")
    back = datetime.fromisoformat(written.replace("Z", "+00:00"))
    assert back == aware.replace(microsecond=0)


def test_use_returns_the_source_it_replaces_so_a_caller_can_put_it_back() -> None:
    fixed = datetime(2026, 3, 1, tzinfo=timezone.utc)
    previous = clock.use(lambda: fixed)
    try:
        assert clock.now() == fixed and clock.stamp() == "2026-03-01T00:00:00Z"
    finally:
        assert clock.use(previous)() == fixed
    assert clock.now() != fixed  # the system clock again


def test_the_ledger_records_the_time_of_the_installed_clock(make_repo, cli, clock: Clock) -> None:
    root = make_repo(dict(MINIMAL))
    assert cli("release", "--skip-eval", "--reason", "no provider in tests", "-C", root)[0] == 0
    clock.set("2031-07-04T12:30:45Z")
    assert cli("promote", "v0.1.0", "--env", "staging", "--reason", "clock test", "-C", root)[0] == 0
    code, out, _ = cli("history", "--env", "staging", "--format", "json", "-C", root)
    assert code == 0 and "2031-07-04T12:30:45Z" in out
