"""Metadata writes (bulk + single value) and /data/track."""

import time

import pytest
import requests

from pendo_sim import DatasetConfig, Simulator
from tests.helpers.sim_requests import auth_headers, results


@pytest.fixture
def wsim():
    with Simulator(DatasetConfig(visitors=60, accounts=12, anonymous_visitors=5)) as s:
        yield s


def post_meta(sim, kind, group, body, key=None, create=False, raw=None):
    url = f"{sim.url}/api/v1/metadata/{kind}/{group}/value" + ("?create=true" if create else "")
    if raw is not None:
        return requests.post(url, data=raw, headers=auth_headers(sim, key))
    return requests.post(url, json=body, headers=auth_headers(sim, key))


def test_bulk_semantics(wsim):
    body = [
        {
            "visitorId": "visitor-20",
            "values": {
                "plan": "pro",
                "seats": 5,
                "isbeta": True,
                "score": 1.5,
                "renewaldate": "2026-05-01T00:00:00Z",
            },
        },
        {"visitorId": "émilie", "values": {"plan": "free"}},
        {"visitorId": "ghost-1", "values": {"plan": "pro"}},
        {"visitorId": "visitor-21", "values": {"nosuchfield": 1}},
        {"visitorId": "visitor-22", "values": {"seats": "many"}},
    ]
    r = post_meta(wsim, "visitor", "custom", body)
    assert r.status_code == 200
    d = r.json()
    assert d["total"] == 5 and d["updated"] == 2 and d["failed"] == 3
    assert d["missing"] == ["ghost-1"] and len(d["errors"]) == 2
    assert "visitor-21" in d["errors"][0] and "nosuchfield" in d["errors"][0]
    assert "visitor-22" in d["errors"][1] and "seats" in d["errors"][1]
    assert d["total"] == d["updated"] + d["failed"] and d["failed"] == len(d["missing"]) + len(
        d["errors"]
    )
    assert d["kind"] == "visitor" and d["group"] == "custom"
    assert set(wsim.store.metadata("visitor", "visitor-20")) == {"custom"}  # only what writes did
    assert wsim.store.metadata("visitor", "visitor-23") == {}
    assert wsim.store.current("visitor", "visitor-23")["auto"]["id"] == "visitor-23"
    custom = wsim.store.metadata("visitor", "visitor-20")["custom"]
    assert (
        custom["plan"] == "pro" and custom["seats"] == 5 and custom["renewaldate"] == 1777593600000
    )
    # reflected in GET and aggregation, and lastupdated bumped
    v = requests.get(wsim.url + "/api/v1/visitor/visitor-20", headers=auth_headers(wsim)).json()
    assert v["metadata"]["custom"]["plan"] == "pro"
    assert (
        v["metadata"]["auto"]["lastupdated"] == wsim.dataset.now_ms
        or abs(v["metadata"]["auto"]["lastupdated"] - int(time.time() * 1000)) < 60_000
    )
    rows = results(wsim, [{"source": {"visitors": None}}, {"filter": 'visitorId == "émilie"'}])
    assert rows[0]["metadata"]["custom"]["plan"] == "free"
    assert (
        requests.get(wsim.url + "/_sim/store/metadata/visitor/visitor-20").json()["custom"]["plan"]
        == "pro"
    )


def test_create_and_accounts_and_agent(wsim):
    r = post_meta(
        wsim,
        "visitor",
        "agent",
        [{"visitorId": "new-visitor", "values": {"email": "n@x.io"}}],
        create=True,
    )
    assert r.json()["updated"] == 1 and r.json()["missing"] == []
    assert (
        requests.get(
            wsim.url + "/api/v1/visitor/new-visitor", headers=auth_headers(wsim)
        ).status_code
        == 200
    )
    acc = wsim.dataset.account_ids[0]
    r = post_meta(
        wsim, "account", "custom", [{"accountId": acc, "values": {"arr": 10, "tier": "gold"}}]
    )
    assert r.json()["updated"] == 1
    assert wsim.store.metadata("account", acc)["custom"]["arr"] == 10
    r = post_meta(
        wsim,
        "parentAccount",
        "custom",
        [
            {"accountId": "parent-1", "values": {"segment": "smb"}},
            {"accountId": "nope", "values": {"segment": "x"}},
        ],
    )
    assert r.json()["updated"] == 1 and r.json()["missing"] == ["nope"]
    assert wsim.store.metadata("parentAccount", "parent-1")["custom"]["segment"] == "smb"


