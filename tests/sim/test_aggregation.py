"""Aggregation: envelope, sources, operators, keyset paging over ties, timezone/DST, totals."""

import requests

from pendo_sim import DatasetConfig, Simulator
from tests.helpers.sim_requests import agg, auth_headers, results

ALL = 'expandAppIds("*")'


def ts(first, count=None, last=None, period="dayRange"):
    t = {"period": period, "first": first}
    if count is not None:
        t["count"] = count
    if last is not None:
        t["last"] = last
    return t


def test_envelope_errors(msim):
    url = msim.url + "/api/v1/aggregation"
    bad = [
        b"not json",
        b"[]",
        b'{"request": {}}',
        b'{"request": {"pipeline": []}}',
        b'{"request": {"pipeline": [{"limit": 1}]}}',
        b'{"request": {"pipeline": [{"source": {"nope": null}}]}}',
        b'{"request": {"pipeline": [{"source": {"visitors": null}}, {"frobnicate": 1}]}}',
        b'{"request": {"pipeline": [{"source": {"visitors": null}}, {"filter": "a =="}]}}',
        b'{"request": {"pipeline": [{"source": {"pageEvents": null}}]}}',
        b'{"request": {"pipeline": [{"source": {"pageEvents": null, "timeSeries": {"period": "weekly", "first": 1, "count": 1}}}]}}',
    ]
    for body in bad:
        r = requests.post(url, data=body, headers=auth_headers(msim))
        assert r.status_code == 400, body
        assert r.text and len(r.text) < 300


def test_requests_plural_and_response_shape(msim):
    body = {
        "response": {"mimeType": "application/json"},
        "requests": [{"pipeline": [{"source": {"visitors": None}}, {"count": None}]}],
    }
    r = requests.post(msim.url + "/api/v1/aggregation", json=body, headers=auth_headers(msim))
    assert r.status_code == 200 and r.headers.get("Transfer-Encoding") == "chunked"
    data = r.json()
    assert set(data) == {"startTime", "results"}
    assert data["results"] == [{"count": 320}]


def test_read_only_key_can_aggregate(msim):
    r = agg(msim, [{"source": {"accounts": None}}, {"count": None}], key=msim.read_only_key)
    assert r.status_code == 200 and r.json()["results"] == [{"count": 40}]


def test_visitors_identified_and_ground_truth(msim):
    ds = msim.dataset
    every = results(msim, [{"source": {"visitors": None}}])
    assert len(every) == 320
    ident = results(msim, [{"source": {"visitors": None}}, {"identified": "visitorId"}])
    assert len(ident) == 300 and not any(v["visitorId"].startswith("_PENDO_T_") for v in ident)
    anon = results(msim, [{"source": {"visitors": None}}, {"identified": "!visitorId"}])
    assert len(anon) == 20
    opt = results(msim, [{"source": {"visitors": {"identified": True}}}])
    assert sorted(v["visitorId"] for v in opt) == sorted(v["visitorId"] for v in ident)
    truth = {v["visitorId"]: v for v in ds.visitors(identified_only=True)}
    assert {v["visitorId"]: v for v in ident} == truth
    assert any(v["metadata"].get("pendo", {}).get("donotprocess") for v in ident)
    assert any("lastupdated" not in v["metadata"]["auto"] for v in ident)
    assert any(v["metadata"]["auto"].get("lastupdated", 0) is None for v in ident)


def test_entity_sources_and_app_params(msim):
    ds = msim.dataset
    assert len(results(msim, [{"source": {"pages": None}}])) == 15
    for form in (ALL, "expandAppIds(`*`)", [-323232, ds.apps[1]], [str(a) for a in ds.apps]):
        got = results(msim, [{"source": {"pages": {"appId": form}}}])
        assert got == ds.pages(), form
    assert {
        p["appId"] for p in results(msim, [{"source": {"features": {"appId": ds.apps[1]}}}])
    } == {ds.apps[1]}
    polls = results(
        msim,
        [
            {"source": {"guides": {"appId": ALL}}},
            {"filter": "!isNull(polls[0].id)"},
            {"select": {"guideId": "id", "pollId": "polls[0].id"}},
        ],
    )
    assert polls and all(set(p) == {"guideId", "pollId"} and p["pollId"] for p in polls)
    tt = results(msim, [{"source": {"trackTypes": {"appId": ALL}}}, {"count": None}])
    assert tt == [{"count": 8}]


