"""Event streams against a real simulator over loopback: totals, keys, windows, DST, state."""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pendo_sim import DatasetConfig, Fault, Simulator
from tests.helpers.tap import catalog, cli_args, run_tap

from ._tap import event_config, key_of, last_state, parse, primary_keys, records

AGGREGATED = {
    "events": "events",
    "page_events": "pageEvents",
    "feature_events": "featureEvents",
    "track_events": "trackEvents",
}
ROW_EVENTS = {"guide_events": "guideEvents", "poll_events": "pollEvents"}
ALL = {**AGGREGATED, **ROW_EVENTS}


def truth(sim: Simulator, source: str, period: str = "dayRange") -> dict:
    lo, hi = sim.dataset.event_range()
    return sim.dataset.event_totals(source, lo, hi, period)


def assert_exact(
    sim: Simulator,
    messages: list[dict],
    stream: str,
    period: str = "dayRange",
    dedupe: bool = False,
) -> list[dict]:
    """Rows and numEvents of `stream` equal the simulator's; keys unique (after dedupe)."""
    recs = records(messages, stream)
    keys = primary_keys(messages, stream)
    by_key = {key_of(r, keys): r for r in recs}
    if not dedupe:
        assert len(by_key) == len(recs), f"{stream}: duplicate primary keys"
    rows = list(by_key.values())
    expected = truth(sim, ALL[stream], period)
    got = {"rows": len(rows), "numEvents": sum(r.get("numEvents", 1) for r in rows)}
    assert got == expected, stream
    return rows


def test_all_streams_exact_totals_and_unique_keys(event_sim: Simulator, tmp_path: Path) -> None:
    messages = run_tap(tmp_path, event_config(event_sim), set(ALL), check=True).messages
    for stream in ALL:
        assert_exact(event_sim, messages, stream)
    # One aggregation per window and source, not one per page/feature/track type.
    aggregations = [r for r in event_sim.request_log if r[1] == "/api/v1/aggregation"]
    windows = 5  # 2026-03-05 .. 2026-03-09 local days, plus the unfinished 03-10 day
    probes = 1  # where end_date's (excluded) day starts
    assert len(aggregations) == len(ALL) * (windows + 1 + probes)
    # The bookmark is the local midnight of the first day not yet over (03-10 EDT = 04:00Z).
    state = last_state(messages)
    assert state["bookmarks"]["page_events"]["replication_key_value"] == 1773115200000


def test_day_values_are_local_midnights_across_dst(event_sim: Simulator, tmp_path: Path) -> None:
    messages = run_tap(tmp_path, event_config(event_sim), {"page_events"}, check=True).messages
    rows = records(messages, "page_events")
    days = collections.Counter(r["day"] for r in rows)
    clock = event_sim.dataset.clock
    lo, hi = event_sim.dataset.event_range()
    expected = {
        d: len(list(event_sim.dataset.event_rows("pageEvents", d, clock.next_day(d))))
        for d in clock.days_between(lo, hi)
    }
    assert days == expected
    # 2026-03-08 is a 23-hour day in America/New_York: 05:00Z then 04:00Z offsets.
    assert sorted(days) == [1772773200000, 1772859600000, 1772946000000]
    assert clock.hours_in_day(1772946000000) == 23


@pytest.mark.parametrize("window_days", [1, 2])
def test_hour_range_exact_with_dst_and_window_edges(
    event_sim: Simulator, tmp_path: Path, window_days: int
) -> None:
    config = event_config(
        event_sim,
        period="hourRange",
        event_window_days=window_days,
        start_date="2026-03-06T03:30:00Z",
    )  # 22:30 local, the day before the data
    messages = run_tap(tmp_path, config, {"page_events", "events"}, check=True).messages
    for stream in ("page_events", "events"):
        rows = assert_exact(event_sim, messages, stream, "hourRange")
        assert all("day" not in r for r in rows)
    hours = {r["hour"] for r in records(messages, "page_events")}
    lo, hi = event_sim.dataset.event_range()
    expected = {r["hour"] for r in event_sim.dataset.event_rows("pageEvents", lo, hi, "hourRange")}
    assert hours == expected
    # 2026-03-08 02:00 local does not exist: 01:00 EST (06:00Z) is followed by 03:00 EDT (07:00Z).
    assert 1772949600000 in hours and 1772953200000 in hours


