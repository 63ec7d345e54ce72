"""Event streams against the simulator's alternatives for what real Pendo may answer (issue 12):
how a too-large query is refused, repeated 5xx/timeouts, late-arriving events, base64 ids.
Each alternative must extract the same rows as the simulator's default."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from urllib.parse import unquote

import pytest

from pendo_sim import DatasetConfig, Fault, Simulator
from tests.helpers.tap import run_tap

from ._tap import event_config, key_of, last_state, primary_keys, records
from .test_event_streams import assert_exact

AGGREGATION = "/api/v1/aggregation"


def _ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp() * 1000)


def _hourly_requests(sim: Simulator) -> int:
    return sum(
        1
        for body in sim.aggregation_log
        if body["request"]["pipeline"][0]["source"].get("timeSeries", {}).get("period")
        == "hourRange"
    )


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (400, "Query exceeded memory limit"),
        (413, "Response size limit exceeded"),
        (422, "result too large"),
        (500, "aggregation ran out of memory"),
        (503, "query timeout"),
    ],
)
def test_refusal_status_and_text_alternatives(
    event_sim: Simulator, tmp_path: Path, status: int, text: str
) -> None:
    event_sim.set_options(aggregation_refusal_status=status, aggregation_refusal_text=text)
    event_sim.faults.add(
        Fault(path=AGGREGATION, kind="window_limit", max_window_hours=24, times=None)
    )
    messages = run_tap(
        tmp_path, event_config(event_sim, event_window_days=3), {"page_events"}, check=True
    ).messages
    assert_exact(event_sim, messages, "page_events")
    refused = [r for r in event_sim.request_log if r[1] == AGGREGATION and r[2] == status]
    assert refused
    # Refused at once: split, never retried at the same size.
    multi_day = [
        json.dumps(body, sort_keys=True)
        for body in event_sim.aggregation_log
        if body["request"]["pipeline"][0]["source"]["timeSeries"].get("count", 1) > 1
    ]
    assert len(multi_day) == len(set(multi_day)) == len(refused)


@pytest.mark.parametrize(
    ("fault", "extra"),
    [
        # skip=1: the first aggregation is the end_date period probe, not the window.
        (Fault(path=AGGREGATION, status=503, times=3, skip=1), {}),
        (Fault(path=AGGREGATION, status=502, body="Bad Gateway", times=3, skip=1), {}),
        (
            Fault(path=AGGREGATION, kind="slow", delay_s=1.5, times=3, skip=1),
            {"request_timeout": 1},
        ),
    ],
    ids=["503", "502", "read timeout"],
)
def test_repeated_5xx_or_timeouts_split_the_window(
    event_sim: Simulator, tmp_path: Path, fault: Fault, extra: dict
) -> None:
    event_sim.faults.add(fault)
    config = event_config(
        event_sim,
        start_date="2026-03-06T12:00:00Z",
        end_date="2026-03-08T12:00:00Z",  # exclusive: its day is not read
        max_retries=6,
        **extra,
    )
    messages = run_tap(tmp_path, config, {"page_events"}, check=True).messages
    lo, hi = _ms("2026-03-06T05:00:00+00:00"), _ms("2026-03-08T05:00:00+00:00")
    recs = records(messages, "page_events")
    keys = primary_keys(messages, "page_events")
    assert len({key_of(r, keys) for r in recs}) == len(recs)
    got = {"rows": len(recs), "numEvents": sum(r["numEvents"] for r in recs)}
    assert got == event_sim.dataset.event_totals("pageEvents", lo, hi)
    # Three failures on the day (fewer than max_retries) made the tap read its hours instead.
    assert _hourly_requests(event_sim) >= 1


def _run_at(sim: Simulator, tmp: Path, now: str, state: dict | None, **extra: object) -> list:
    tmp.mkdir(exist_ok=True)
    sim.set_now(_ms(now))
    config = event_config(
        sim,
        period="hourRange",
        start_date="2026-03-07T00:00:00Z",
        end_date=now,
        lookback_window=0,
        **extra,
    )
    return run_tap(tmp, config, {"page_events"}, state=state, check=True).messages


def _keys(messages: list[dict]) -> set[tuple]:
    keys = primary_keys(messages, "page_events")
    return {key_of(r, keys) for r in records(messages, "page_events")}


@pytest.mark.parametrize("delay_hours", [0, 5])
def test_late_events_are_not_skipped(
    event_sim: Simulator, tmp_path: Path, delay_hours: int
) -> None:
    """Pendo serves an hour's events hours late: a run's bookmark stays `event_lag_hours` behind
    now, so the next run (without lookback) still gets the rows that arrived since."""
    event_sim.set_options(event_delay_hours=delay_hours)
    first = _run_at(event_sim, tmp_path, "2026-03-07T18:00:00+00:00", None)
    bookmark = last_state(first)["bookmarks"]["page_events"]["replication_key_value"]
    assert bookmark <= _ms("2026-03-07T10:00:00+00:00")  # now - 8 hours, the default lag
    second = _run_at(event_sim, tmp_path, "2026-03-08T06:00:00+00:00", last_state(first))
    reference = _run_at(event_sim, tmp_path / "ref", "2026-03-08T06:00:00+00:00", None)
    assert _keys(reference)
    assert _keys(first) | _keys(second) == _keys(reference)


def test_without_lag_late_events_are_lost(event_sim: Simulator, tmp_path: Path) -> None:
    """The control: with no lag the same late rows are skipped for good."""
    event_sim.set_options(event_delay_hours=5)
    first = _run_at(event_sim, tmp_path, "2026-03-07T18:00:00+00:00", None, event_lag_hours=0)
    second = _run_at(
        event_sim, tmp_path, "2026-03-08T06:00:00+00:00", last_state(first), event_lag_hours=0
    )
    reference = _run_at(event_sim, tmp_path / "ref", "2026-03-08T06:00:00+00:00", None)
    assert _keys(first) | _keys(second) < _keys(reference)


@pytest.fixture
def history_sim():
    with Simulator(
        DatasetConfig(
            seed=3, visitors=60, event_rows_per_day=0, guide_events_per_day=0, poll_events_per_day=0
        )
    ) as simulator:
        yield simulator


@pytest.mark.parametrize("base64_taken", [True, False])
def test_visitor_history_ids_that_are_not_url_safe(
    history_sim: Simulator, tmp_path: Path, base64_taken: bool
) -> None:
    config = event_config(history_sim, start_date="2026-03-09T12:00:00Z")
    (tmp_path / "ref").mkdir()
    reference = run_tap(tmp_path / "ref", config, {"visitor_history"}, check=True).messages
    history_sim.set_options(base64_path_ids=base64_taken)
    mark = len(history_sim.request_log)
    messages = run_tap(tmp_path, config, {"visitor_history"}, check=True).messages
    keys = primary_keys(messages, "visitor_history")
    got = {key_of(r, keys) for r in records(messages, "visitor_history")}
    assert got == {key_of(r, keys) for r in records(reference, "visitor_history")}
    # Every identified visitor, the quote/slash/unicode ones included, had its history read.
    read: set[str] = set()
    segments = []
    for method, path, status in history_sim.request_log[mark:]:
        path = path.split("?")[0]
        if method == "GET" and path.endswith("/history"):
            segment = path[len("/api/v1/visitor/") : -len("/history")]
            segments.append(segment)
            if status == 200:
                read.add(_visitor_id(history_sim, segment))
    identified = {v["visitorId"] for v in history_sim.dataset.visitors(identified_only=True)}
    assert read == identified
    percent_encoded = [s for s in segments if "%" in s]
    if base64_taken:
        assert not percent_encoded
        assert any(_visitor_id(history_sim, s) != unquote(s) for s in segments)
    else:
        assert percent_encoded


def _visitor_id(sim: Simulator, segment: str) -> str:
    plain = unquote(segment)
    if sim.dataset.visitor_table.index_of(plain) is not None:
        return plain
    return base64.urlsafe_b64decode(plain).decode()


@pytest.mark.parametrize("mode", ["honour", "ignore", "reject"])
def test_visitor_history_with_entity_time_series_alternatives(
    history_sim: Simulator, tmp_path: Path, mode: str
) -> None:
    """The changed-visitors read carries the timeSeries bound too; the same history either way."""
    config = event_config(history_sim, start_date="2026-03-09T12:00:00Z")
    first = run_tap(tmp_path, config, {"visitor_history"}, check=True).messages
    state = last_state(first)
    bookmark = state["bookmarks"]["visitor_history"]["replication_key_value"]
    changed = [v["visitorId"] for v in history_sim.dataset.visitors(identified_only=True)[3:9]]
    history_sim.dataset.touch_visitors(changed, bookmark + 60_000)
    (tmp_path / "ref").mkdir()
    reference = run_tap(
        tmp_path / "ref", config, {"visitor_history"}, state=state, check=True
    ).messages
    history_sim.set_options(entity_time_series=mode)
    mark = len(history_sim.aggregation_log)
    second = run_tap(tmp_path, config, {"visitor_history"}, state=state, check=True).messages
    keys = primary_keys(second, "visitor_history")
    got = {key_of(r, keys) for r in records(second, "visitor_history")}
    assert got == {key_of(r, keys) for r in records(reference, "visitor_history")}
    assert set(changed) <= {r["visitorId"] for r in records(second, "visitor_history")}
    sources = [
        b["request"]["pipeline"][0]["source"]["visitors"]
        for b in history_sim.aggregation_log[mark:]
    ]
    assert "timeSeries" in sources[0]
    if mode == "reject":
        assert "timeSeries" not in sources[-1]