def test_operators(msim):
    base = [{"source": {"accounts": None}}]
    rows = results(
        msim,
        base
        + [
            {"sort": ["-metadata.custom.seats", "accountId"]},
            {"limit": 5},
            {"select": {"id": "accountId", "seats": "metadata.custom.seats"}},
        ],
    )
    assert len(rows) == 5 and [r["seats"] for r in rows] == sorted(
        (r["seats"] for r in rows), reverse=True
    )
    ev = results(msim, base + [{"eval": {"double": "metadata.custom.seats * 2"}}, {"limit": 3}])
    assert all(r["double"] == 2 * r["metadata"]["custom"]["seats"] for r in ev)
    grp = results(
        msim,
        base
        + [
            {
                "group": {
                    "group": ["metadata.custom.tier"],
                    "fields": {"n": {"count": None}, "s": {"sum": "metadata.custom.seats"}},
                }
            }
        ],
    )
    all_rows = msim.dataset.accounts()
    assert sum(g["n"] for g in grp) == 40
    assert sum(g["s"] for g in grp) == sum(a["metadata"]["custom"]["seats"] for a in all_rows)
    red = results(
        msim,
        base
        + [{"reduce": [{"n": {"count": "accountId"}}, {"s": {"sum": "metadata.custom.seats"}}]}],
    )
    assert red == [{"n": 40, "s": sum(a["metadata"]["custom"]["seats"] for a in all_rows)}]
    assert (
        results(msim, base + [{"filter": 'accountId == "Acme \\"Quoted\\" Corp"'}])[0]["accountId"]
        == 'Acme "Quoted" Corp'
    )
    assert results(msim, base + [{"limit": 0}]) == []


def test_sort_nulls_first_and_stable(msim):
    rows = results(
        msim,
        [
            {"source": {"visitors": None}},
            {"identified": "visitorId"},
            {"sort": ["metadata.auto.lastupdated"]},
        ],
    )
    lus = [r["metadata"]["auto"].get("lastupdated") for r in rows]
    assert lus[:3] == [None, None, None]
    assert lus[3:] == sorted(lus[3:])
    desc = results(
        msim,
        [
            {"source": {"visitors": None}},
            {"identified": "visitorId"},
            {"sort": ["-metadata.auto.lastupdated", "visitorId"]},
        ],
    )
    lus = [r["metadata"]["auto"].get("lastupdated") for r in desc]
    assert lus[-3:] == [None, None, None]
    # sort on a field that is not a presorted order still works
    by_email = results(
        msim,
        [
            {"source": {"visitors": None}},
            {"identified": "visitorId"},
            {"sort": ["metadata.agent.email", "visitorId"]},
        ],
    )
    assert len(by_email) == 300


def keyset_pages(sim, limit, ts_field="metadata.auto.lastupdated"):
    """Estuary-style paging: (lastupdated, visitorId) cursor with ties, small limit."""
    seen = []
    cursor = None
    for requests_made in range(1, 10_001):  # a cursor that never advances must not loop for ever
        pipe = [{"source": {"visitors": None}}, {"identified": "visitorId"}]
        if cursor is None:
            pipe.append({"filter": f"{ts_field} >= 0"})
        else:
            lu, vid = cursor
            esc = vid.replace("\\", "\\\\").replace('"', '\\"')
            pipe.append(
                {"filter": f'{ts_field} > {lu} || ({ts_field} == {lu} && visitorId > "{esc}")'}
            )
        pipe += [{"sort": [ts_field, "visitorId"]}, {"limit": limit}]
        batch = results(sim, pipe)
        seen += batch
        if len(batch) < limit:
            return seen, requests_made
        last = batch[-1]
        cursor = (last["metadata"]["auto"]["lastupdated"], last["visitorId"])
    raise AssertionError("keyset paging did not end after 10,000 pages")


