"""The latency model (off by default) and the request-rate measures in /_sim/stats."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from pendo_sim import DatasetConfig, Simulator
from pendo_sim.cli import build_parser
from pendo_sim.config import LATENCY_PROFILES, latency_profile
from tests.helpers.sim_requests import auth_headers


def page_events(s: Simulator) -> dict:
    first = s.dataset.event_range()[0] + 12 * 3_600_000
    series = {"period": "dayRange", "first": first, "count": 3}
    return {"request": {"pipeline": [{"source": {"pageEvents": None, "timeSeries": series}}]}}


def test_latency_is_off_by_default_and_settable_over_control(msim):
    assert requests.get(msim.url + "/_sim/latency").json() == LATENCY_PROFILES["off"]
    r = requests.post(msim.url + "/_sim/latency", json={"profile": "large", "scale": 0.5})
    assert r.json() == {k: v * 0.5 for k, v in LATENCY_PROFILES["large"].items()}
    r = requests.post(msim.url + "/_sim/latency", json={"latency_request_s": 0})
    assert r.json()["latency_request_s"] == 0
    assert r.json()["latency_per_day_s"] == LATENCY_PROFILES["large"]["latency_per_day_s"] / 2
    assert requests.post(msim.url + "/_sim/latency", json={"latency_bogus": 1}).status_code == 400
    assert requests.post(msim.url + "/_sim/latency", json={"profile": "nope"}).status_code == 400
    requests.post(msim.url + "/_sim/latency", json={"profile": "off"})
    assert requests.get(msim.url + "/_sim/latency").json() == LATENCY_PROFILES["off"]


def test_cli_flags_and_profile_scaling():
    a = build_parser().parse_args(["--latency-profile", "large", "--latency-scale", "0.1"])
    assert a.latency_profile == "large" and a.latency_scale == 0.1
    assert latency_profile("large", 0.1)["latency_request_s"] == pytest.approx(0.15)
    with pytest.raises(ValueError):
        latency_profile("medium")


def test_rows_are_the_same_under_latency():
    cfg = DatasetConfig(event_days=3, event_rows_per_day=300)
    with Simulator(cfg) as s:
        plain = requests.post(
            s.url + "/api/v1/aggregation", json=page_events(s), headers=auth_headers(s)
        )
        s.set_latency(latency_request_s=0.01, latency_per_row_s=1e-5, latency_per_day_s=0.01)
        slow = requests.post(
            s.url + "/api/v1/aggregation", json=page_events(s), headers=auth_headers(s)
        )
        assert plain.status_code == slow.status_code == 200
        assert len(plain.json()["results"]) > 0
        assert slow.json() == plain.json()


def test_concurrent_requests_are_served_together_and_counted():
    with Simulator(DatasetConfig(event_days=2, event_rows_per_day=50)) as s:
        s.set_latency(latency_request_s=0.5)

        def call(_):
            return requests.get(s.url + "/api/v1/token/verify", headers=auth_headers(s)).status_code

        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(call, range(4))) == [200] * 4
        stats = requests.get(s.url + "/_sim/stats").json()
        # four handlers slept at once: the server is threaded
        assert stats["max_in_flight"] >= 2
        assert 1 <= stats["max_requests_per_second"] <= 4
        requests.post(s.url + "/_sim/stats/reset_rate")
        stats = requests.get(s.url + "/_sim/stats").json()
        assert stats["max_requests_per_second"] == 0 and stats["max_in_flight"] <= 1
