"""Fixtures every test directory shares: a real simulator on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pendo_sim import DatasetConfig, Simulator


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A fresh simulator with the default small dataset, on a free loopback port."""
    with Simulator(DatasetConfig(seed=7)) as simulator:
        yield simulator


@pytest.fixture
def tap_config(sim: Simulator) -> dict:
    """A tap config pointing at `sim`, with fast retries so fault tests stay quick."""
    return {
        "integration_key": sim.integration_key,
        "api_url": sim.url,
        "start_date": "2026-03-01T00:00:00Z",
        "retry_backoff_seconds": 0.01,
        "max_retries": 5,
        "request_timeout": 10,
    }
