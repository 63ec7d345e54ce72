"""Parallel reads and writes; keep-alive connections across streamed responses."""

from concurrent.futures import ThreadPoolExecutor

import requests

from pendo_sim import DatasetConfig, Simulator
from tests.helpers.sim_requests import auth_headers


def test_parallel_aggregations_and_writes():
    with Simulator(DatasetConfig(visitors=2000, accounts=50, lastupdated_tie_group=20)) as s:
        body = {
            "request": {
                "pipeline": [
                    {"source": {"visitors": None}},
                    {"identified": "visitorId"},
                    {"sort": ["metadata.auto.lastupdated", "visitorId"]},
                ]
            }
        }

        def read(_):
            r = requests.post(s.url + "/api/v1/aggregation", json=body, headers=auth_headers(s))
            return r.status_code, len(r.json()["results"])

        def write(i):
            rows = [
                {"visitorId": f"visitor-{i * 10 + k}", "values": {"plan": f"p{i}"}}
                for k in range(10)
            ]
            r = requests.post(
                s.url + "/api/v1/metadata/visitor/custom/value", json=rows, headers=auth_headers(s)
            )
            return r.status_code, r.json()["updated"]

        with ThreadPoolExecutor(8) as pool:
            reads = pool.map(read, range(16))
            writes = pool.map(write, range(20, 60))
            assert all(r == (200, 2000) for r in reads)
            assert all(w == (200, 10) for w in writes)
        assert s.store.metadata("visitor", "visitor-555")["custom"]["plan"] == "p55"


def test_keep_alive_session_over_streamed_responses(msim):
    with requests.Session() as sess:
        for _ in range(5):
            r = sess.post(
                msim.url + "/api/v1/aggregation",
                headers=auth_headers(msim),
                json={"request": {"pipeline": [{"source": {"accounts": None}}]}},
            )
            assert r.status_code == 200 and len(r.json()["results"]) == 40
            assert (
                sess.get(msim.url + "/api/v1/token/verify", headers=auth_headers(msim)).status_code
                == 200
            )
            assert sess.get(msim.url + "/api/v1/token/verify").status_code == 403