def test_bad_bodies_and_read_only(wsim):
    assert post_meta(wsim, "visitor", "custom", None, raw=b"{not json").status_code == 400
    assert post_meta(wsim, "visitor", "custom", {"visitorId": "x"}).status_code == 400
    r = post_meta(
        wsim,
        "visitor",
        "custom",
        [{"visitorId": "visitor-20", "values": {"plan": "x"}}],
        key=wsim.read_only_key,
    )
    assert r.status_code == 403 and r.content == b""
    assert post_meta(wsim, "visitor", "custom", [], key="wrong").status_code == 403


def test_coerce_option_and_timeout():
    with Simulator(
        DatasetConfig(visitors=40, accounts=5),
        coerce_wrong_types=True,
        metadata_write_seconds_per_record=1.0,
        metadata_write_time_limit_s=3,
    ) as s:
        r = post_meta(
            s, "visitor", "custom", [{"visitorId": "visitor-20", "values": {"seats": "12"}}]
        )
        assert (
            r.json()["updated"] == 1
            and s.store.metadata("visitor", "visitor-20")["custom"]["seats"] == 12
        )
        body = [{"visitorId": f"visitor-{i}", "values": {"plan": "p"}} for i in range(20, 25)]
        assert post_meta(s, "visitor", "custom", body).status_code == 408


def test_single_value_put_get(wsim):
    url = wsim.url + "/api/v1/metadata/visitor/custom/value/visitor-30/plan"
    r = requests.put(url, data=b'"enterprise"', headers=auth_headers(wsim))
    assert r.status_code == 200 and r.content == b""
    assert requests.get(url, headers=auth_headers(wsim)).json() == "enterprise"
    dnp = wsim.url + "/api/v1/metadata/visitor/pendo/value/visitor-30/donotprocess"
    assert requests.put(dnp, data=b"true", headers=auth_headers(wsim)).status_code == 200
    assert requests.get(dnp, headers=auth_headers(wsim)).json() is True
    assert requests.put(dnp, data=b'"yes"', headers=auth_headers(wsim)).status_code == 400
    assert (
        requests.put(
            wsim.url + "/api/v1/metadata/visitor/custom/value/ghost/plan",
            data=b'"x"',
            headers=auth_headers(wsim),
        ).status_code
        == 404
    )
    created = wsim.url + "/api/v1/metadata/visitor/custom/value/visitor-30/brandnew"
    assert requests.put(created, data=b'"v"', headers=auth_headers(wsim)).status_code == 200
    assert (
        requests.put(url, data=b'"x"', headers=auth_headers(wsim, wsim.read_only_key)).status_code
        == 403
    )


def track(sim, body, key=None, raw=None):
    headers = {
        "x-pendo-integration-key": key or sim.track_secret,
        "content-type": "application/json",
    }
    if raw is not None:
        return requests.post(sim.url + "/data/track", data=raw, headers=headers)
    return requests.post(sim.url + "/data/track", json=body, headers=headers)


def good_event(**kw):
    e = {
        "type": "track",
        "event": "Registered",
        "visitorId": "v1",
        "accountId": "a1",
        "timestamp": int(time.time() * 1000),
        "properties": {"plan": "pro"},
        "context": {},
    }
    e.update(kw)
    return e


def test_track_accept_validate_drop(wsim):
    r = track(wsim, good_event())
    assert r.status_code == 200 and r.content == b""
    assert wsim.store.track_events[-1]["event"] == "Registered"
    for bad in (
        good_event(type="identify"),
        good_event(event=""),
        good_event(timestamp="123"),
        good_event(timestamp=1.5),
        {k: v for k, v in good_event().items() if k != "context"},
        {k: v for k, v in good_event().items() if k != "visitorId"},
        [good_event()],
    ):
        assert track(wsim, bad).status_code == 400, bad
    assert track(wsim, None, raw=b"{oops").status_code == 400
    old = good_event(timestamp=int(time.time() * 1000) - 8 * 86_400_000)
    assert track(wsim, old).status_code == 200
    assert wsim.store.dropped_track_events[-1]["timestamp"] == old["timestamp"]
    assert len(wsim.store.track_events) == 1
    props = {"ok_name": 1, "1bad": 2, "__dunder__": 3, "x" * 33: 4, "has-dash": 5, "_fine": 6}
    track(wsim, good_event(properties=props))
    assert wsim.store.track_events[-1]["properties"] == {"ok_name": 1, "_fine": 6}
    assert set(wsim.store.hidden_track_properties[-1]["properties"]) == {
        "1bad",
        "__dunder__",
        "x" * 33,
        "has-dash",
    }
    got = requests.get(wsim.url + "/_sim/store/track_events").json()
    assert len(got["track_events"]) == 2 and len(got["dropped_track_events"]) == 1


