"""target-pendo under HTTP faults: every run ends with exactly the simulator state of a clean run.

Metadata writes set values, so a write that landed but whose answer was lost (dropped
connection, answer slower than `request_timeout`) is simply re-sent. Track events have no
idempotency key in Pendo: such a re-send lands twice. Those duplicates are counted exactly
(one per fault that fired after the event was stored) and printed; every other fault
(429, 408, 5xx: refused before anything was stored) must leave no duplicate.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pendo_sim import DatasetConfig, Fault, Simulator
from tests.helpers.target import run_target
from tests.reliability.target_harness import (
    TRACK_SECRET,
    http_calls,
    metadata_snapshot,
    record_count,
    summary_totals,
    track_events,
    wait_for_requests,
    workload,
    workload_config,
    written_ids,
)

METADATA = r"^/api/v1/metadata/(visitor|account)/custom/value$"
TRACK = r"^/data/track$"

# name -> (faults, request_timeout, track duplicates the faults must cause)
SCENARIOS: dict[str, tuple[list[dict[str, Any]], int, int]] = {
    "429 metadata, no Retry-After": (
        [{"path": METADATA, "status": 429, "times": 3, "skip": 1}],
        10,
        0,
    ),
    "429 track, no Retry-After": ([{"path": TRACK, "status": 429, "times": 5, "skip": 2}], 10, 0),
    "429 with Retry-After": (
        [
            {"path": METADATA, "status": 429, "retry_after": 1, "times": 1},
            {"path": TRACK, "status": 429, "retry_after": 1, "times": 1, "skip": 3},
        ],
        10,
        0,
    ),
    **{
        f"{status} metadata and track": (
            [
                {"path": METADATA, "status": status, "times": 2, "body": "upstream trouble"},
                {"path": TRACK, "status": status, "times": 2, "skip": 5},
            ],
            10,
            0,
        )
        for status in (500, 502, 503, 504)
    },
    "dropped connection, metadata": (
        [{"path": METADATA, "kind": "drop", "times": 2, "skip": 1}],
        10,
        0,
    ),
    "dropped connection, track": ([{"path": TRACK, "kind": "drop", "times": 3, "skip": 4}], 10, 3),
    "slower than request_timeout, metadata": (
        [{"path": METADATA, "kind": "slow", "delay_s": 2.5, "times": 1, "skip": 2}],
        1,
        0,
    ),
    "slower than request_timeout, track": (
        [{"path": TRACK, "kind": "slow", "delay_s": 2.5, "times": 2, "skip": 1}],
        1,
        2,
    ),
    "408 metadata": ([{"path": METADATA, "status": 408, "times": 2, "skip": 1}], 10, 0),
    "408 track": ([{"path": TRACK, "status": 408, "times": 2, "skip": 6}], 10, 0),
}


def _random_mix(seed: int) -> tuple[list[dict[str, Any]], int]:
    """A seeded mix of every fault kind on both endpoints, each firing once; returns the
    faults and how many of them store the event before failing (track duplicates)."""
    rng = random.Random(seed)
    faults: list[dict[str, Any]] = []
    duplicates = 0
    for path in (METADATA, TRACK):
        for kind in ("429", "429ra", "500", "502", "503", "504", "408", "drop", "slow"):
            fault: dict[str, Any] = {"path": path, "times": 1, "skip": rng.randrange(0, 8)}
            if kind == "drop":
                fault["kind"] = "drop"
            elif kind == "slow":
                fault.update(kind="slow", delay_s=1.5)
            else:
                fault["status"] = int(kind[:3])
                if kind == "429ra":
                    fault["retry_after"] = 1
            duplicates += path == TRACK and kind in ("drop", "slow")
            faults.append(fault)
    rng.shuffle(faults)
    return faults, duplicates


@pytest.fixture(scope="module")
def clean() -> Iterator[dict[str, Any]]:
    """The reference: the same workload on a fresh simulator without faults."""
    with Simulator(DatasetConfig(seed=7), track_secret=TRACK_SECRET) as sim:
        messages = workload(sim)
        yield {"sim": sim, "messages": messages}


@pytest.fixture(scope="module")
def clean_state(clean: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    sim, messages = clean["sim"], clean["messages"]
    tmp = tmp_path_factory.mktemp("clean")
    result = run_target(workload_config(sim, tmp), messages, tmp)
    assert result.rc == 0, result.stderr[-3000:]
    events = track_events(sim)
    assert sum(events.values()) == sum(
        1 for m in messages if m.get("stream") == "track_events" and m["type"] == "RECORD"
    )
    assert max(events.values()) == 1
    return {"metadata": metadata_snapshot(sim, written_ids(messages)), "events": events}


def _run_with_faults(
    faults: list[dict[str, Any]], timeout: int, tmp_path: Path
) -> tuple[Simulator, Any, list[dict]]:
    # Pendo's track answer is an empty 200; the simulator can only cut a body, so the track
    # endpoint answers `{}` here and a dropped connection loses the answer after the event is stored.
    sim = Simulator(
        DatasetConfig(seed=7), track_secret=TRACK_SECRET, track_empty_body=False
    ).start()
    messages = workload(sim)
    for fault in faults:
        sim.faults.add(Fault(**fault))
    result = run_target(workload_config(sim, tmp_path, request_timeout=timeout), messages, tmp_path)
    wait_for_requests(sim, http_calls(result))
    return sim, result, messages


def _assert_same_as_clean(
    sim: Simulator,
    result: Any,
    messages: list[dict],
    clean_state: dict,
    duplicates: int,
    timeout: int,
) -> int:
    assert result.rc == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    totals = summary_totals(result)
    received = record_count(messages)
    assert totals["received"] == received
    assert totals["updated"] + totals["sent"] == received
    assert totals["dead_letter"] == totals["missing"] == totals["unaccounted"] == 0
    assert metadata_snapshot(sim, written_ids(messages)) == clean_state["metadata"]
    events = track_events(sim)
    assert set(events) == set(clean_state["events"])  # every event landed, nothing else did
    extra = sum(events.values()) - sum(clean_state["events"].values())
    if timeout >= 10:
        assert extra == duplicates  # no response is anywhere near 10 s: no timing involved
    else:
        # Under a 1 s request_timeout a slow machine can time out a healthy track request
        # too, and its re-send lands twice: the injected faults give a lower bound only.
        assert extra >= duplicates
    return extra


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fault_scenario_ends_like_a_clean_run(name: str, clean_state: dict, tmp_path: Path) -> None:
    faults, timeout, duplicates = SCENARIOS[name]
    sim, result, messages = _run_with_faults(faults, timeout, tmp_path)
    try:
        fired = sum(f.fired for f in sim.faults.list())
        assert fired == sum(f.get("times", 1) for f in faults), "every injected fault fired"
        extra = _assert_same_as_clean(sim, result, messages, clean_state, duplicates, timeout)
        statuses = Counter(status for _, _, status in sim.request_log)
        print(
            f"[faults] {name}: injected {fired}, survived {fired}, track duplicates {extra}, statuses {dict(statuses)}"
        )
    finally:
        sim.stop()


@pytest.mark.parametrize("seed", [11, 23])
def test_every_fault_kind_at_once(seed: int, clean_state: dict, tmp_path: Path) -> None:
    faults, duplicates = _random_mix(seed)
    sim, result, messages = _run_with_faults(faults, 1, tmp_path)
    try:
        fired = sum(f.fired for f in sim.faults.list())
        assert fired == len(faults) == 18
        extra = _assert_same_as_clean(sim, result, messages, clean_state, duplicates, 1)
        print(
            f"[faults] mix seed {seed}: injected {fired}, survived {fired}, track duplicates {extra}"
        )
    finally:
        sim.stop()


def test_a_fault_that_outlasts_the_retries_is_dead_lettered_and_counted(tmp_path: Path) -> None:
    """A persistent 503 on account writes: accounts go to the dead-letter file with the reason,
    everything else lands, the exit status is 1 and the counts still add up."""
    with Simulator(DatasetConfig(seed=7), track_secret=TRACK_SECRET) as sim:
        messages = workload(sim)
        sim.faults.add(
            Fault(path=r"^/api/v1/metadata/account/", status=503, times=None, body="maintenance")
        )
        result = run_target(workload_config(sim, tmp_path, max_retries=3), messages, tmp_path)
        assert result.rc == 1
        assert "Traceback" not in result.stderr
        rows = result.summary()
        accounts = sum(
            1 for m in messages if m.get("stream") == "accounts" and m["type"] == "RECORD"
        )
        assert rows["accounts"]["dead_letter"] == rows["accounts"]["received"] == accounts
        assert rows["visitors"]["updated"] == rows["visitors"]["received"]
        assert rows["track_events"]["sent"] == rows["track_events"]["received"]
        assert summary_totals(result)["received"] == record_count(messages)
        dead = result.dead_letters
        assert len(dead) == accounts
        assert all(
            d["stream"] == "accounts" and "not written after 3 tries" in d["reason"] for d in dead
        )
        assert all("503" in d["api_error"] and "maintenance" in d["api_error"] for d in dead)
        assert all(sim.store.metadata("account", d["id"]) == {} for d in dead)
