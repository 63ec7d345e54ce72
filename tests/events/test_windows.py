"""Window planning: pure arithmetic, checked against the simulator's own timezone clock."""

from __future__ import annotations

import pytest

from pendo_sim.timeutil import SubscriptionClock
from tap_pendo.events.windows import DAY_MS, HOUR_MS, Window, plan_windows, recentre

CLOCK = SubscriptionClock("America/New_York")
MARCH_6 = CLOCK.date_ms(2026, 3, 6)


@pytest.mark.parametrize(
    "tz", ["America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe"]
)
@pytest.mark.parametrize("window_days", [1, 2, 7])
def test_mid_period_hints_tile_days_across_dst(tz: str, window_days: int) -> None:
    """Stepping `start + count*period` and sending mid-period `first`s covers every local day
    exactly once for a year, in zones with 1h, 30min or no DST shifts."""
    clock = SubscriptionClock(tz)
    start = clock.date_ms(2026, 1, 1)
    window = Window("dayRange", start, window_days)
    covered = []
    for _ in range(365 // window_days):
        first_day = clock.day_floor(window.first)
        days = [first_day]
        for _ in range(window.count - 1):
            days.append(clock.next_day(days[-1]))
        covered += days
        # what the stream does with Pendo's startTime: re-centre, then step
        cursor = recentre(window.start, first_day, DAY_MS)
        window = Window("dayRange", cursor + window.count * DAY_MS, window_days)
    assert covered == list(clock.days_between(covered[0], clock.next_day(covered[-1])))


def test_split_halves_then_hours() -> None:
    window = Window("dayRange", MARCH_6, 3)
    assert window.split() == [
        Window("dayRange", MARCH_6, 1),
        Window("dayRange", MARCH_6 + DAY_MS, 2),
    ]
    assert Window("dayRange", MARCH_6, 1).split() == [Window("hourRange", MARCH_6, 24)]
    assert Window("hourRange", MARCH_6, 5).split()[1] == Window(
        "hourRange", MARCH_6 + 2 * HOUR_MS, 3
    )
    assert Window("hourRange", MARCH_6, 1).split() == []


def test_plan_stops_at_the_unfinished_period() -> None:
    now = MARCH_6 + 2 * DAY_MS + 5 * HOUR_MS  # the third day is in progress
    assert plan_windows(MARCH_6, now, "dayRange", 7) == (3, 2)
    assert plan_windows(MARCH_6, now, "dayRange", 1) == (1, 1)
    assert plan_windows(MARCH_6, MARCH_6 + 30 * 60_000, "hourRange", 24) == (1, 0)


def test_recentre_keeps_the_nearest_period_start() -> None:
    assert recentre(MARCH_6 + 3 * HOUR_MS, MARCH_6 - 5 * DAY_MS, DAY_MS) == MARCH_6
    assert recentre(MARCH_6 - HOUR_MS, MARCH_6 + DAY_MS, DAY_MS) == MARCH_6


def test_a_day_is_complete_only_an_hour_after_its_nominal_end() -> None:
    """The cursor is an estimate; across a DST change the real day can be 25 hours long. So a
    day counts as over only an hour (the DST slack) after its nominal 24: found by mutation
    testing (dropping or flipping the slack survived every other test)."""
    half_hour_after_nominal_end = MARCH_6 + DAY_MS + 30 * 60_000
    assert plan_windows(MARCH_6, half_hour_after_nominal_end, "dayRange", 3) == (1, 0)
    assert plan_windows(MARCH_6, MARCH_6 + DAY_MS + HOUR_MS, "dayRange", 3) == (2, 1)
    # Hours need no slack: an hour is over when the next begins.
    assert plan_windows(MARCH_6, MARCH_6 + HOUR_MS, "hourRange", 3) == (2, 1)


def test_a_two_day_window_splits_into_two_days_not_hours() -> None:
    assert Window("dayRange", MARCH_6, 2).split() == [
        Window("dayRange", MARCH_6, 1),
        Window("dayRange", MARCH_6 + DAY_MS, 1),
    ]