def test_track_auth(wsim):
    for key in (wsim.integration_key, "wrong"):
        r = track(wsim, good_event(), key=key)
        assert r.status_code == 403 and r.content == b""
    assert requests.post(wsim.url + "/data/track", json=good_event()).status_code == 403
    assert wsim.store.track_events == []


def test_track_integration_key_silently_option():
    with Simulator(
        DatasetConfig(visitors=30, accounts=5), track_accepts_integration_key_silently=True
    ) as s:
        r = track(s, good_event(), key=s.integration_key)
        assert r.status_code == 200 and r.content == b""
        assert s.store.track_events == [] and len(s.store.rejected_track_events) == 1


def test_oversized_properties_flagged(wsim):
    track(wsim, good_event(properties={"blob": "x" * 600}))
    assert wsim.store.track_events[-1]["properties"]["blob"] == "x" * 600
    assert len(wsim.store.oversized_track_properties) == 1


def test_options_at_runtime(wsim):
    r = requests.post(
        wsim.url + "/_sim/options", json={"track_accepts_integration_key_silently": True}
    )
    assert r.status_code == 200 and r.json()["track_accepts_integration_key_silently"] is True
    assert track(wsim, good_event(), key=wsim.integration_key).status_code == 200
    assert requests.post(wsim.url + "/_sim/options", json={"nope": 1}).status_code == 400
    requests.post(wsim.url + "/_sim/rate_limit", json={"per_second": 1})
    codes = [
        requests.get(wsim.url + "/api/v1/page", headers=auth_headers(wsim)).status_code
        for _ in range(3)
    ]
    assert 429 in codes
    requests.post(wsim.url + "/_sim/rate_limit", json={"per_second": None})
    assert requests.get(wsim.url + "/api/v1/page", headers=auth_headers(wsim)).status_code == 200


# -- answers Pendo's docs leave open (options) ---------------------------------------------

MIXED = [
    {"visitorId": "visitor-30", "values": {"plan": "pro"}},
    {"visitorId": "ghost-9", "values": {"plan": "pro"}},
    {"visitorId": "visitor-31", "values": {"seats": "many"}},
]


@pytest.mark.parametrize(
    ("shape", "expected"),
    [("id", "ghost-9"), ("id_object", {"visitorId": "ghost-9"}), ("id_key", {"id": "ghost-9"})],
)
def test_missing_item_shapes(wsim, shape, expected):
    wsim.set_options(metadata_missing_items=shape)
    d = post_meta(wsim, "visitor", "custom", MIXED).json()
    assert d["missing"] == [expected]
    assert (d["total"], d["updated"], d["failed"]) == (3, 1, 2)


def test_error_item_shapes(wsim):
    shapes = {}
    for shape in ("text", "text_no_id", "field_message", "id_object"):
        wsim.set_options(metadata_error_items=shape)
        shapes[shape] = post_meta(wsim, "visitor", "custom", MIXED).json()["errors"]
    assert "visitor-31" in shapes["text"][0] and "seats" in shapes["text"][0]
    assert "visitor-31" not in shapes["text_no_id"][0] and "seats" in shapes["text_no_id"][0]
    assert shapes["field_message"] == [{"field": "seats", "message": "expects integer, got string"}]
    assert shapes["id_object"] == [
        {"visitorId": "visitor-31", "message": "expects integer, got string"}
    ]


@pytest.mark.parametrize(
    ("answer", "check"),
    [
        ("html", lambda r: r.headers["content-type"].startswith("text/html")),
        ("empty", lambda r: r.content == b""),
        ("list", lambda r: r.json() == []),
        ("no_counts", lambda r: "total" not in r.json() and r.json()["missing"] == ["ghost-9"]),
        ("bad_counts", lambda r: r.json()["total"] == r.json()["updated"] + r.json()["failed"] + 1),
    ],
)
def test_metadata_answer_options_still_write(wsim, answer, check):
    wsim.set_options(metadata_answer=answer)
    r = post_meta(wsim, "visitor", "custom", MIXED)
    assert r.status_code == 200 and check(r)
    assert wsim.store.metadata("visitor", "visitor-30")["custom"]["plan"] == "pro"