def test_keyset_paging_over_ties_returns_every_identified_visitor_once():
    with Simulator(
        DatasetConfig(visitors=500, anonymous_visitors=30, lastupdated_tie_group=40)
    ) as s:
        seen, n = keyset_pages(s, 7)
        ids = [r["visitorId"] for r in seen]
        assert len(ids) == len(set(ids))
        truth = {
            v["visitorId"]
            for v in s.dataset.visitors(identified_only=True)
            if v["metadata"]["auto"].get("lastupdated") is not None
        }
        assert set(ids) == truth and n > 60
        # tap-pendo style paging on visitorId alone
        seen2, cursor = [], None
        for _ in range(1_000):
            pipe = [{"source": {"visitors": None}}, {"identified": "visitorId"}]
            if cursor is not None:
                esc = cursor.replace("\\", "\\\\").replace('"', '\\"')
                pipe.append({"filter": f'visitorId > "{esc}"'})
            batch = results(s, pipe + [{"sort": ["visitorId"]}, {"limit": 50}])
            seen2 += [r["visitorId"] for r in batch]
            if len(batch) < 50:
                break
            cursor = batch[-1]["visitorId"]
        else:
            raise AssertionError("visitorId paging did not end after 1,000 pages")
        assert len(seen2) == 500 and set(seen2) == {v["visitorId"] for v in s.dataset.visitors()}


def test_ties_exist_in_lastupdated(msim):
    lus = [v["metadata"]["auto"].get("lastupdated") for v in msim.dataset.visitors(False)]
    from collections import Counter

    assert max(Counter(x for x in lus if x is not None).values()) == 50


def test_touch_moves_visitors_to_the_end(msim):
    ds = msim.dataset
    now = ds.cfg.start_ms + 5 * 86_400_000
    ds.touch_visitors(["visitor-30", "émilie"], now)
    rows = results(
        msim,
        [
            {"source": {"visitors": None}},
            {"identified": "visitorId"},
            {"filter": f"metadata.auto.lastupdated >= {now}"},
            {"sort": ["metadata.auto.lastupdated", "visitorId"]},
        ],
    )
    assert [r["visitorId"] for r in rows] == ["visitor-30", "émilie"]


def test_dst_day_is_23_hours_and_totals_match(msim):
    ds = msim.dataset
    start, end = ds.event_range()
    d8 = ds.clock.date_ms(2026, 3, 8)
    d9 = ds.clock.date_ms(2026, 3, 9)
    assert d9 - d8 == 23 * 3_600_000
    for source in ("pageEvents", "featureEvents", "trackEvents", "events"):
        rows = results(msim, [{"source": {source: {"appId": ALL}, "timeSeries": ts(d8, 1)}}])
        hours = results(
            msim,
            [{"source": {source: {"appId": ALL}, "timeSeries": ts(d8, 23, period="hourRange")}}],
        )
        assert {r["day"] for r in rows} == {d8}
        assert {r["hour"] for r in hours} <= {d8 + h * 3_600_000 for h in range(23)}
        assert len({r["hour"] for r in hours}) > 12
        t = ds.event_totals(source, d8, d9)
        assert t["rows"] == len(rows) == len(hours)
        assert (
            t["numEvents"]
            == sum(r["numEvents"] for r in rows)
            == sum(r["numEvents"] for r in hours)
        )
        full = ds.event_totals(source, start, end)
        assert full == ds.event_totals(source, start, end, "hourRange")
    # March 6 and 7 are EST (UTC-5) days; midnight = 05:00Z
    assert ds.cfg.start_ms % 86_400_000 == 5 * 3_600_000


def test_time_series_forms(msim):
    ds = msim.dataset
    d6, d7 = ds.cfg.start_ms, ds.clock.date_ms(2026, 3, 7)
    base = ds.event_totals("pageEvents", d6, d7, app_ids=[-323232])
    forms = [
        ts(d6, 1),
        ts(str(d6), 1),
        ts("date(2026, 3, 6)", 1),
        ts(d6 + 3_600_000 * 5, 1),
        ts(d7, -1),
        ts(d6, last=d7),
        ts(d6, last=str(d7)),
        ts(d6, last=d7 - 1),
        ts("date(2026, 3, 7) - 1 * 1000 * 60 * 60 * 24", 1),
        ts(d6, 24, period="hourRange"),
    ]
    for form in forms:
        r = agg(msim, [{"source": {"pageEvents": None, "timeSeries": form}}])
        assert r.status_code == 200, (form, r.text)
        data = r.json()
        assert data["startTime"] == d6, form
        assert len(data["results"]) == base["rows"], form
    now_form = agg(msim, [{"source": {"pageEvents": None, "timeSeries": ts("now()", -1)}}])
    assert now_form.status_code == 200 and now_form.json()["results"] == []


