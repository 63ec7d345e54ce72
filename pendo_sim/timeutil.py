"""Subscription-timezone time arithmetic: local day/hour period starts as UTC epoch ms."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

HOUR_MS = 3_600_000
DAY_MS = 86_400_000


class SubscriptionClock:
    """Period math in one IANA timezone. All inputs/outputs are UTC epoch milliseconds."""

    def __init__(self, tz: str = "America/New_York"):
        self.tz_name = tz
        self.tz = ZoneInfo(tz)

    def local(self, ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).astimezone(self.tz)

    def local_midnight(self, d: date) -> int:
        dt = datetime(d.year, d.month, d.day, tzinfo=self.tz)
        return int(dt.timestamp() * 1000)

    def day_floor(self, ms: int) -> int:
        return self.local_midnight(self.local(ms).date())

    def hour_floor(self, ms: int) -> int:
        loc = self.local(ms)
        floored = loc.replace(minute=0, second=0, microsecond=0)
        return int(floored.timestamp() * 1000)

    def add_days(self, day_ms: int, n: int) -> int:
        return self.local_midnight(self.local(day_ms).date() + timedelta(days=n))

    def next_day(self, day_ms: int) -> int:
        return self.add_days(day_ms, 1)

    def floor(self, ms: int, period: str) -> int:
        return self.day_floor(ms) if period == "day" else self.hour_floor(ms)

    def add(self, ms: int, n: int, period: str) -> int:
        return self.add_days(ms, n) if period == "day" else ms + n * HOUR_MS

    def ceil(self, ms: int, period: str) -> int:
        f = self.floor(ms, period)
        return f if f == ms else self.add(f, 1, period)

    def date_ms(self, *args) -> int:
        """Pendo `date(y, m, d[, h, mi, s])` or `date("YYYY-MM-DD")` in the subscription tz."""
        if len(args) == 1 and isinstance(args[0], str):
            day = date.fromisoformat(args[0][:10])
            return self.local_midnight(day)
        parts = [int(a) for a in args] + [0] * (6 - len(args))
        y, m, d, h, mi, s = parts[:6]
        dt = datetime(y, m, d, h, mi, s, tzinfo=self.tz)
        return int(dt.timestamp() * 1000)

    def date_add(self, base: int, n: int, unit: str) -> int:
        unit = unit.lower().rstrip("s")
        if unit == "day":
            loc = self.local(base)
            tgt = loc.replace(tzinfo=None) + timedelta(days=n)
            return int(tgt.replace(tzinfo=self.tz).timestamp() * 1000)
        if unit == "hour":
            return base + n * HOUR_MS
        if unit == "minute":
            return base + n * 60_000
        if unit == "second":
            return base + n * 1000
        if unit == "week":
            return self.date_add(base, 7 * n, "day")
        raise ValueError(f"unknown dateAdd unit {unit!r}")

    def days_between(self, first_day: int, end_ms: int):
        """Local day starts d with first_day <= d < end_ms."""
        d = first_day
        while d < end_ms:
            yield d
            d = self.next_day(d)

    def hours_in_day(self, day_ms: int) -> int:
        return (self.next_day(day_ms) - day_ms) // HOUR_MS
