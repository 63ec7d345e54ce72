"""Shared helpers for simulator tests: a module-scoped simulator and request helpers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from pendo_sim import DatasetConfig, Simulator


@pytest.fixture(scope="module")
def msim() -> Iterator[Simulator]:
    with Simulator(DatasetConfig(seed=7)) as s:
        yield s


@pytest.fixture(autouse=True)
def _clear_faults(request):
    yield
    for name in ("msim", "sim"):
        if name in request.fixturenames:
            request.getfixturevalue(name).faults.clear()


def H(sim: Simulator, key: str | None = None) -> dict:
    return {
        "x-pendo-integration-key": key or sim.integration_key,
        "content-type": "application/json",
    }


def agg(sim: Simulator, pipeline: list, key: str | None = None, **kw) -> requests.Response:
    body = {"response": {"mimeType": "application/json"}, "request": {"pipeline": pipeline}}
    return requests.post(
        sim.url + "/api/v1/aggregation", json=body, headers=H(sim, key), timeout=60, **kw
    )


def results(sim: Simulator, pipeline: list) -> list:
    r = agg(sim, pipeline)
    assert r.status_code == 200, r.text
    return r.json()["results"]