def test_event_rows_shape_and_twins(msim):
    ds = msim.dataset
    start, end = ds.event_range()
    rows = list(ds.event_rows("pageEvents", start, end))
    keys = {
        (
            r["day"],
            r["visitorId"],
            r["accountId"],
            r["appId"],
            r["pageId"],
            r["server"],
            r["remoteIp"],
            r["userAgent"],
        )
        for r in rows
    }
    assert len(keys) == len(rows)
    for drop in ("server", "remoteIp", "userAgent"):
        fields = [
            f
            for f in (
                "day",
                "visitorId",
                "accountId",
                "appId",
                "pageId",
                "server",
                "remoteIp",
                "userAgent",
            )
            if f != drop
        ]
        assert len({tuple(r[f] for f in fields) for r in rows}) < len(rows), drop
    assert any("parameters" in r for r in rows)
    tr = next(ds.event_rows("trackEvents", start, end))
    assert "trackTypeId" in tr and "properties" in tr and "lastTime" in tr
    ge = list(ds.event_rows("guideEvents", start, end))
    assert len(ge) == 600
    bts = [g["browserTime"] for g in ge]
    assert len(set(bts)) < len(bts)
    for k in (
        "browserTime",
        "guideTimestamp",
        "type",
        "guideId",
        "guideStepId",
        "url",
        "remoteIp",
        "serverName",
        "userAgent",
        "country",
        "region",
        "latitude",
        "longitude",
        "loadTime",
        "accountIds",
    ):
        assert k in ge[0]
    pe = list(ds.event_rows("pollEvents", start, end))
    assert len(pe) == 150 and all(p["pollId"] and "pollResponse" in p for p in pe)
    assert (
        results(msim, [{"source": {"guideEvents": {"appId": ALL}, "timeSeries": ts(start, 3)}}])
        == ge
    )


def test_events_never_in_future_of_now():
    cfg = DatasetConfig(visitors=50, accounts=5, anonymous_visitors=0)
    with Simulator(cfg, now_ms=cfg.start_ms + 36 * 3_600_000) as s:
        rows = results(
            s, [{"source": {"pageEvents": {"appId": ALL}, "timeSeries": ts(cfg.start_ms, 3)}}]
        )
        assert rows and all(r["lastTime"] <= s.dataset.now_ms for r in rows)
        assert len(rows) < 1500
        assert (
            len(rows)
            == s.dataset.event_totals("pageEvents", cfg.start_ms, cfg.start_ms + 4 * 86_400_000)[
                "rows"
            ]
        )
        s.set_now(cfg.start_ms + 10 * 86_400_000)
        more = results(
            s, [{"source": {"pageEvents": {"appId": ALL}, "timeSeries": ts(cfg.start_ms, 3)}}]
        )
        assert len(more) == 1500


def test_expected_endpoint(msim):
    start, end = msim.dataset.event_range()
    got = requests.get(
        msim.url + f"/_sim/expected?what=event_totals&source=pageEvents&first={start}&last={end}"
    ).json()
    assert got == msim.dataset.event_totals("pageEvents", start, end)
    vis = requests.get(msim.url + "/_sim/expected?what=visitors").json()
    assert len(vis) == 300


def test_polls_seen_ever(msim):
    ds = msim.dataset
    rows = results(msim, [{"source": {"pollsSeenEver": None}}])
    assert rows == ds.polls_seen_ever() and rows
    pid = rows[0]["pollId"]
    gid = rows[0]["guideId"]
    some = results(
        msim,
        [
            {"source": {"pollsSeenEver": {"guideId": gid, "pollId": pid}}},
            {"select": {"visitorId": "visitorId", "response": "response"}},
        ],
    )
    assert some and len(some) <= len(rows)


def test_hour_windows_sum_to_day_totals(msim):
    ds = msim.dataset
    d8, d9 = ds.clock.date_ms(2026, 3, 8), ds.clock.date_ms(2026, 3, 9)
    for source in ("pageEvents", "trackEvents", "guideEvents"):
        day = ds.event_totals(source, d8, d9)
        hours = [
            ds.event_totals(source, h, h + 3_600_000, "hourRange") for h in range(d8, d9, 3_600_000)
        ]
        assert len(hours) == 23
        assert sum(h["rows"] for h in hours) == day["rows"]
        assert sum(h["numEvents"] for h in hours) == day["numEvents"]
    # one hour over HTTP equals the ground truth for that hour
    h = d8 + 5 * 3_600_000
    rows = results(
        msim,
        [{"source": {"featureEvents": {"appId": ALL}, "timeSeries": ts(h, 1, period="hourRange")}}],
    )
    assert len(rows) == ds.event_totals("featureEvents", h, h + 3_600_000, "hourRange")["rows"]
    assert {r["hour"] for r in rows} == {h}
