"""pendo_http.times: the one conversion between Pendo's epoch milliseconds and ISO 8601."""

from __future__ import annotations

import datetime as dt

import pytest

from pendo_http.times import datetime_to_ms, ms_to_iso, parse_iso, to_ms

MS = 1_699_920_000_123  # 2023-11-14T00:00:00.123Z


def test_ms_and_iso_round_trip_exactly() -> None:
    assert ms_to_iso(MS) == "2023-11-14T00:00:00.123Z"
    assert to_ms(ms_to_iso(MS)) == MS
    assert ms_to_iso(-1) == "1969-12-31T23:59:59.999Z"
    # Far from 1970 a float of seconds would lose the milliseconds; the conversion does not.
    assert ms_to_iso(253_402_300_799_999) == "9999-12-31T23:59:59.999Z"


@pytest.mark.parametrize(
    "text",
    [
        "2023-11-14T00:00:00.123Z",
        "2023-11-14T00:00:00.123z",
        "2023-11-14T00:00:00.123",
        "2023-11-14T01:00:00.123+01:00",
        " 2023-11-14T00:00:00.123Z ",
    ],
)
def test_iso_forms_read_as_utc(text: str) -> None:
    assert to_ms(text) == MS


def test_a_date_reads_as_its_utc_midnight() -> None:
    assert parse_iso("2023-11-14") == dt.datetime(2023, 11, 14, tzinfo=dt.timezone.utc)


def test_sub_milliseconds_are_floored_and_naive_is_utc() -> None:
    assert datetime_to_ms(dt.datetime(2023, 11, 14, 0, 0, 0, 123_999)) == MS


def test_numbers_pass_and_nothing_stays_nothing() -> None:
    assert to_ms(MS) == MS
    assert to_ms(str(MS)) == MS
    assert to_ms(float(MS)) == MS
    assert to_ms(None) is None
    assert to_ms("") is None
    with pytest.raises(TypeError):
        to_ms(True)
    with pytest.raises(ValueError, match="not an ISO 8601"):
        to_ms("yesterday")
