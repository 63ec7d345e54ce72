"""Simulator options for what real Pendo may answer differently (issue 12), over HTTP and CLI."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest
import requests

from pendo_sim import DatasetConfig, Fault, Simulator
from pendo_sim.cli import build_parser, parse_options
from tests.helpers.sim_requests import agg, auth_headers


@pytest.fixture
def gsim():
    with Simulator(DatasetConfig(seed=7, visitors=40, accounts=12)) as simulator:
        yield simulator


def test_options_are_set_over_http_and_from_the_command_line(gsim):
    changes = {
        "token_verify_status": 405,
        "parent_account_schema_status": 404,
        "event_delay_hours": 6,
        "entity_time_series": "ignore",
        "base64_path_ids": False,
        "time_values_read": "iso",
        "aggregation_refusal_status": 413,
        "aggregation_refusal_text": "size limit",
    }
    r = requests.post(gsim.url + "/_sim/options", json=changes)
    assert r.status_code == 200
    assert {k: r.json()[k] for k in changes} == changes
    args = build_parser().parse_args(
        ["--option", "token_verify_status=404", "--option", "time_values_read=iso"]
    )
    assert parse_options(args.option) == {"token_verify_status": 404, "time_values_read": "iso"}


def test_no_token_verify_and_parent_account_refused(gsim):
    assert (
        requests.get(gsim.url + "/api/v1/token/verify", headers=auth_headers(gsim)).status_code
        == 200
    )
    gsim.set_options(token_verify_status=404, parent_account_schema_status=403)
    assert (
        requests.get(gsim.url + "/api/v1/token/verify", headers=auth_headers(gsim)).status_code
        == 404
    )
    schema = gsim.url + "/api/v1/metadata/schema/"
    assert requests.get(schema + "parentAccount", headers=auth_headers(gsim)).status_code == 403
    assert requests.get(schema + "visitor", headers=auth_headers(gsim)).status_code == 200


def test_refusal_status_and_text(gsim):
    gsim.set_options(aggregation_refusal_status=413, aggregation_refusal_text="size limit")
    gsim.faults.add(Fault(kind="window_limit", max_window_hours=24, times=None))
    source = {"pageEvents": None, "timeSeries": {"period": "dayRange", "first": 0, "count": 2}}
    r = agg(gsim, [{"source": source}])
    assert (r.status_code, r.text) == (413, "size limit")


def test_late_events(gsim):
    lo, hi = gsim.dataset.event_range()
    gsim.set_now(lo + 10 * 3_600_000)
    source = {"pageEvents": None, "timeSeries": {"period": "hourRange", "first": lo, "count": 10}}
    on_time = agg(gsim, [{"source": source}]).json()["results"]
    gsim.set_options(event_delay_hours=4)
    late = agg(gsim, [{"source": source}]).json()["results"]
    assert late and len(late) < len(on_time)
    assert max(row["hour"] for row in late) == lo + 5 * 3_600_000  # hours ended 4 h ago


@pytest.mark.parametrize(("mode", "status"), [("honour", 200), ("ignore", 200), ("reject", 400)])
def test_time_series_in_entity_sources(gsim, mode, status):
    gsim.set_options(entity_time_series=mode)
    rows = gsim.dataset.visitors(identified_only=False)
    values = sorted(
        v["metadata"]["auto"]["lastupdated"]
        for v in rows
        if v["metadata"]["auto"].get("lastupdated")
    )
    cut = values[len(values) // 2]
    series = {"period": "hourRange", "first": cut, "last": "now()"}
    r = agg(gsim, [{"source": {"visitors": {"timeSeries": series}}}])
    assert r.status_code == status
    if status == 200:
        got = r.json()["results"]
        bounded = [
            v for v in got if (v["metadata"]["auto"].get("lastupdated") or 0) >= cut - 3_600_000
        ]
        assert (len(bounded) == len(got)) == (mode == "honour")


def test_base64_ids_taken_or_ignored(gsim):
    vid = gsim.dataset.visitors()[0]["visitorId"]
    encoded = base64.urlsafe_b64encode(vid.encode()).decode()
    headers = {**auth_headers(gsim), "x-pendo-base64-encoded-params": "true"}
    url = gsim.url + "/api/v1/visitor/{}/history?starttime=0"
    assert requests.get(url.format(encoded), headers=headers).status_code == 200
    gsim.set_options(base64_path_ids=False)
    assert requests.get(url.format(encoded), headers=headers).status_code == 404
    assert (
        requests.get(url.format(quote(vid, safe="")), headers=auth_headers(gsim)).status_code == 200
    )
