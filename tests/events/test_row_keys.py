"""Primary keys of the event streams: one `rowKey`, never null, unique, stable across runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pendo_sim import DatasetConfig, Simulator
from tests.helpers.tap import run_tap

from ._tap import event_config, records

EVENT_STREAMS = (
    "events",
    "page_events",
    "feature_events",
    "track_events",
    "guide_events",
    "poll_events",
    "visitor_history",
)
DIGEST = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def key_sim():
    with Simulator(
        DatasetConfig(
            seed=13,
            visitors=40,
            event_rows_per_day=300,
            guide_events_per_day=120,
            poll_events_per_day=40,
        )
    ) as simulator:
        yield simulator


def _config(sim: Simulator) -> dict:
    # Two local days of events and history (visitor_history: one call per visitor per day).
    return event_config(sim, start_date="2026-03-07T12:00:00Z", end_date="2026-03-10T12:00:00Z")


@pytest.fixture(scope="module")
def two_runs(
    key_sim: Simulator, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[dict], list[dict]]:
    """Two independent full runs (separate processes, no state) over the same range."""
    config = _config(key_sim)
    first = run_tap(tmp_path_factory.mktemp("one"), config, set(EVENT_STREAMS), check=True).messages
    second = run_tap(
        tmp_path_factory.mktemp("two"), config, set(EVENT_STREAMS), check=True
    ).messages
    return first, second


def _schema(messages: list[dict], stream: str) -> dict:
    return next(m for m in messages if m["type"] == "SCHEMA" and m["stream"] == stream)


@pytest.mark.parametrize("stream", EVENT_STREAMS)
def test_key_is_one_never_null_digest(two_runs: tuple[list[dict], list[dict]], stream: str) -> None:
    messages, _ = two_runs
    schema = _schema(messages, stream)
    assert schema["key_properties"] == ["rowKey"]
    assert schema["schema"]["properties"]["rowKey"]["type"] in (
        "string",
        ["string"],
    )  # not nullable
    assert "rowKey" in schema["schema"].get("required", [])
    recs = records(messages, stream)
    assert len(recs) > 50, stream
    for record in recs:
        for key in schema["key_properties"]:
            assert record.get(key) is not None, (stream, key, record)
        assert DIGEST.fullmatch(record["rowKey"]), record["rowKey"]


@pytest.mark.parametrize("stream", EVENT_STREAMS)
def test_key_is_unique_per_row(two_runs: tuple[list[dict], list[dict]], stream: str) -> None:
    messages, _ = two_runs
    recs = records(messages, stream)
    keys = [r["rowKey"] for r in recs]
    assert len(set(keys)) == len(keys), f"{stream}: {len(keys) - len(set(keys))} duplicate rowKeys"


@pytest.mark.parametrize("stream", EVENT_STREAMS)
def test_same_row_gets_same_key_in_another_run(
    two_runs: tuple[list[dict], list[dict]], stream: str
) -> None:
    first, second = two_runs
    one = {r["rowKey"]: r for r in records(first, stream)}
    two = {r["rowKey"]: r for r in records(second, stream)}
    assert one.keys() == two.keys()
    assert all(one[k] == two[k] for k in one)


def test_rows_with_null_natural_fields_are_keyed(two_runs: tuple[list[dict], list[dict]]) -> None:
    """The rows that broke SQL targets: page rows (featureId null) and feature rows (pageId null)."""
    recs = records(two_runs[0], "events")
    page_rows = [r for r in recs if r["pageId"] is not None and r["featureId"] is None]
    feature_rows = [r for r in recs if r["featureId"] is not None and r["pageId"] is None]
    assert page_rows and feature_rows
    assert len(page_rows) + len(feature_rows) == len(recs)
    history = records(two_runs[0], "visitor_history")
    assert any(r.get("pageId") is None and r.get("guideId") is None for r in history)


def test_key_does_not_merge_twins(
    key_sim: Simulator, two_runs: tuple[list[dict], list[dict]]
) -> None:
    """Rows differing only by server, remoteIp or userAgent (the simulator's twins) keep
    distinct keys: the number of keys equals the simulator's row count."""
    recs = records(two_runs[0], "page_events")
    lo, hi = 1772859600000, 1773028800000  # local 03-07 and 03-09 midnights (EST, then EDT)
    expected = key_sim.dataset.event_totals("pageEvents", lo, hi)["rows"]
    assert len({r["rowKey"] for r in recs}) == len(recs) == expected


def test_no_primary_key_value_is_ever_null_in_any_stream(tmp_path: Path) -> None:
    """Every stream, entities included: each key property of each record holds a value."""
    from tap_pendo.tap import TapPendo

    # Few visitors: visitor_history makes one call per visitor per day, over 30 days here.
    with Simulator(
        DatasetConfig(
            seed=17,
            visitors=8,
            accounts=6,
            anonymous_visitors=2,
            event_rows_per_day=100,
            guide_events_per_day=40,
            poll_events_per_day=20,
        )
    ) as sim:
        # No start_date: objects from the beginning, events and history from 30 days before end_date.
        config = {**_config(sim), "event_window_days": 30}
        del config["start_date"]
        every = set(TapPendo(config=config, validate_config=False, setup_mapper=False).streams)
        messages = run_tap(tmp_path, config, every, check=True).messages
    seen = set()
    keys = {m["stream"]: m["key_properties"] for m in messages if m["type"] == "SCHEMA"}
    for message in messages:
        if message["type"] == "RECORD":
            stream, record = message["stream"], message["record"]
            seen.add(stream)
            assert all(record.get(k) is not None for k in keys[stream]), (stream, record)
    assert seen == every
    assert all(keys.values())