@pytest.mark.parametrize("answer", ["html", "empty", "list"])
def test_bulk_delete_answer_options_still_delete(wsim, answer):
    wsim.set_options(bulk_delete_answer=answer)
    r = requests.post(
        wsim.url + "/api/v1/bulkdelete/visitor",
        json={"visitors": ["visitor-40"]},
        headers=auth_headers(wsim),
    )
    assert r.status_code == 200
    assert "id" not in (r.text or "")
    assert wsim.deleted_ids["visitor"] == ["visitor-40"]


def test_iso_only_time_values(wsim):
    wsim.set_options(time_values="iso_only")
    body = [
        {"visitorId": "visitor-32", "values": {"renewaldate": "2026-05-01T00:00:00Z"}},
        {"visitorId": "visitor-33", "values": {"renewaldate": 1777593600000}},
    ]
    d = post_meta(wsim, "visitor", "custom", body).json()
    assert d["updated"] == 1 and "expects time" in d["errors"][0]
    assert wsim.store.metadata("visitor", "visitor-32")["custom"]["renewaldate"] == 1777593600000
    assert wsim.store.metadata("visitor", "visitor-33") == {}


def test_time_values_read_iso_returns_written_times_as_iso_text(wsim):
    """`time_values_read="iso"`: reads return `time` values outside `auto` as ISO 8601 text
    (aggregation, entity GET, single-value GET); "ms" (the default) returns the stored ms."""
    body = [{"visitorId": "visitor-34", "values": {"renewaldate": "2026-01-02T03:04:05.678Z"}}]
    assert post_meta(wsim, "visitor", "custom", body).json()["updated"] == 1
    stored = 1767323045678
    value_url = f"{wsim.url}/api/v1/metadata/visitor/custom/value/visitor-34/renewaldate"
    pipeline = [{"source": {"visitors": None}}, {"filter": 'visitorId == "visitor-34"'}]

    def reads():
        row = results(wsim, pipeline)[0]["metadata"]
        entity = requests.get(
            wsim.url + "/api/v1/visitor/visitor-34", headers=auth_headers(wsim)
        ).json()
        single = requests.get(value_url, headers=auth_headers(wsim)).json()
        return row, entity["metadata"], single

    row, entity, single = reads()
    assert row["custom"]["renewaldate"] == entity["custom"]["renewaldate"] == single == stored
    truth = wsim.dataset.visitor("visitor-34")["metadata"]
    r = requests.post(wsim.url + "/_sim/options", json={"time_values_read": "iso"})
    assert r.status_code == 200 and r.json()["time_values_read"] == "iso"
    row, entity, single = reads()
    iso = "2026-01-02T03:04:05.678Z"
    assert row["custom"]["renewaldate"] == entity["custom"]["renewaldate"] == single == iso
    signup = truth["agent"]["signupdate"]
    assert row["agent"]["signupdate"] == entity["agent"]["signupdate"]
    assert row["agent"]["signupdate"].endswith("Z") and isinstance(signup, int)
    # Pendo's own `auto` timestamps stay epoch ms: its filters compare them with numbers.
    assert row["auto"] == truth["auto"] and isinstance(row["auto"]["lastupdated"], int)
    assert row["auto__323232"] == truth["auto__323232"]
    # The store keeps epoch ms whatever reads return.
    assert wsim.store.metadata("visitor", "visitor-34")["custom"]["renewaldate"] == stored
    accounts = results(wsim, [{"source": {"accounts": {"appId": 'expandAppIds("*")'}}}])
    assert all(isinstance(a["metadata"]["custom"]["renewaldate"], str) for a in accounts)
    with pytest.raises(ValueError, match="time_values_read"):
        wsim.set_options(time_values_read="epoch")


def test_unknown_option_values_are_refused(wsim):
    with pytest.raises(ValueError, match="metadata_answer"):
        wsim.set_options(metadata_answer="xml")
    assert wsim.options.metadata_answer == "json"


def test_per_visitor_track_limit_drops_silently():
    with Simulator(DatasetConfig(visitors=5, accounts=2), track_min_interval_per_visitor_s=30) as s:
        now = s.dataset.now_ms
        for n, vid in enumerate(["a", "a", "b"]):
            body = {
                "type": "track",
                "event": "e",
                "visitorId": vid,
                "timestamp": now - n,
                "context": {},
            }
            assert track(s, body).status_code == 200
        assert [e["visitorId"] for e in s.store.track_events] == ["a", "b"]
        assert [e["visitorId"] for e in s.store.throttled_track_events] == ["a"]
