"""`LOGLEVEL=DEBUG` shows every HTTP call (method, URL, status, time, the body's start), never the key."""

from __future__ import annotations

import logging

import pytest

from pendo_http import PendoClient
from pendo_sim import DatasetConfig, Simulator


def test_every_call_is_logged_at_debug_without_the_key(caplog: pytest.LogCaptureFixture) -> None:
    with Simulator(DatasetConfig(seed=2, visitors=20)) as sim:
        key, url = sim.integration_key, sim.url
        client = PendoClient(base_url=sim.url, integration_key=key)
        caplog.set_level(logging.DEBUG, logger="pendo_http")
        client.get_json("/api/v1/page", what="pages", params={"expand": "*"})
        rows = list(
            client.aggregate([{"source": {"visitors": None}}, {"limit": 5}], what="visitors")
        )
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "pendo_http" and r.getMessage().startswith("HTTP ")
    ]
    assert len(rows) == 5
    assert len(lines) == client.calls == 2
    assert lines[0].startswith(f"HTTP GET {url}/api/v1/page?expand=* -> 200 in ")
    assert lines[1].startswith(f"HTTP POST {url}/api/v1/aggregation -> 200 in ")
    assert '"visitors"' in lines[1]  # the start of the request body
    assert not any(key in line for line in lines)


def test_no_debug_line_when_debug_is_off(caplog: pytest.LogCaptureFixture) -> None:
    with Simulator(DatasetConfig(seed=2, visitors=20)) as sim:
        client = PendoClient(base_url=sim.url, integration_key=sim.integration_key)
        caplog.set_level(logging.INFO, logger="pendo_http")
        client.get_json("/api/v1/page", what="pages")
    assert not [r for r in caplog.records if r.getMessage().startswith("HTTP ")]
