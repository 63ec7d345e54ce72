"""Pendo's time format, once for both plugins: epoch milliseconds, UTC.

Every Pendo timestamp (`lastupdated`, `day`, `hour`, event `timestamp`, `timeSeries.first`) is an
integer count of milliseconds since 1970-01-01T00:00:00Z; settings and bookmarks may be ISO 8601.
"""

from __future__ import annotations

import datetime as dt
import typing as t

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_ONE_MS = dt.timedelta(milliseconds=1)


def ms_to_datetime(value: int | float) -> dt.datetime:
    """Epoch milliseconds to an aware UTC datetime (exact: no float seconds on the way)."""
    return EPOCH + dt.timedelta(milliseconds=value)


def ms_to_iso(value: int | float) -> str:
    """Epoch milliseconds to an ISO 8601 UTC string with milliseconds and a `Z`."""
    return ms_to_datetime(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def datetime_to_ms(moment: dt.datetime) -> int:
    """An aware or naive (read as UTC) datetime to epoch milliseconds, sub-ms floored."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return (moment - EPOCH) // _ONE_MS


def parse_iso(text: str) -> dt.datetime:
    """An ISO 8601 date or date-time (`Z` allowed, naive means UTC) as an aware datetime."""
    stripped = text.strip()
    if stripped.endswith(("Z", "z")):
        stripped = stripped[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(stripped)
    except ValueError:
        try:
            parsed = dt.datetime.combine(dt.date.fromisoformat(stripped), dt.time())
        except ValueError:
            raise ValueError(f"{text!r} is not an ISO 8601 date or date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def to_ms(value: t.Any) -> int | None:
    """A bookmark or setting to epoch ms: numbers pass through as ints, ISO strings and
    datetimes convert; None and "" stay None.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        msg = f"not a timestamp: {value!r}"
        raise TypeError(msg)
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, dt.datetime):
        return datetime_to_ms(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return datetime_to_ms(parse_iso(text))