@pytest.mark.parametrize(
    ("window_days", "start"),
    [(2, "2026-03-06T04:59:00Z"), (3, "2026-03-06T05:00:00Z"), (1, "2026-03-09T03:59:59Z")],
)
def test_day_range_window_edges(
    event_sim: Simulator, tmp_path: Path, window_days: int, start: str
) -> None:
    """Starts one minute before/at a local midnight, windows of 1-3 days over the DST change."""
    config = event_config(event_sim, event_window_days=window_days, start_date=start)
    messages = run_tap(tmp_path, config, {"feature_events", "guide_events"}, check=True).messages
    # The local day holding `start`, from the zone database (not the host's zone, not the sim).
    zone = ZoneInfo(event_sim.dataset.cfg.timezone)
    local = dt.datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(zone)
    first_day = int(dt.datetime.combine(local.date(), dt.time(0), tzinfo=zone).timestamp() * 1000)
    lo, hi = event_sim.dataset.event_range()
    lo = max(lo, first_day)
    for stream, source in (("feature_events", "featureEvents"), ("guide_events", "guideEvents")):
        recs = records(messages, stream)
        keys = primary_keys(messages, stream)
        assert len({key_of(r, keys) for r in recs}) == len(recs)
        assert len(recs) == sim_rows(event_sim, source, lo, hi)


def sim_rows(sim: Simulator, source: str, lo: int, hi: int) -> int:
    return sum(1 for _ in sim.dataset.event_rows(source, lo, hi))


def test_two_runs_with_lookback_lose_nothing(event_sim: Simulator, tmp_path: Path) -> None:
    streams = {"page_events", "track_events", "guide_events", "poll_events"}
    first = run_tap(
        tmp_path, event_config(event_sim, end_date="2026-03-08T15:00:00Z"), streams, check=True
    ).messages
    state = last_state(first)
    assert (
        state["bookmarks"]["page_events"]["replication_key_value"] == 1772859600000
    )  # 03-07 local
    second = run_tap(
        tmp_path, event_config(event_sim, lookback_window=1), streams, state=state, check=True
    ).messages
    for stream in streams:
        keys = primary_keys(first, stream)
        one = {key_of(r, keys): r for r in records(first, stream)}
        two = {key_of(r, keys): r for r in records(second, stream)}
        resent = one.keys() & two.keys()
        assert resent, f"{stream}: the lookback re-read nothing"
        assert all(one[k] == two[k] for k in resent)  # same key, same row
        assert_exact(event_sim, first + second, stream, dedupe=True)


def test_resume_from_state_of_other_period(event_sim: Simulator, tmp_path: Path) -> None:
    first = run_tap(
        tmp_path,
        event_config(event_sim, end_date="2026-03-08T15:00:00Z"),
        {"page_events"},
        check=True,
    ).messages
    second = run_tap(
        tmp_path,
        event_config(event_sim, period="hourRange", lookback_window=0),
        {"page_events"},
        state=last_state(first),
        check=True,
    ).messages
    hours = {r["hour"] for r in records(second, "page_events")}
    assert min(hours) == 1772859600000  # resumes at the 03-07 local midnight bookmark


def _kill_after(
    tmp_path: Path, config: dict, streams: set[str], lines: int, state: dict | None = None
) -> list[dict]:
    argv = cli_args(tmp_path, config, catalog(config, streams), state)
    out_path = tmp_path / "out.jsonl"
    with out_path.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            with out_path.open("rb") as f:
                if sum(1 for _ in f) >= lines:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
            time.sleep(0.01)
        proc.wait()
    return parse(out_path.read_text())


