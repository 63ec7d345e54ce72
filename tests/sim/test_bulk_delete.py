"""Bulk delete as shared/pendo-api.md §6 describes it: bodies, the 500-id limit, Do Not Process."""

import pytest
import requests

from pendo_sim import DatasetConfig, Simulator
from tests.helpers.sim_requests import auth_headers


@pytest.fixture
def dsim():
    with Simulator(DatasetConfig(visitors=30, accounts=6, anonymous_visitors=2)) as s:
        yield s


def delete(sim, kind, body, key=None):
    return requests.post(
        f"{sim.url}/api/v1/bulkdelete/{kind}", json=body, headers=auth_headers(sim, key)
    )


def test_visitors_are_marked_do_not_process_and_removed(dsim):
    vid = dsim.dataset.visitors()[0]["visitorId"]
    r = delete(dsim, "visitor", {"visitors": [vid, "never-seen"]})
    assert r.status_code == 200
    job = r.json()["id"]
    assert dsim.store.current("visitor", vid)["pendo"]["donotprocess"] is True
    assert (
        requests.get(f"{dsim.url}/api/v1/visitor/{vid}", headers=auth_headers(dsim)).status_code
        == 404
    )
    assert vid not in {v["visitorId"] for v in dsim.dataset.visitors()}
    status = requests.get(f"{dsim.url}/api/v1/bulkdelete/{job}", headers=auth_headers(dsim)).json()
    assert (status["kind"], status["count"], status["status"]) == ("visitor", 2, "complete")
    assert [
        j["id"]
        for j in requests.get(f"{dsim.url}/api/v1/bulkdelete", headers=auth_headers(dsim)).json()
    ] == [job]
    assert dsim.deleted_ids["visitor"] == [vid, "never-seen"]


def test_queued_deletion_keeps_the_account_visible_as_do_not_process(dsim):
    dsim.set_options(bulk_delete_completes=False)
    aid = dsim.dataset.accounts()[0]["accountId"]
    r = delete(dsim, "account", {"accounts": [aid]})
    assert r.status_code == 200
    got = requests.get(f"{dsim.url}/api/v1/account/{aid}", headers=auth_headers(dsim)).json()
    assert got["metadata"]["pendo"]["donotprocess"] is True
    assert dsim.bulk_delete_jobs[r.json()["id"]]["status"] == "queued"


@pytest.mark.parametrize(
    "kind, body",
    [
        ("visitor", {"accounts": ["a"]}),  # the other kind's key
        ("account", ["a"]),  # not an object
        ("visitor", {"visitors": [1, 2]}),  # ids must be strings
        ("visitor", {"visitors": [f"v{n}" for n in range(501)]}),  # more than 500
    ],
)
def test_refused_bodies(dsim, kind, body):
    assert delete(dsim, kind, body).status_code == 400
    assert dsim.bulk_delete_jobs == {}


def test_read_only_key_cannot_delete(dsim):
    assert delete(dsim, "visitor", {"visitors": ["x"]}, key=dsim.read_only_key).status_code == 403


def test_calls_closer_than_the_minimum_interval_get_429(dsim):
    dsim.set_options(bulk_delete_min_interval_s=60)
    assert delete(dsim, "visitor", {"visitors": ["a"]}).status_code == 200
    assert delete(dsim, "visitor", {"visitors": ["b"]}).status_code == 429
    assert dsim.deleted_ids["visitor"] == ["a"]
