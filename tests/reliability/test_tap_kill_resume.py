"""tap-pendo killed with SIGKILL at random points and resumed from the last STATE it emitted.

For each stream and seed: run the tap as a subprocess, SIGKILL it after a random number of
output lines (random.Random(seed)), restart it with the last STATE line it wrote, and repeat
until a run completes. The union of every run's records, with repeats removed by primary
key (a repeat must be identical), must equal a clean run's records exactly.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pendo_sim import DatasetConfig, Simulator
from tests.helpers.tap import catalog, cli_args, parse, sync_in_process, tap_config

from ._figures import FIGURES
from ._tap import EVENT_END, EVENT_START, by_key, run_tap_until_killed

SEEDS = (1, 2, 3, 4, 5)
MAX_KILLS = 3


@dataclass(frozen=True)
class Scenario:
    stream: str
    config: tuple[tuple[str, object], ...]
    # True when the stream writes STATE mid-run, so a late kill must resume from a bookmark.
    checkpoints: bool


SCENARIOS = {
    # Six keyset pages of 100 visitors (plus the rows without lastupdated).
    "visitors": Scenario("visitors", (("page_size", 100),), checkpoints=True),
    # One-day windows over the event days: a STATE after each window.
    "page_events": Scenario(
        "page_events",
        (("start_date", EVENT_START), ("end_date", EVENT_END), ("event_window_days", 1)),
        checkpoints=True,
    ),
    # A few visitors' history over five days.
    "visitor_history": Scenario(
        "visitor_history",
        (
            ("start_date", EVENT_START),
            ("end_date", EVENT_END),
            ("visitor_history_concurrency", 2),
            ("visitor_history_enabled", True),
        ),
        checkpoints=False,
    ),
}


@pytest.fixture(scope="module")
def ksim() -> Iterator[Simulator]:
    cfg = DatasetConfig(
        seed=31,
        visitors=600,
        accounts=40,
        anonymous_visitors=10,
        event_days=3,
        event_rows_per_day=200,
        guide_events_per_day=50,
        poll_events_per_day=10,
    )
    with Simulator(cfg) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def history_sim() -> Iterator[Simulator]:
    """visitor_history costs a call per visitor per day: a handful of visitors."""
    with Simulator(
        DatasetConfig(
            seed=32,
            visitors=8,
            accounts=3,
            anonymous_visitors=0,
            event_days=3,
            event_rows_per_day=20,
        )
    ) as simulator:
        yield simulator


def scenario_config(sim: Simulator, scenario: Scenario) -> dict:
    settings: dict = {"max_retries": 4, "request_timeout": 10, "progress_interval_seconds": 0}
    settings.update(scenario.config)
    return tap_config(sim, **settings)


_CLEAN: dict[str, tuple[list[dict], list[str], int]] = {}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("stream", list(SCENARIOS))
def test_killed_runs_resume_to_exactly_the_full_data(
    ksim: Simulator, history_sim: Simulator, tmp_path: Path, stream: str, seed: int
) -> None:
    scenario = SCENARIOS[stream]
    sim = history_sim if stream == "visitor_history" else ksim
    config = scenario_config(sim, scenario)
    if stream not in _CLEAN:
        clean = sync_in_process(config, [stream])
        _CLEAN[stream] = (clean.records[stream], clean.key_properties[stream], clean.lines)
    clean_records, keys, clean_lines = _CLEAN[stream]
    assert len(clean_records) > 50, "the scenario is too small to kill mid-stream"
    expected, _ = by_key(clean_records, keys)

    rng = random.Random(seed)
    selected = catalog(config, [stream])
    state: dict | None = None
    emitted: list[dict] = []
    kills = resumes = 0
    resumed_from_bookmark = False
    for attempt_no in range(MAX_KILLS + 1):
        if attempt_no == MAX_KILLS:
            kill_after = None
        elif attempt_no == 0:
            # Mid-run: a STATE exists by then, and enough output is left (more than a pipe
            # buffer) that the tap cannot have finished before the kill.
            kill_after = rng.randrange(clean_lines // 3, clean_lines * 2 // 3)
        else:
            kill_after = rng.randrange(1, clean_lines)
        args = cli_args(tmp_path / f"run{attempt_no}", config, selected, state)
        attempt = run_tap_until_killed(args, kill_after, tmp_path / f"run{attempt_no}.stderr")
        output = parse(attempt.lines)
        emitted += output.records[stream]
        if not attempt.killed:
            stderr = (tmp_path / f"run{attempt_no}.stderr").read_text()[-3000:]
            assert attempt.returncode == 0, stderr
            break
        kills += 1
        if output.last_state is not None:
            state = output.last_state
        resumes += 1
        bookmarks = (state or {}).get("bookmarks", {}).get(stream, {})
        resumed_from_bookmark |= bookmarks.get("replication_key_value") is not None
    else:  # pragma: no cover - the last attempt is never killed
        pytest.fail("no run completed")

    FIGURES.kill_runs += 1
    FIGURES.kills += kills
    FIGURES.resumes += resumes
    assert kills >= 1, "the tap finished before the first kill"
    got, repeats = by_key(emitted, keys)
    assert got.keys() == expected.keys(), (
        f"missing {len(expected.keys() - got.keys())}, unexpected {len(got.keys() - expected.keys())}"
    )
    assert got == expected
    if scenario.checkpoints:
        assert resumed_from_bookmark, "no resumed run started from a mid-run bookmark"
    FIGURES.records_compared += len(emitted)
    FIGURES.duplicates_seen[f"{stream} after kills"] += repeats