def test_sigkill_mid_window_then_resume_is_exact(tmp_path: Path) -> None:
    cfg = DatasetConfig(
        seed=5, event_rows_per_day=8000, guide_events_per_day=3000, poll_events_per_day=0
    )
    streams = {"page_events", "guide_events"}
    with Simulator(cfg) as sim:
        config = event_config(sim, lookback_window=0)
        killed = _kill_after(tmp_path, config, streams, lines=12000)
        state = last_state(killed)
        assert state is not None
        assert killed[-1]["type"] == "RECORD", "the kill should land mid-stream"
        resumed = run_tap(tmp_path, config, streams, state=state, check=True).messages
        for stream in streams:
            keys = primary_keys(killed + resumed, stream)
            union = {key_of(r, keys): r for r in records(killed, stream) + records(resumed, stream)}
            lo, hi = sim.dataset.event_range()
            source = "pageEvents" if stream == "page_events" else "guideEvents"
            assert len(union) == sim.dataset.event_totals(source, lo, hi)["rows"]
            assert (
                sum(r.get("numEvents", 1) for r in union.values())
                == sim.dataset.event_totals(source, lo, hi)["numEvents"]
            )


@pytest.mark.parametrize(("max_hours", "status"), [(24, 500), (24, 408), (1, 500)])
def test_refused_windows_are_split_with_exact_totals(
    event_sim: Simulator, tmp_path: Path, max_hours: int, status: int
) -> None:
    event_sim.faults.add(
        Fault(
            path="/api/v1/aggregation",
            kind="window_limit",
            status=status,
            max_window_hours=max_hours,
            times=None,
        )
    )
    config = event_config(event_sim, event_window_days=3, max_retries=2)
    if max_hours < 24:  # every window falls back to hours: keep it to the data's two full days
        config.update(
            start_date="2026-03-06T12:00:00Z", end_date="2026-03-08T12:00:00Z", event_window_days=2
        )
    messages = run_tap(tmp_path, config, {"track_events", "poll_events"}, check=True).messages
    if max_hours < 24:
        lo, hi = 1772773200000, 1772946000000  # local 03-06 and 03-08 midnights
        for stream, source in (("track_events", "trackEvents"), ("poll_events", "pollEvents")):
            recs = records(messages, stream)
            keys = primary_keys(messages, stream)
            assert len({key_of(r, keys) for r in recs}) == len(recs)
            assert {
                "rows": len(recs),
                "numEvents": sum(r.get("numEvents", 1) for r in recs),
            } == event_sim.dataset.event_totals(source, lo, hi)
    else:
        assert_exact(event_sim, messages, "track_events")
        assert_exact(event_sim, messages, "poll_events")
    refused = [r for r in event_sim.request_log if r[1] == "/api/v1/aggregation" and r[2] != 200]
    assert refused
    if max_hours < 24:  # whole days refused: the day's rows come hourly, `day` = `hour`
        rows = records(messages, "track_events")
        assert all(r["day"] == r["hour"] for r in rows)


def test_refused_single_hour_fails_loudly(event_sim: Simulator, tmp_path: Path) -> None:
    event_sim.faults.add(
        Fault(path="/api/v1/aggregation", kind="window_limit", max_window_hours=0.5, times=None)
    )
    config = event_config(event_sim, period="hourRange")
    out = run_tap(tmp_path, config, {"page_events"})
    assert out.rc != 0
    assert "too large" in out.stderr


@pytest.mark.parametrize("kind", ["truncate", "drop", "invalid_json"])
def test_broken_bodies_reread_the_window(event_sim: Simulator, tmp_path: Path, kind: str) -> None:
    event_sim.faults.add(
        Fault(path="/api/v1/aggregation", kind=kind, after_bytes=20000, times=2, skip=1)
    )
    messages = run_tap(tmp_path, event_config(event_sim), {"feature_events"}, check=True).messages
    assert_exact(event_sim, messages, "feature_events", dedupe=True)


