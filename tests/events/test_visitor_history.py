"""visitor_history: off by default, only changed visitors, ids with quotes/slashes/unicode."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest

from pendo_sim import DatasetConfig, Simulator
from tap_pendo.tap import TapPendo

from ._tap import key_of, last_state, primary_keys, records, run_tap
from .conftest import config_for

HISTORY = "/api/v1/visitor/"


def history_visitors(sim: Simulator, since: int = 0) -> dict[str, int]:
    """visitor id -> number of history calls, from the simulator's request log."""
    calls: dict[str, int] = {}
    for method, path, status in sim.request_log[since:]:
        path = path.split("?")[0]
        if method == "GET" and path.startswith(HISTORY) and path.endswith("/history"):
            assert status == 200, (path, status)
            vid = unquote(path[len(HISTORY) : -len("/history")])
            calls[vid] = calls.get(vid, 0) + 1
    return calls


@pytest.fixture
def small_sim():
    with Simulator(
        DatasetConfig(
            seed=3, visitors=60, event_rows_per_day=0, guide_events_per_day=0, poll_events_per_day=0
        )
    ) as simulator:
        yield simulator


def test_not_selected_by_default(small_sim: Simulator) -> None:
    tap = TapPendo(config=config_for(small_sim), validate_config=False, setup_mapper=False)
    assert tap.streams["visitor_history"].selected is False


def test_only_changed_visitors_second_time(small_sim: Simulator, tmp_path: Path) -> None:
    config = config_for(
        small_sim,
        start_date="2026-03-08T12:00:00Z",
        end_date="2026-03-10T12:00:00Z",
        visitor_history_concurrency=6,
    )
    first = run_tap(tmp_path, config, {"visitor_history"})
    calls = history_visitors(small_sim)
    identified = small_sim.dataset.visitors(identified_only=True)
    assert set(calls) == {v["visitorId"] for v in identified}
    assert set(calls.values()) == {2}  # 2026-03-08T12Z .. 2026-03-10T12Z: two days per visitor
    recs = records(first, "visitor_history")
    keys = primary_keys(first, "visitor_history")
    assert recs and len({key_of(r, keys) for r in recs}) == len(recs)
    assert {r["visitorId"] for r in recs} <= set(calls)

    state = last_state(first)
    bookmark = state["bookmarks"]["visitor_history"]["replication_key_value"]
    ties = {
        v["visitorId"] for v in identified if v["metadata"]["auto"].get("lastupdated") == bookmark
    }
    changed = ['quote"visitor', "back\\slash\\visitor", "🚀rocket", "émilie"]
    changed = [v for v in changed if v in calls]
    assert len(changed) >= 3
    small_sim.dataset.touch_visitors(changed, bookmark + 60_000)
    mark = len(small_sim.request_log)
    second = run_tap(tmp_path, config, {"visitor_history"}, state)
    assert set(history_visitors(small_sim, mark)) == set(changed) | ties
    assert {r["visitorId"] for r in records(second, "visitor_history")} <= set(changed) | ties
    new_state = last_state(second)["bookmarks"]["visitor_history"]
    assert new_state["replication_key_value"] == bookmark + 60_000
    assert "days_from" not in new_state
