"""Event-stream fixtures: a simulator and a tap config bounded to the simulator's event days."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pendo_sim import DatasetConfig, Simulator

from ._tap import END, START


@pytest.fixture
def event_sim() -> Iterator[Simulator]:
    with Simulator(
        DatasetConfig(
            seed=11, event_rows_per_day=400, guide_events_per_day=150, poll_events_per_day=40
        )
    ) as simulator:
        yield simulator


def config_for(sim: Simulator, **extra: object) -> dict:
    config = {
        "integration_key": sim.integration_key,
        "api_url": sim.url,
        "start_date": START,
        "end_date": END,
        "retry_backoff_seconds": 0.01,
        "max_retries": 3,
        "request_timeout": 10,
        # visitor_history extracts nothing without it (the tests select it where they want it).
        "visitor_history_enabled": True,
    }
    config.update(extra)
    return config