def test_state_is_written_only_at_window_ends(event_sim: Simulator, tmp_path: Path) -> None:
    """Every STATE line carries a bookmark no later than the rows emitted after it."""
    messages = run_tap(tmp_path, event_config(event_sim), {"page_events"}, check=True).messages
    bookmark = None
    for m in messages:
        if m["type"] == "STATE":
            value = m["value"]["bookmarks"].get("page_events", {}).get("replication_key_value")
            assert bookmark is None or value is None or value >= bookmark
            bookmark = value
        elif m["type"] == "RECORD" and bookmark is not None:
            assert m["record"]["day"] >= bookmark
    json.dumps(messages[-1])


def _peak_rss_kb(pid: int) -> int | None:
    """VmHWM: the process's peak resident set since its exec (not the forked parent's)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.timeout(480)
def test_memory_stays_flat_on_a_big_window(tmp_path: Path) -> None:
    """250k rows in one window: the tap streams them, its peak RSS stays small."""
    cfg = DatasetConfig(
        seed=9,
        event_days=1,
        event_rows_per_day=250_000,
        guide_events_per_day=0,
        poll_events_per_day=0,
    )
    with Simulator(cfg) as sim:
        config = event_config(
            sim, start_date="2026-03-06T12:00:00Z", end_date="2026-03-08T12:00:00Z"
        )
        argv = cli_args(tmp_path, config, catalog(config, {"page_events"}))
        peak = 0
        with (tmp_path / "out").open("wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 400
            while proc.poll() is None and time.monotonic() < deadline:
                peak = max(peak, _peak_rss_kb(proc.pid) or 0)
                time.sleep(0.05)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
                pytest.fail("the tap did not finish 250k rows within 400 s")
        assert proc.returncode == 0
        assert 0 < peak < 200 * 1024, f"peak RSS {peak // 1024} MB"
        with (tmp_path / "out").open("rb") as f:
            assert sum(1 for line in f if line.startswith(b'{"type":"RECORD"')) == 250_000


def test_app_ids_limit_every_source_to_those_apps(event_sim: Simulator, tmp_path: Path) -> None:
    apps = event_sim.dataset.apps
    assert len(apps) > 1
    messages = run_tap(
        tmp_path,
        event_config(event_sim, app_ids=[str(apps[1])]),
        {"events", "guide_events"},
        check=True,
    ).messages
    lo, hi = event_sim.dataset.event_range()
    for stream, source in (("events", "events"), ("guide_events", "guideEvents")):
        recs = records(messages, stream)
        assert recs and {r["appId"] for r in recs} == {apps[1]}
        assert {
            "rows": len(recs),
            "numEvents": sum(r.get("numEvents", 1) for r in recs),
        } == event_sim.dataset.event_totals(source, lo, hi, app_ids=[apps[1]])


def test_poll_responses_are_text_of_one_type(event_sim: Simulator, tmp_path: Path) -> None:
    """Numeric and free-text answers share one string column: numbers as their digits."""
    messages = run_tap(tmp_path, event_config(event_sim), {"poll_events"}, check=True).messages
    recs = records(messages, "poll_events")
    lo, hi = event_sim.dataset.event_range()
    truth = {
        (r["visitorId"], r["browserTime"], r["guideTimestamp"]): r["pollResponse"]
        for r in event_sim.dataset.event_rows("pollEvents", lo, hi)
    }
    assert len(recs) == len(truth)
    assert all(isinstance(r["pollResponse"], str) for r in recs)
    got = {(r["visitorId"], r["browserTime"], r["guideTimestamp"]): r["pollResponse"] for r in recs}
    assert got == {k: v if isinstance(v, str) else json.dumps(v) for k, v in truth.items()}
    assert any(not isinstance(v, str) for v in truth.values()), "the simulator has numeric answers"
    schema = next(m for m in messages if m["type"] == "SCHEMA" and m["stream"] == "poll_events")
    assert schema["schema"]["properties"]["pollResponse"]["type"] == ["string", "null"]
