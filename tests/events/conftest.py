"""Event-stream fixtures: a simulator with more events a day."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pendo_sim import DatasetConfig, Simulator


@pytest.fixture
def event_sim() -> Iterator[Simulator]:
    with Simulator(
        DatasetConfig(
            seed=11, event_rows_per_day=400, guide_events_per_day=150, poll_events_per_day=40
        )
    ) as simulator:
        yield simulator
