"""The tap's output, field by field, against an independent reference (tests/oracle/reference.py).

The data set is small on purpose and awkward on purpose: its event days (2026-03-06..08,
America/New_York) cross the DST change of 03-08 (a 23-hour day), visitor and account
`lastupdated` values come in ties of 4, and ids hold quotes, backslashes, tabs, emoji and
markup. The expected rows come from the simulator's raw generated data only, never from the
code that answers the tap's queries.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest

from pendo_sim import DatasetConfig, Simulator
from tests.helpers.tap import TapOutput, stream_names, sync_in_process, tap_config
from tests.oracle.reference import STREAMS, Params, Raw, local_day, local_hour, natural_key

ROW_KEY = "rowKey"  # the tap's own hash of a row's natural key: compared for uniqueness only
EVENTS_START = "2026-03-07T12:00:00Z"  # local day 03-07 (EST) on; the data ends 03-09 00:00 EDT
EVENTS_END = "2026-03-09T12:00:00Z"
DAY_STREAMS = (
    "events",
    "page_events",
    "feature_events",
    "track_events",
    "guide_events",
    "poll_events",
    "visitor_history",
)
HOUR_STREAMS = ("events", "page_events", "feature_events", "track_events")


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def iso(value: int) -> str:
    return dt.datetime.fromtimestamp(value / 1000, tz=dt.timezone.utc).isoformat()


def small_dataset() -> DatasetConfig:
    return DatasetConfig(
        seed=3,
        visitors=40,  # >= 33: the awkward ids are used
        accounts=12,  # >= 10: the awkward account ids too
        anonymous_visitors=5,
        apps=2,
        pages=12,
        features=15,
        guides=6,
        track_types=5,
        reports=2,
        event_days=3,
        event_rows_per_day=150,
        guide_events_per_day=40,
        poll_events_per_day=15,
        lastupdated_tie_group=4,
    )


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Simulator, Raw]]:
    # The simulator's clock is the tap's end_date: Pendo holds nothing later than `now`.
    with Simulator(small_dataset(), now_ms=ms(EVENTS_END)) as sim:
        yield sim, Raw.from_dataset(sim.dataset)


def _norm(value: object) -> str:
    return json.dumps(value, sort_keys=True)


def assert_matches(stream: str, out: TapOutput, raw: Raw, params: Params) -> int:
    """Same rows (by natural key) and, in each, the same value in every field."""
    expected_fn, key_fields = STREAMS[stream]
    got_rows = out.records.get(stream, [])
    want_rows = expected_fn(raw, params)
    got = {natural_key(r, key_fields, params.period): r for r in got_rows}
    want = {natural_key(r, key_fields, params.period): r for r in want_rows}
    assert len(want) == len(want_rows), f"{stream}: the reference's natural key is not unique"
    assert len(got) == len(got_rows), f"{stream}: the tap emitted a natural key twice"
    missing, extra = want.keys() - got.keys(), got.keys() - want.keys()
    assert not missing and not extra, (
        f"{stream}: {len(missing)} rows missing, e.g. {sorted(missing)[:2]}; "
        f"{len(extra)} rows extra, e.g. {sorted(extra)[:2]}"
    )
    diffs = []
    for key, expected in want.items():
        actual = got[key]
        for name in (set(expected) | set(actual)) - {ROW_KEY}:
            if _norm(expected.get(name)) != _norm(actual.get(name)):
                diffs.append((key, name, expected.get(name), actual.get(name)))
    assert not diffs, f"{stream}: {len(diffs)} field values differ, e.g. {diffs[:3]}"
    if ROW_KEY in out.schemas[stream].get("properties", {}):
        assert len({r[ROW_KEY] for r in got_rows}) == len(got_rows), f"{stream}: rowKey collides"
    return len(got_rows)


def test_every_tap_stream_has_a_reference(world: tuple[Simulator, Raw]) -> None:
    """A stream added to the tap without an oracle function fails here."""
    sim, _ = world
    assert stream_names(tap_config(sim)) == set(STREAMS)


def test_objects_match_the_reference(world: tuple[Simulator, Raw]) -> None:
    sim, raw = world
    # start_date ON the second tie group of the accounts' lastupdated (>= keeps that group):
    # both visitors and accounts are cut in two.
    account_values = sorted({a["metadata"]["auto"]["lastupdated"] for a in raw.accounts})
    cut = account_values[1]
    params = Params(start_ms=cut, now_ms=ms(EVENTS_END), end_ms=ms(EVENTS_END))
    streams = ("visitors", "accounts", "visitor_accounts", "reports", "metadata_fields")
    # Pages of 7 rows: keyset paging crosses the ties of 4 on lastupdated many times.
    config = tap_config(sim, start_date=iso(cut), end_date=EVENTS_END, page_size=7)
    out = sync_in_process(config, streams)
    counts = {s: assert_matches(s, out, raw, params) for s in streams}
    # The cut is real: some identified visitors are left out, some kept, and the awkward ids
    # and the rows without lastupdated are among the rows compared.
    identified = [v for v in raw.visitors if not v["visitorId"].startswith("_PENDO_T_")]
    assert 0 < counts["visitors"] < len(identified)
    assert 0 < counts["accounts"] < len(raw.accounts)
    ids = {r["visitorId"] for r in out.records["visitors"]}
    assert any(r["lastupdated"] is None for r in out.records["visitors"])
    assert sum(1 for i in ids if any(c in i for c in "\"\\\t<'🚀 ")) >= 1
    assert all(counts.values()), counts
    # visitor_accounts holds the same visitors (those with an account), no other.
    assert {r["visitorId"] for r in out.records["visitor_accounts"]} <= ids


def test_catalog_objects_match_the_reference(world: tuple[Simulator, Raw]) -> None:
    sim, raw = world
    # start_date ON the second tie group of lastUpdatedAt: every list is cut in two.
    streams = ("pages", "features", "guides", "track_types")
    cut = sorted({r["lastUpdatedAt"] for s in streams for r in raw.catalog[s]})[1]
    params = Params(start_ms=cut, now_ms=ms(EVENTS_END), end_ms=ms(EVENTS_END))
    out = sync_in_process(tap_config(sim, start_date=iso(cut), end_date=EVENTS_END), streams)
    for stream in streams:
        assert 0 < assert_matches(stream, out, raw, params) < len(raw.catalog[stream]), stream


CHILD_STREAMS = ("page_rules", "feature_rules", "track_type_rules", "guide_steps", "polls")


def test_nested_objects_match_the_reference(world: tuple[Simulator, Raw]) -> None:
    """Rules, steps, polls, product areas and Pendo users cut out of the catalog lists, with
    their parents selected too (one shared read of each list), on the same start_date cut."""
    sim, raw = world
    parents = ("pages", "features", "guides", "track_types", "reports")
    streams = (*parents, *CHILD_STREAMS, "product_areas", "pendo_users")
    cut = sorted({r["lastUpdatedAt"] for s in parents[:-1] for r in raw.catalog[s]})[1]
    params = Params(start_ms=cut, now_ms=ms(EVENTS_END), end_ms=ms(EVENTS_END))
    out = sync_in_process(tap_config(sim, start_date=iso(cut), end_date=EVENTS_END), streams)
    counts = {s: assert_matches(s, out, raw, params) for s in streams}
    assert all(counts.values()), counts
    # The cut is real for the children: some parents' children are left out.
    everything = Params(start_ms=0, now_ms=ms(EVENTS_END), end_ms=ms(EVENTS_END))
    for stream in CHILD_STREAMS:
        assert counts[stream] < len(STREAMS[stream][0](raw, everything)), stream
    # The awkward nested values are among the rows compared.
    assert any(r["id"] == 'area "quoted"/ü\\x' for r in out.records["product_areas"])
    assert any(r["id"] == "user/with space & 'quote'" for r in out.records["pendo_users"])


def test_applications_and_segments_match_the_reference(world: tuple[Simulator, Raw]) -> None:
    sim, raw = world
    for stream in ("applications", "segments"):
        # start_date ON the second lastUpdatedAt value of the stream's own list: cut in two.
        cut = sorted({r["lastUpdatedAt"] for r in raw.catalog[stream]})[1]
        params = Params(start_ms=cut, now_ms=ms(EVENTS_END), end_ms=ms(EVENTS_END))
        out = sync_in_process(tap_config(sim, start_date=iso(cut), end_date=EVENTS_END), {stream})
        assert 0 < assert_matches(stream, out, raw, params) < len(raw.catalog[stream]), stream


def test_event_streams_match_the_reference_by_day(world: tuple[Simulator, Raw]) -> None:
    sim, raw = world
    params = Params(start_ms=ms(EVENTS_START), now_ms=ms(EVENTS_END), end_ms=ms(EVENTS_END))
    config = tap_config(
        sim,
        start_date=EVENTS_START,
        end_date=EVENTS_END,
        lookback_window=0,
        visitor_history_enabled=True,  # else the stream reads nothing, selected or not
    )
    out = sync_in_process(config, DAY_STREAMS)
    for stream in DAY_STREAMS:
        assert assert_matches(stream, out, raw, params) > 0, stream
    # end_date is exclusive: the local day holding it (03-09) is another run's. The last day
    # read, 03-08, is left un-bookmarked (the stream cannot tell it is over), so every window
    # stream's bookmark is its start: the next run reads it again, never past it.
    end_day = local_day(params.now_ms, raw.timezone)
    last_day_read = local_day(end_day - 1, raw.timezone)
    assert last_day_read == ms("2026-03-08T05:00:00Z")  # the 23-hour DST day
    for stream in DAY_STREAMS[:-1]:
        assert out.state["bookmarks"][stream]["replication_key_value"] == last_day_read, stream
    # The window really starts mid-data and crosses DST: 03-07 (EST) and 03-08 (23 h).
    days = {r["day"] for r in out.records["page_events"]}
    assert days == {
        local_day(ms("2026-03-07T12:00:00Z"), raw.timezone),
        local_day(ms("2026-03-08T12:00:00Z"), raw.timezone),
    }


def test_date_range_partitions_meet_without_overlap(world: tuple[Simulator, Raw]) -> None:
    """Two runs [a, b) and [b, c) read every local day once: end_date b is exclusive, start_date
    b starts with the day holding it. Each run matches the reference over its own range; no
    row is in both; together they are the reference over [a, c)."""
    sim, raw = world
    a, b, c = EVENTS_START, "2026-03-08T12:00:00Z", EVENTS_END
    streams = ("page_events", "guide_events")
    runs = []
    for start, end in ((a, b), (b, c)):
        params = Params(start_ms=ms(start), now_ms=ms(EVENTS_END), end_ms=ms(end))
        config = tap_config(sim, start_date=start, end_date=end, lookback_window=0)
        out = sync_in_process(config, streams)
        for stream in streams:
            assert assert_matches(stream, out, raw, params) > 0, (stream, start, end)
        runs.append(out)
    assert {r["day"] for r in runs[0].records["page_events"]} == {ms("2026-03-07T05:00:00Z")}
    assert {r["day"] for r in runs[1].records["page_events"]} == {ms("2026-03-08T05:00:00Z")}
    whole = Params(start_ms=ms(a), now_ms=ms(EVENTS_END), end_ms=ms(c))
    for stream in streams:
        expected_fn, key_fields = STREAMS[stream]
        first, second = (
            {natural_key(r, key_fields, "dayRange") for r in out.records[stream]} for out in runs
        )
        assert not first & second, stream
        want = {natural_key(r, key_fields, "dayRange") for r in expected_fn(raw, whole)}
        assert first | second == want, stream


def test_aggregated_streams_match_the_reference_by_hour(world: tuple[Simulator, Raw]) -> None:
    sim, raw = world
    start = "2026-03-08T03:30:00Z"  # 22:30 EST on 03-07: the hour before the DST day
    end = ms(EVENTS_END)
    params = Params(start_ms=ms(start), now_ms=end, end_ms=end, period="hourRange")
    config = tap_config(
        sim, start_date=start, end_date=EVENTS_END, period="hourRange", lookback_window=0
    )
    out = sync_in_process(config, HOUR_STREAMS)
    for stream in HOUR_STREAMS:
        assert assert_matches(stream, out, raw, params) > 0, stream
    # The last instant read is just before end_date's hour (exclusive). With hourRange the
    # bookmark stays event_lag_hours (default 8) behind it: at the start of the hour holding
    # (last instant - 8 h), 03:00Z, which a rerun reads again; with no lag, at the last hour.
    last_read = local_hour(end) - 1
    for lag, bookmark in ((None, ms("2026-03-09T03:00:00Z")), (0, ms("2026-03-09T11:00:00Z"))):
        assert bookmark == local_hour(last_read - (8 if lag is None else lag) * 3_600_000)
        if lag is not None:
            out = sync_in_process({**config, "event_lag_hours": lag}, HOUR_STREAMS)
        for stream in HOUR_STREAMS:
            assert out.state["bookmarks"][stream]["replication_key_value"] == bookmark, stream


# -- golden values, worked out by hand --------------------------------------------------------


def test_golden_the_dst_day_has_23_hours(world: tuple[Simulator, Raw]) -> None:
    """2026-03-08 in New York: 00:00 EST is 05:00Z; 02:00 local does not exist; the next
    midnight (EDT) is 2026-03-09 04:00Z, 23 hours later."""
    sim, _ = world
    config = tap_config(
        sim,
        start_date="2026-03-08T05:00:00Z",
        end_date="2026-03-09T04:00:00Z",
        period="hourRange",
        lookback_window=0,
    )
    hours = {r["hour"] for r in sync_in_process(config, {"page_events"}).records["page_events"]}
    midnight = 1772946000000  # 2026-03-08T05:00:00Z
    assert midnight + 23 * 3_600_000 == 1773028800000  # 2026-03-09T04:00:00Z
    assert hours == {midnight + k * 3_600_000 for k in range(23)}
    assert 1772949600000 in hours  # 01:00 EST (06:00Z)
    assert 1772953200000 in hours  # 03:00 EDT (07:00Z): no 02:00


def test_golden_one_visitors_numevents_on_one_day(world: tuple[Simulator, Raw]) -> None:
    """The page events of visitor `both\\"mixed` (a backslash and a quote in the id) on
    2026-03-07, local day [05:00Z, 05:00Z next day), counted by hand from the raw atoms of
    seed 3 (GOLDEN_ATOMS): 10 + 4 + 15 + 2 = 31 events in 4 rows; the last two are twins
    that differ only by userAgent, so they stay two rows."""
    sim, raw = world
    day = 1772859600000  # 2026-03-07 00:00 EST = 05:00Z
    atoms = sorted(
        (a["hour"], a["numEvents"])
        for a in raw.events["pageEvents"]
        if a["visitorId"] == GOLDEN_VISITOR and day <= a["hour"] < day + 86_400_000
    )
    assert atoms == GOLDEN_ATOMS  # the raw data is what was counted by hand
    out = sync_in_process(
        tap_config(
            sim,
            start_date="2026-03-07T05:00:00Z",
            end_date="2026-03-08T05:00:00Z",
            lookback_window=0,
        ),
        {"page_events"},
    )
    rows = [
        r
        for r in out.records["page_events"]
        if r["visitorId"] == GOLDEN_VISITOR and r["day"] == day
    ]
    assert sum(r["numEvents"] for r in rows) == 31
    assert len(rows) == 4


GOLDEN_VISITOR = 'both\\"mixed'
GOLDEN_ATOMS = [
    (1772863200000, 10),  # 01:00 EST, eu.example.com, 10.0.0.11
    (1772913600000, 4),  # 15:00 EST, www.example.com, 10.0.0.107
    (1772920800000, 2),  # 17:00 EST, app.example.com, 10.0.0.122 (twin: other userAgent)
    (1772920800000, 15),  # 17:00 EST, app.example.com, 10.0.0.122
]
