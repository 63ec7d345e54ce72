"""visitor_history: off by default, only changed visitors, ids with quotes/slashes/unicode."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import unquote

import pytest

from pendo_sim import DatasetConfig, Fault, Simulator
from tap_pendo.tap import TapPendo
from tests.helpers.tap import run_tap

from ._tap import event_config, key_of, last_state, parse, primary_keys, records

HISTORY = "/api/v1/visitor/"


def path_id(sim: Simulator, segment: str) -> str:
    """A visitor id as the tap put it in a path: percent-encoded, or base64 (not URL-safe ids)."""
    plain = unquote(segment)
    if sim.dataset.visitor_table.index_of(plain) is not None:
        return plain
    return base64.urlsafe_b64decode(plain).decode()


def history_visitors(sim: Simulator, since: int = 0) -> dict[str, int]:
    """visitor id -> number of history calls, from the simulator's request log."""
    calls: dict[str, int] = {}
    for method, path, status in sim.request_log[since:]:
        path = path.split("?")[0]
        if method == "GET" and path.startswith(HISTORY) and path.endswith("/history"):
            assert status == 200, (path, status)
            vid = path_id(sim, path[len(HISTORY) : -len("/history")])
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
    tap = TapPendo(config=event_config(small_sim), validate_config=False, setup_mapper=False)
    assert tap.streams["visitor_history"].selected is False


def test_selected_but_not_enabled_reads_nothing_and_says_how(
    small_sim: Simulator, tmp_path: Path
) -> None:
    """Meltano selects `*.*`: a selected visitor_history still costs nothing until enabled."""
    config = event_config(small_sim, visitor_history_enabled=False)
    out = run_tap(tmp_path, config, {"visitor_history", "reports"})
    assert out.rc == 0, out.stderr[-3000:]
    assert history_visitors(small_sim) == {}
    messages = parse(out.stdout)
    assert records(messages, "reports")  # the run itself went on
    assert not [m for m in messages if m.get("stream") == "visitor_history"]
    (line,) = [x for x in out.stderr.splitlines() if "visitor_history is selected but" in x]
    assert "`visitor_history_enabled: true`" in line
    assert "TAP_PENDO_VISITOR_HISTORY_ENABLED=true" in line
    assert "one request per visitor" in line


def test_only_changed_visitors_second_time(small_sim: Simulator, tmp_path: Path) -> None:
    config = event_config(
        small_sim,
        start_date="2026-03-08T12:00:00Z",
        end_date="2026-03-10T12:00:00Z",
        visitor_history_concurrency=6,
    )
    first = run_tap(tmp_path, config, {"visitor_history"}, check=True).messages
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
    second = run_tap(tmp_path, config, {"visitor_history"}, state=state, check=True).messages
    assert set(history_visitors(small_sim, mark)) == set(changed) | ties
    assert {r["visitorId"] for r in records(second, "visitor_history")} <= set(changed) | ties
    new_state = last_state(second)["bookmarks"]["visitor_history"]
    assert new_state["replication_key_value"] == bookmark + 60_000
    assert "days_from" not in new_state


def test_a_broken_visitors_page_resumes_after_the_last_visitor(
    small_sim: Simulator, tmp_path: Path
) -> None:
    """The changed visitors are read by the entity streams' keyset paginator: a visitors page
    cut mid-body is asked again after the last visitor it delivered, and the run's records are
    the clean run's."""
    config = event_config(small_sim, start_date="2026-03-09T12:00:00Z", page_size=7)
    clean = run_tap(tmp_path, config, {"visitor_history"}, check=True).messages
    keys = primary_keys(clean, "visitor_history")
    expected = sorted(key_of(r, keys) for r in records(clean, "visitor_history"))
    assert expected

    mark = len(small_sim.aggregation_log)
    fault = small_sim.faults.add(
        Fault(path="/api/v1/aggregation", kind="truncate", after_bytes=250, skip=1)
    )
    try:
        broken = run_tap(tmp_path, config, {"visitor_history"}, check=True).messages
    finally:
        small_sim.faults.clear()
    assert fault.fired == 1
    assert sorted(key_of(r, keys) for r in records(broken, "visitor_history")) == expected
    cut, resumed = small_sim.aggregation_log[mark + 1 : mark + 3]
    filters = [
        [s["filter"] for s in body["request"]["pipeline"] if "filter" in s]
        for body in (cut, resumed)
    ]
    # The retry starts after a visitor the cut page delivered, not at the page's start again.
    assert filters[1] != filters[0]
    assert "visitorId >" in filters[1][-1]
