"""Time windows for event aggregations, aligned to Pendo's own period starts.

Why this is not plain UTC arithmetic
------------------------------------
`day` and `hour` are the *subscription's local* period starts expressed as UTC epoch ms
(pendo-api.md §3.4, §7.4): a US/Eastern day starts at 04:00Z or 05:00Z and is 23 or 25 hours
long at a DST change. The tap does not know the subscription's timezone, so it never computes
a period start itself. It lets Pendo do it:

* Pendo rounds `timeSeries.first` *down* to the start of the period containing it, and
  `count` counts whole periods from there. So a request whose `first` is any instant inside
  period P covers exactly P, P+1, ..., P+count-1, whatever the timezone.
* The tap therefore keeps a cursor `start` = its *estimate* of a period start and always sends
  `first = start + period/2` (mid-period). The estimate is exact for hours and for days
  without a DST change; across a DST change it is off by one hour, which still falls inside
  the same period because a day is 23-25 hours long (12 hours of slack either side). The
  next window's `first` is `start + count * period + period/2`: the period right after the
  last one covered, never the same one again and never one further, so no period is skipped
  or read twice at a window edge.
* The estimate is re-centred on real data: the response's `startTime` (the exact start of
  the evaluated range) when Pendo sends it, else the smallest `day`/`hour` value of the
  rows. Drift can therefore never accumulate across DST changes.
* The bookmark stored in STATE is such an estimated period start: "every period before the
  one containing `bookmark + period/2` has been fully emitted". A resumed run starts at
  `bookmark - lookback`, again sent as mid-period instants.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
# Largest difference between a nominal (24h) and a real local day: one DST change.
DST_SLACK_MS = HOUR_MS
MAX_WINDOW_DAYS = 30

PERIOD_MS = {"dayRange": DAY_MS, "hourRange": HOUR_MS}
PERIOD_FIELD = {"dayRange": "day", "hourRange": "hour"}


@dataclass(frozen=True)
class Window:
    """`count` periods of `period`, the first one starting at (about) `start` ms."""

    period: str  # "dayRange" | "hourRange"
    start: int  # estimated start of the first period (epoch ms)
    count: int

    @property
    def period_ms(self) -> int:
        return PERIOD_MS[self.period]

    @property
    def first(self) -> int:
        """The `timeSeries.first` to send: mid-period, so Pendo's rounding picks the period."""
        return self.start + self.period_ms // 2

    @property
    def end(self) -> int:
        """Estimated start of the period after the window."""
        return self.start + self.count * self.period_ms

    def time_series(self) -> dict[str, t.Any]:
        return {"period": self.period, "first": self.first, "count": self.count}

    def split(self) -> list[Window]:
        """Smaller windows covering the same periods, for a query Pendo refused as too big.

        Several periods: two halves. One day: its hours (rows then carry `hour`, see the
        streams). One hour: nothing smaller exists; the caller gives up loudly.
        """
        if self.count > 1:
            half = self.count // 2
            return [
                Window(self.period, self.start, half),
                Window(self.period, self.start + half * self.period_ms, self.count - half),
            ]
        if self.period == "dayRange":
            return [Window("hourRange", self.start, 24)]
        return []

    def label(self) -> str:
        return f"{self.period} first={self.first} count={self.count}"


def recentre(estimate: int, exact: int, period_ms: int) -> int:
    """The period start nearest to `estimate` that is a whole number of nominal periods away
    from `exact`, a known period start (Pendo's `startTime`, or a `day`/`hour` value).
    """
    steps = round((estimate - exact) / period_ms)
    return exact + steps * period_ms


def plan_windows(start: int, now: int, period: str, periods_per_window: int) -> tuple[int, int]:
    """How many periods the window starting at `start` should cover, and whether it ends
    before the period containing `now` (i.e. is complete).

    Returns (count, complete_periods): `complete_periods` is how many of the window's periods
    have certainly ended by `now`; the bookmark never moves past an unfinished period, so it
    is re-read (Pendo keeps updating it) on the next run.
    """
    period_ms = PERIOD_MS[period]
    slack = DST_SLACK_MS if period == "dayRange" else 0
    ended = max(0, (now - start - slack) // period_ms)  # periods certainly over
    count = min(periods_per_window, ended + 1)
    return count, min(count, ended)
