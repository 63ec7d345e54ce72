"""Rate limiting and every fault kind."""

import http.client
import json
import time

import pytest
import requests

from pendo_sim import DatasetConfig, Fault, Simulator
from tests.helpers.sim_requests import agg, auth_headers

VISITORS = [{"source": {"visitors": None}}]


def test_rate_limit_429():
    with Simulator(DatasetConfig(visitors=30, accounts=5), rate_limit_per_second=5) as s:
        codes = [
            requests.get(s.url + "/api/v1/token/verify", headers=auth_headers(s)).status_code
            for _ in range(12)
        ]
        assert codes.count(429) >= 5 and codes[:5] == [200] * 5
        # other endpoints have their own bucket
        assert requests.get(s.url + "/api/v1/page", headers=auth_headers(s)).status_code == 200
        r = requests.get(s.url + "/api/v1/token/verify", headers=auth_headers(s))
        assert r.status_code == 429 and "Retry-After" not in r.headers
        time.sleep(0.5)
        assert (
            requests.get(s.url + "/api/v1/token/verify", headers=auth_headers(s)).status_code == 200
        )
        assert s.stats()["status_429"] >= 5


def test_rate_limit_retry_after_option():
    with Simulator(
        DatasetConfig(visitors=30, accounts=5), rate_limit_per_second=1, rate_limit_retry_after=True
    ) as s:
        requests.get(s.url + "/api/v1/page", headers=auth_headers(s))
        r = requests.get(s.url + "/api/v1/page", headers=auth_headers(s))
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_status_fault_times_and_skip(msim):
    msim.faults.add(Fault(kind="status", status=503, times=2, skip=1))
    codes = [agg(msim, VISITORS).status_code for _ in range(5)]
    assert codes == [200, 503, 503, 200, 200]
    msim.faults.add(
        Fault(path="/api/v1/page", kind="status", status=429, retry_after=3, body="slow down")
    )
    r = requests.get(msim.url + "/api/v1/page", headers=auth_headers(msim))
    assert r.status_code == 429 and r.headers["Retry-After"] == "3" and r.text == "slow down"
    assert requests.get(msim.url + "/api/v1/page", headers=auth_headers(msim)).status_code == 200


def test_forever_fault_and_clear(msim):
    msim.faults.add(Fault(path="token", kind="status", status=500, times=None))
    assert [
        requests.get(msim.url + "/api/v1/token/verify", headers=auth_headers(msim)).status_code
        for _ in range(3)
    ] == [500] * 3
    msim.faults.clear()
    assert (
        requests.get(msim.url + "/api/v1/token/verify", headers=auth_headers(msim)).status_code
        == 200
    )


def test_method_filter(msim):
    msim.faults.add(Fault(path="/api/v1/", method="POST", kind="status", status=502))
    assert requests.get(msim.url + "/api/v1/page", headers=auth_headers(msim)).status_code == 200
    assert agg(msim, VISITORS).status_code == 502


def test_drop_mid_stream(msim):
    msim.faults.add(Fault(kind="drop", after_bytes=5000))
    with pytest.raises(
        (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)
    ):
        r = agg(msim, VISITORS, stream=True)
        b"".join(r.iter_content(1024))
    # next request is fine
    assert len(agg(msim, VISITORS).json()["results"]) == 320


def test_drop_plain_body(msim):
    msim.faults.add(Fault(path="/api/v1/page", kind="drop", after_bytes=100))
    with pytest.raises(
        (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)
    ):
        requests.get(msim.url + "/api/v1/page?expand=*", headers=auth_headers(msim)).json()


def test_truncate(msim):
    msim.faults.add(Fault(kind="truncate", after_bytes=3000))
    r = agg(msim, VISITORS)
    assert r.status_code == 200 and len(r.content) == 3000
    with pytest.raises(ValueError):
        json.loads(r.content)


def test_invalid_json(msim):
    msim.faults.add(Fault(kind="invalid_json"))
    r = agg(msim, VISITORS)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()


def test_slow(msim):
    msim.faults.add(Fault(path="/api/v1/page", kind="slow", delay_s=0.4))
    t = time.monotonic()
    r = requests.get(msim.url + "/api/v1/page", headers=auth_headers(msim))
    assert r.status_code == 200 and time.monotonic() - t >= 0.35
    with pytest.raises(requests.exceptions.ReadTimeout):
        msim.faults.add(Fault(path="/api/v1/page", kind="slow", delay_s=1.0))
        requests.get(msim.url + "/api/v1/page", headers=auth_headers(msim), timeout=0.3)


def test_window_limit(msim):
    start = msim.dataset.cfg.start_ms
    msim.faults.add(Fault(kind="window_limit", max_window_hours=24, times=None))
    small = [
        {
            "source": {
                "pageEvents": None,
                "timeSeries": {"period": "dayRange", "first": start, "count": 1},
            }
        }
    ]
    big = [
        {
            "source": {
                "pageEvents": None,
                "timeSeries": {"period": "dayRange", "first": start, "count": 3},
            }
        }
    ]
    assert agg(msim, small).status_code == 200
    assert agg(msim, VISITORS).status_code == 200
    r = agg(msim, big)
    assert r.status_code == 400 and r.text == "Query exceeded memory limit"
    msim.faults.clear()
    msim.faults.add(Fault(kind="window_limit", max_window_hours=2, status=504))
    hours = [
        {
            "source": {
                "pageEvents": None,
                "timeSeries": {"period": "hourRange", "first": start, "count": 3},
            }
        }
    ]
    r = agg(msim, hours)
    assert r.status_code == 504 and r.content == b""


def test_faults_over_http_control(msim):
    r = requests.post(
        msim.url + "/_sim/faults", json=[{"path": "token", "kind": "status", "status": 500}]
    )
    assert r.status_code == 200
    assert (
        requests.get(msim.url + "/api/v1/token/verify", headers=auth_headers(msim)).status_code
        == 500
    )
    requests.post(
        msim.url + "/_sim/faults", json={"path": "token", "kind": "status", "status": 500}
    )
    assert requests.delete(msim.url + "/_sim/faults").status_code == 200
    assert (
        requests.get(msim.url + "/api/v1/token/verify", headers=auth_headers(msim)).status_code
        == 200
    )
    assert requests.post(msim.url + "/_sim/faults", json={"kind": "bogus"}).status_code == 400


def test_keepalive_survives_error_responses(msim):
    conn = http.client.HTTPConnection("127.0.0.1", msim.port)
    for key in ("wrong", msim.integration_key, "wrong", msim.integration_key):
        conn.request("GET", "/api/v1/token/verify", headers={"x-pendo-integration-key": key})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == (200 if key == msim.integration_key else 403)
    conn.close()
