"""Auth, token verify, GET endpoints, schema, visitor/account lookups, history."""

import base64
from urllib.parse import quote

import requests

from tests.helpers.sim_requests import auth_headers


def test_missing_or_wrong_key_is_403_with_empty_body(msim):
    for headers in ({}, {"x-pendo-integration-key": "nope"}):
        for path in ("/api/v1/token/verify", "/api/v1/page", "/api/v1/metadata/schema/visitor"):
            r = requests.get(msim.url + path, headers=headers)
            assert r.status_code == 403 and r.content == b""
    r = requests.post(
        msim.url + "/api/v1/aggregation", json={}, headers={"x-pendo-integration-key": "x"}
    )
    assert r.status_code == 403 and r.content == b""


def test_header_name_case_insensitive_and_verify(msim):
    r = requests.get(
        msim.url + "/api/v1/token/verify", headers={"X-PENDO-INTEGRATION-KEY": msim.integration_key}
    )
    assert r.json() == {"valid": True, "writeAccess": True}
    r = requests.get(
        msim.url + "/api/v1/token/verify", headers=auth_headers(msim, msim.read_only_key)
    )
    assert r.json() == {"valid": True, "writeAccess": False}


def test_track_secret_is_not_an_integration_key(msim):
    r = requests.get(
        msim.url + "/api/v1/token/verify", headers=auth_headers(msim, msim.track_secret)
    )
    assert r.status_code == 403 and r.content == b""


def test_entity_lists_default_app_expand_appid_and_ids(msim):
    ds = msim.dataset
    for name, items in (
        ("page", ds.pages()),
        ("feature", ds.features()),
        ("guide", ds.guides()),
        ("tracktype", ds.track_types()),
    ):
        default = requests.get(f"{msim.url}/api/v1/{name}", headers=auth_headers(msim)).json()
        assert isinstance(default, list) and default
        assert {e["appId"] for e in default} == {-323232}
        everything = requests.get(
            f"{msim.url}/api/v1/{name}?expand=*", headers=auth_headers(msim)
        ).json()
        assert everything == items and len({e["appId"] for e in everything}) == 2
        other = ds.apps[1]
        by_app = requests.get(
            f"{msim.url}/api/v1/{name}?appId={other}", headers=auth_headers(msim)
        ).json()
        assert by_app and {e["appId"] for e in by_app} == {other}
        ids = [items[0]["id"], items[-1]["id"]]
        got = requests.get(
            f"{msim.url}/api/v1/{name}?id={','.join(ids)}", headers=auth_headers(msim)
        ).json()
        assert sorted(e["id"] for e in got) == sorted(ids)
    reports = requests.get(f"{msim.url}/api/v1/report", headers=auth_headers(msim)).json()
    assert len(reports) == 3 and all("definition" in r for r in reports)


def test_entity_shapes(msim):
    page = requests.get(msim.url + "/api/v1/page", headers=auth_headers(msim)).json()[0]
    for k in (
        "id",
        "name",
        "kind",
        "appId",
        "createdAt",
        "lastUpdatedAt",
        "createdByUser",
        "rules",
        "group",
    ):
        assert k in page
    guides = requests.get(msim.url + "/api/v1/guide?expand=*", headers=auth_headers(msim)).json()
    assert any(g["polls"] for g in guides) and all(g["steps"] for g in guides)


def test_metadata_schema(msim):
    s = requests.get(
        msim.url + "/api/v1/metadata/schema/visitor", headers=auth_headers(msim)
    ).json()
    assert {"agent", "auto", "custom", "pendo"} <= set(s)
    types = {d["Type"] for d in s["custom"].values()}
    assert {"string", "time", "boolean", "integer", "float", ""} <= types
    keys = {
        "Type",
        "DisplayName",
        "ElementType",
        "ElementFormat",
        "Dirty",
        "isHidden",
        "isDeleted",
        "isCalculated",
        "isPerApp",
        "isPromoted",
        "neverIndex",
    }
    for group in s.values():
        for desc in group.values():
            assert keys <= set(desc)
    assert (
        requests.get(
            msim.url + "/api/v1/metadata/schema/account", headers=auth_headers(msim)
        ).status_code
        == 200
    )
    assert (
        requests.get(
            msim.url + "/api/v1/metadata/schema/parentAccount", headers=auth_headers(msim)
        ).status_code
        == 200
    )
    assert (
        requests.get(
            msim.url + "/api/v1/metadata/schema/nope", headers=auth_headers(msim)
        ).status_code
        == 404
    )


def test_parent_account_schema_absent_when_disabled():
    from pendo_sim import DatasetConfig, Simulator

    with Simulator(DatasetConfig(parent_accounts=False, visitors=20, accounts=5)) as s:
        r = requests.get(s.url + "/api/v1/metadata/schema/parentAccount", headers=auth_headers(s))
        assert r.status_code == 404


def test_visitor_and_account_by_id_with_weird_ids(msim):
    for vid in ('quote"visitor', "back\\slash\\visitor", "émilie", "用户", "🚀rocket"):
        r = requests.get(
            msim.url + "/api/v1/visitor/" + quote(vid, safe=""), headers=auth_headers(msim)
        )
        assert r.status_code == 200, vid
        assert r.json()["id"] == vid and "metadata" in r.json()
        b64 = base64.urlsafe_b64encode(vid.encode()).decode().rstrip("=")
        r = requests.get(
            msim.url + "/api/v1/visitor/" + b64,
            headers={**auth_headers(msim), "x-pendo-base64-encoded-params": "true"},
        )
        assert r.status_code == 200 and r.json()["id"] == vid
    assert (
        requests.get(msim.url + "/api/v1/visitor/nobody", headers=auth_headers(msim)).status_code
        == 404
    )
    acc = msim.dataset.account_ids[0]
    r = requests.get(
        msim.url + "/api/v1/account/" + quote(acc, safe=""), headers=auth_headers(msim)
    )
    assert r.status_code == 200 and r.json()["id"] == acc
    assert (
        requests.get(msim.url + "/api/v1/account/nobody", headers=auth_headers(msim)).status_code
        == 404
    )


def test_visitor_history_deterministic(msim):
    start = msim.dataset.cfg.start_ms
    url = msim.url + "/api/v1/visitor/visitor-20/history?starttime=" + str(start)
    a = requests.get(url, headers=auth_headers(msim)).json()
    b = requests.get(url, headers=auth_headers(msim)).json()
    assert a == b and isinstance(a, list)
    for item in a:
        assert start <= item["ts"] < start + 86_400_000 and item["type"]
    total = sum(
        len(
            requests.get(
                msim.url + f"/api/v1/visitor/visitor-{i}/history?starttime={start}",
                headers=auth_headers(msim),
            ).json()
        )
        for i in range(20, 30)
    )
    assert total > 0
    assert (
        requests.get(
            msim.url + "/api/v1/visitor/visitor-20/history", headers=auth_headers(msim)
        ).status_code
        == 400
    )


def test_unknown_path_404(msim):
    assert requests.get(msim.url + "/api/v1/nothing", headers=auth_headers(msim)).status_code == 404


def test_request_log_and_stats(msim):
    requests.get(msim.url + "/api/v1/token/verify", headers=auth_headers(msim))
    assert ("GET", "/api/v1/token/verify", 200) in msim.request_log
    st = msim.stats()
    assert st["by_path"]["GET /api/v1/token/verify"] >= 1
    assert requests.get(msim.url + "/_sim/stats").json()["requests"] >= 1
    assert requests.get(msim.url + "/_sim/health").json()["ok"] is True
