"""Request helpers for the simulator tests (`tests/sim`), plain functions rather than fixtures.

`auth_headers(sim, key=None)` gives the headers every Pendo API call sends (the integration key,
the simulator's own unless `key` is given, and the JSON content type); `agg(sim, pipeline, ...)`
posts an aggregation pipeline to the simulator and returns the raw response; `results(sim,
pipeline)` asserts that it answered 200 and returns its `results` list.
"""

from __future__ import annotations

import requests

from pendo_sim import Simulator


def auth_headers(sim: Simulator, key: str | None = None) -> dict:
    return {
        "x-pendo-integration-key": key or sim.integration_key,
        "content-type": "application/json",
    }


def agg(sim: Simulator, pipeline: list, key: str | None = None, **kw) -> requests.Response:
    body = {"response": {"mimeType": "application/json"}, "request": {"pipeline": pipeline}}
    return requests.post(
        sim.url + "/api/v1/aggregation", json=body, headers=auth_headers(sim, key), timeout=60, **kw
    )


def results(sim: Simulator, pipeline: list) -> list:
    r = agg(sim, pipeline)
    assert r.status_code == 200, r.text
    return r.json()["results"]
