"""Late updates: Pendo changes an aggregate of an earlier day after the tap has read it.

The first sync ends mid-day on 2026-03-08: the simulator's clock is 11:00 EDT, while the tap's
end_date (exclusive) is the next local midnight, so it reads 03-08 as far as Pendo has it, and
its bookmark is that day's local midnight (the last day read is never bookmarked past). Then
the simulator revises two page_events aggregates (POST /_sim/revise): one of 03-07, inside
the default one-day lookback, and one of 03-06, outside it. A second sync with the default
lookback re-reads 03-07 and emits the new value under the SAME rowKey (a target upserting on
it ends with the new value); the 03-06 change is not re-read. Without lookback, the 03-07
change is missed too: that is what the lookback is for.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from collections.abc import Iterator

import pytest

from pendo_sim import DatasetConfig, Simulator
from tests.helpers.tap import sync_in_process, tap_config
from tests.oracle.reference import Params, Raw, expected_page_events, natural_key

FIRST_NOW = "2026-03-08T15:00:00Z"  # 11:00 EDT on the DST day: 03-08 is not over
# The first run's end_date: 2026-03-09 00:00 EDT. Exclusive, so 03-08 is the last day read
# (an end_date of FIRST_NOW would stop before 03-08, the day holding it).
FIRST_END = "2026-03-09T04:00:00Z"
SECOND_NOW = "2026-03-09T12:00:00Z"
START = "2026-03-06T12:00:00Z"
DAY_03_06 = 1772773200000  # 2026-03-06 00:00 EST = 05:00Z
DAY_03_07 = 1772859600000  # 2026-03-07 00:00 EST = 05:00Z
DAY_03_08 = 1772946000000  # 2026-03-08 00:00 EST = 05:00Z


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


KEY = ("visitorId", "accountId", "appId", "server", "remoteIp", "userAgent", "pageId", "day")


@pytest.fixture
def sim() -> Iterator[Simulator]:
    config = DatasetConfig(
        seed=4, visitors=40, accounts=10, event_rows_per_day=80, guide_events_per_day=0
    )
    with Simulator(config, now_ms=ms(FIRST_NOW)) as simulator:
        yield simulator


def _revise(sim: Simulator, atom: dict, new_events: int, last_time: int) -> int:
    body = {
        "source": "pageEvents",
        "match": {k: atom[k] for k in ("hour", "server", "remoteIp", "userAgent")},
        "set": {"numEvents": new_events, "lastTime": last_time},
    }
    request = urllib.request.Request(
        f"{sim.url}/_sim/revise", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["matched"]


def _key(row: dict) -> tuple:
    return tuple(json.dumps(row.get(k)) for k in KEY)


def _first_sync_then_revise(sim: Simulator) -> tuple[dict, dict, dict, dict]:
    """First sync; then revise one 03-07 and one 03-06 aggregate. Returns (first rows by key,
    state, the 03-07 atom, the 03-06 atom)."""
    first = sync_in_process(tap_config(sim, start_date=START, end_date=FIRST_END), {"page_events"})
    state = first.state
    assert state["bookmarks"]["page_events"]["replication_key_value"] == DAY_03_08
    rows = {_key(r): r for r in first.records["page_events"]}
    # 03-08 is read as far as Pendo has it at FIRST_NOW: mid-day.
    assert {r["day"] for r in rows.values()} == {DAY_03_06, DAY_03_07, DAY_03_08}
    assert max(r["lastTime"] for r in rows.values()) <= ms(FIRST_NOW)
    raw = sim.dataset.raw_events("pageEvents")
    atom_07 = next(a for a in raw if DAY_03_07 <= a["hour"] < DAY_03_08)
    atom_06 = next(a for a in raw if DAY_03_06 <= a["hour"] < DAY_03_07)
    revised_at = ms(FIRST_NOW) + 3_600_000
    for atom in (atom_07, atom_06):
        assert _revise(sim, atom, atom["numEvents"] + 1000, revised_at) == 1
    sim.set_now(ms(SECOND_NOW))
    return rows, state, atom_07, atom_06


def _row_of(rows: dict, atom: dict, day: int) -> dict:
    return rows[_key({**atom, "day": day})]


def test_default_lookback_picks_up_a_late_update_under_the_same_row_key(sim: Simulator) -> None:
    before, state, atom_07, atom_06 = _first_sync_then_revise(sim)
    old_07 = _row_of(before, atom_07, DAY_03_07)
    assert old_07["numEvents"] == atom_07["numEvents"]

    second = sync_in_process(
        tap_config(sim, start_date=START, end_date=SECOND_NOW), {"page_events"}, state
    )
    after = {_key(r): r for r in second.records["page_events"]}
    new_07 = _row_of(after, atom_07, DAY_03_07)
    assert new_07["numEvents"] == atom_07["numEvents"] + 1000  # the new value...
    assert new_07["rowKey"] == old_07["rowKey"]  # ...under the same key: an upsert
    assert new_07["lastTime"] == ms(FIRST_NOW) + 3_600_000
    # 03-06 is two days back: outside the lookback, its change is not re-read.
    assert _key({**atom_06, "day": DAY_03_06}) not in after
    assert {r["day"] for r in second.records["page_events"]} == {DAY_03_07, DAY_03_08}

    # Upserting both runs by rowKey gives what the reference computes from the revised raw
    # data, for every day the second run covered (03-06 keeps its first, stale value).
    merged = {r["rowKey"]: r for r in [*before.values(), *after.values()]}
    raw = Raw.from_dataset(sim.dataset)
    params = Params(start_ms=ms(START), now_ms=ms(SECOND_NOW), end_ms=ms(SECOND_NOW))
    fields = (*KEY[:-2], "pageId", "parameters", "@period")
    want = {
        natural_key(r, fields, "dayRange"): r
        for r in expected_page_events(raw, params)
        if r["day"] >= DAY_03_07
    }
    got = {natural_key(r, fields, "dayRange"): r for r in merged.values() if r["day"] >= DAY_03_07}
    assert got.keys() == want.keys()
    assert all(got[k]["numEvents"] == want[k]["numEvents"] for k in want)
    stale = merged[_row_of(before, atom_06, DAY_03_06)["rowKey"]]
    assert stale["numEvents"] == atom_06["numEvents"]  # documented: beyond the lookback


def test_without_lookback_a_late_update_of_an_earlier_day_is_missed(sim: Simulator) -> None:
    _, state, atom_07, _ = _first_sync_then_revise(sim)
    config = tap_config(sim, start_date=START, end_date=SECOND_NOW, lookback_window=0)
    second = sync_in_process(config, {"page_events"}, state)
    # The run starts at its bookmark (03-08): the revised 03-07 row is never seen again, so
    # a destination keeps the old numEvents. This is the miss the default lookback prevents.
    assert {r["day"] for r in second.records["page_events"]} == {DAY_03_08}
    assert _key({**atom_07, "day": DAY_03_07}) not in {
        _key(r) for r in second.records["page_events"]
    }
