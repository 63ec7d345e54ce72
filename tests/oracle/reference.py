"""An independent reference for tap-pendo's output: expected rows of every stream.

It shares no code with `pendo_sim` or the plugins. Its only input is the simulator's RAW
generated data (`Raw`: the hourly event atoms and per-event rows before any query logic,
the visitor/account/catalog rows as generated, the metadata schemas, the visitor-history
generator) plus the facts a Pendo user knows: the subscription's timezone, the tap's config.
From those it computes, with naive loops, what each stream must emit: it groups events by
visitor, account, object and local day (or hour) in the subscription's zone with `zoneinfo`,
filters on start_date and lastupdated, and flattens schemas.

Adding a stream is one function: write `expected_<stream>(raw, params) -> list[dict]` and
register it in `STREAMS` with its natural key (the fields that identify a row). The coverage
test fails for any stream the tap discovers without an entry here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


@dataclass
class Raw:
    """The simulator's raw generated data, read once (see `from_dataset`)."""

    timezone: str
    events: dict[str, list[dict]]  # source -> atoms (hour, no day) or per-event rows
    visitors: list[dict]  # {"visitorId", "metadata"} as generated
    accounts: list[dict]
    # pages, features, guides, track_types, reports, applications, segments
    catalog: dict[str, list[dict]]
    schemas: dict[str, dict]  # kind -> group -> field -> descriptor
    history: Callable[[str, int], list[dict]]  # (visitorId, starttime) -> items

    @classmethod
    def from_dataset(cls, ds: Any) -> Raw:  # ds: a pendo_sim Dataset, read only
        sources = ("pageEvents", "featureEvents", "trackEvents", "guideEvents", "pollEvents")
        from pendo_sim.server import visitor_history  # the raw history generator

        return cls(
            timezone=ds.cfg.timezone,
            events={s: ds.raw_events(s) for s in sources},
            visitors=[ds.visitor_table.row(j) for j in range(len(ds.visitor_table.ids))],
            accounts=[ds.account_table.row(j) for j in range(len(ds.account_table.ids))],
            catalog={
                "pages": list(ds.page_rows),
                "features": list(ds.feature_rows),
                "guides": list(ds.guide_rows),
                "track_types": list(ds.track_type_rows),
                "reports": list(ds.report_rows),
                "applications": list(ds.app_rows),
                "segments": list(ds.segment_rows),
            },
            schemas=dict(ds.schemas),
            history=lambda vid, start: visitor_history(ds, vid, start),
        )


@dataclass
class Params:
    """What the tap was told, in ms: start_date; `now_ms`, the simulator's clock (Pendo holds
    nothing later); `end_ms`, the tap's end_date (None: none given); and options."""

    start_ms: int
    now_ms: int
    end_ms: int | None = None
    period: str = "dayRange"
    include_anonymous_visitors: bool = False
    extra: dict = field(default_factory=dict)


# -- time in the subscription's zone ---------------------------------------------------------


def local_day(ms: int, timezone: str) -> int:
    """Epoch ms of the local midnight starting the day that holds `ms`."""
    zone = ZoneInfo(timezone)
    date = dt.datetime.fromtimestamp(ms / 1000, tz=zone).date()
    return int(dt.datetime.combine(date, dt.time(0), tzinfo=zone).timestamp() * 1000)


def local_hour(ms: int) -> int:
    """Start of the hour holding `ms`: every zone Pendo offers has whole-hour offsets here."""
    return ms - ms % HOUR_MS


def _period_start(ms: int, period: str, raw: Raw) -> int:
    return local_hour(ms) if period == "hourRange" else local_day(ms, raw.timezone)


def _read_from(params: Params, raw: Raw) -> int:
    """The tap reads whole periods from the one holding start_date."""
    return _period_start(params.start_ms, params.period, raw)


def _read_before(params: Params, raw: Raw, period: str) -> int | None:
    """end_date is exclusive for event streams: they stop before the (local) period holding
    it, which belongs to the run whose start_date it is. None: no end_date. (The tap's own
    clock is the wall clock, always later than these data sets' end_date.)"""
    if params.end_ms is None:
        return None
    return _period_start(params.end_ms, period, raw)


# -- event streams ---------------------------------------------------------------------------

_AGG_KEY = ("visitorId", "accountId", "appId", "server", "remoteIp", "userAgent")


def _grouped(raw: Raw, params: Params, source: str, entity: str) -> list[dict]:
    """Sum numEvents and numMinutes, keep the latest lastTime, per key and local period."""
    period_field = "hour" if params.period == "hourRange" else "day"
    lo = _read_from(params, raw)
    hi = _read_before(params, raw, params.period)
    groups: dict[tuple, dict] = {}
    for atom in raw.events[source]:
        if atom["lastTime"] > params.now_ms:
            continue  # not yet happened at the tap's `now`
        if period_field == "day":
            start = local_day(atom["hour"], raw.timezone)
        else:
            start = local_hour(atom["hour"])
        if start < lo or (hi is not None and start >= hi):
            continue
        parameters = atom.get("parameters")
        key = (
            *(atom[k] for k in _AGG_KEY),
            atom[entity],
            json.dumps(parameters, sort_keys=True),
            start,
        )
        row = groups.get(key)
        if row is None:
            row = {k: atom[k] for k in _AGG_KEY}
            row[entity] = atom[entity]
            row[period_field] = start
            row["numEvents"] = 0
            row["numMinutes"] = 0
            row["lastTime"] = atom["lastTime"]
            if parameters is not None:
                row["parameters"] = parameters
            groups[key] = row
        row["numEvents"] += atom["numEvents"]
        row["numMinutes"] += atom["numMinutes"]
        row["lastTime"] = max(row["lastTime"], atom["lastTime"])
        if "properties" in atom:
            row["properties"] = atom["properties"]
    return list(groups.values())


def expected_page_events(raw: Raw, params: Params) -> list[dict]:
    return _grouped(raw, params, "pageEvents", "pageId")


def expected_feature_events(raw: Raw, params: Params) -> list[dict]:
    return _grouped(raw, params, "featureEvents", "featureId")


def expected_track_events(raw: Raw, params: Params) -> list[dict]:
    return _grouped(raw, params, "trackEvents", "trackTypeId")


def expected_events(raw: Raw, params: Params) -> list[dict]:
    """Pendo's `events` source: page rows and feature rows together, the other id null."""
    rows = []
    for row in expected_page_events(raw, params):
        rows.append({**row, "featureId": None})
    for row in expected_feature_events(raw, params):
        rows.append({**row, "pageId": None})
    return rows


def _row_events(raw: Raw, params: Params, source: str) -> list[dict]:
    lo = local_day(params.start_ms, raw.timezone)  # whole local days from start_date's
    hi = _read_before(params, raw, "dayRange")  # these sources are read by day
    rows = []
    for event in raw.events[source]:
        if hi is not None and event["browserTime"] >= hi:
            continue
        if lo <= event["browserTime"] <= params.now_ms:
            row = dict(event)
            response = row.get("pollResponse")
            if response is not None and not isinstance(response, str):
                row["pollResponse"] = json.dumps(response)  # documented: one text column
            rows.append(row)
    return rows


def expected_guide_events(raw: Raw, params: Params) -> list[dict]:
    return _row_events(raw, params, "guideEvents")


def expected_poll_events(raw: Raw, params: Params) -> list[dict]:
    return _row_events(raw, params, "pollEvents")


# -- objects ---------------------------------------------------------------------------------


def _lastupdated(row: dict) -> int | None:
    return ((row.get("metadata") or {}).get("auto") or {}).get("lastupdated")


def _identified(visitor_id: str) -> bool:
    return not visitor_id.startswith("_PENDO_T_")


def _changed(rows: list[dict], id_field: str, params: Params) -> list[dict]:
    """A first run: rows without lastupdated, and rows updated at or after start_date."""
    out = []
    for row in rows:
        value = _lastupdated(row)
        if value is None or value >= params.start_ms:
            out.append({id_field: row[id_field], "metadata": row["metadata"], "lastupdated": value})
    return out


def expected_visitors(raw: Raw, params: Params) -> list[dict]:
    rows = [
        v for v in raw.visitors if params.include_anonymous_visitors or _identified(v["visitorId"])
    ]
    return _changed(rows, "visitorId", params)


def expected_accounts(raw: Raw, params: Params) -> list[dict]:
    return _changed(raw.accounts, "accountId", params)


def _catalog(name: str) -> Callable[[Raw, Params], list[dict]]:
    def expected(raw: Raw, params: Params) -> list[dict]:
        return [
            dict(row)
            for row in raw.catalog[name]
            if row.get("lastUpdatedAt") is None or row["lastUpdatedAt"] >= params.start_ms
        ]

    expected.__name__ = f"expected_{name}"
    return expected


def expected_reports(raw: Raw, params: Params) -> list[dict]:  # full table
    return [dict(row) for row in raw.catalog["reports"]]


def expected_metadata_fields(raw: Raw, params: Params) -> list[dict]:
    rows = []
    for kind, groups in raw.schemas.items():
        for group, fields in groups.items():
            for name, descriptor in fields.items():
                rows.append({**descriptor, "kind": kind, "group": group, "field": name})
    return rows


def expected_visitor_history(raw: Raw, params: Params) -> list[dict]:
    """Every visitor (first run: no lastupdated filter), in 24-hour steps from start_date."""
    rows = []
    for visitor in raw.visitors:
        vid = visitor["visitorId"]
        if not (params.include_anonymous_visitors or _identified(vid)):
            continue
        for start in range(params.start_ms, params.now_ms, DAY_MS):
            for item in raw.history(vid, start):
                rows.append({**item, "visitorId": vid, "visitorLastUpdated": _lastupdated(visitor)})
    return rows


# -- applications, segments and the objects nested in other objects ---------------------------


def _nested_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _children(
    parent: str, label: str, take: Callable[[dict], list[dict]]
) -> Callable[[Raw, Params], list[dict]]:
    """Rows nested in each `parent` object changed at or after start_date (a first run), each
    with the parent's id and lastUpdatedAt under `<label>Id` and `<label>LastUpdatedAt`. A
    parent without lastUpdatedAt has no version to key its children on: none are emitted."""

    def expected(raw: Raw, params: Params) -> list[dict]:
        rows = []
        for obj in raw.catalog[parent]:
            updated = obj.get("lastUpdatedAt")
            if updated is None or updated < params.start_ms:
                continue
            for child in take(obj):
                rows.append({**child, f"{label}Id": obj["id"], f"{label}LastUpdatedAt": updated})
        return rows

    return expected


def _rule_dicts(obj: dict) -> list[dict]:
    rules = _nested_list(obj.get("rules"))
    return [{**rule, "position": k} for k, rule in enumerate(rules) if isinstance(rule, dict)]


def _rule_strings(field_name: str) -> Callable[[dict], list[dict]]:
    def take(obj: dict) -> list[dict]:
        rules = _nested_list(obj.get(field_name))
        return [{"position": k, "rule": rule} for k, rule in enumerate(rules)]

    return take


def _with_id(field_name: str) -> Callable[[dict], list[dict]]:
    def take(obj: dict) -> list[dict]:
        items = _nested_list(obj.get(field_name))
        return [dict(item) for item in items if isinstance(item, dict) and item.get("id")]

    return take


expected_page_rules = _children("pages", "page", _rule_dicts)
expected_feature_rules = _children("features", "feature", _rule_strings("elementPathRules"))
expected_track_type_rules = _children("track_types", "trackType", _rule_strings("trackTypeRules"))
expected_guide_steps = _children("guides", "guide", _with_id("steps"))
expected_polls = _children("guides", "guide", _with_id("polls"))


def expected_product_areas(raw: Raw, params: Params) -> list[dict]:
    """Every version (id, lastUpdatedAt) of the `group` of any page or feature, whatever
    start_date (an old area is still the area of pages changed since); `appId` is the one app
    of the pages and features holding that version, null when they span apps."""
    versions: dict[tuple, dict] = {}
    apps: dict[tuple, set] = {}
    for name in ("pages", "features"):
        for obj in raw.catalog[name]:
            group = obj.get("group")
            if not isinstance(group, dict) or not group.get("id"):
                continue
            key = (group["id"], group.get("lastUpdatedAt"))
            if key in versions and _norm(versions[key]) != _norm(group):
                raise AssertionError(f"product area version {key} nested with two contents")
            versions[key] = group
            apps.setdefault(key, set()).add(obj.get("appId"))
    rows = []
    for key, group in versions.items():
        (app,) = apps[key] if len(apps[key]) == 1 else (None,)
        rows.append({**group, "appId": app})
    return rows


def expected_pendo_users(raw: Raw, params: Params) -> list[dict]:  # full table
    """The createdByUser/lastUpdatedByUser of every catalog object and of its product area."""
    users: dict[str, dict] = {}
    for name in ("pages", "features", "guides", "track_types", "reports"):
        for obj in raw.catalog[name]:
            group = obj.get("group")
            for holder in (obj, group if isinstance(group, dict) else {}):
                for role in ("createdByUser", "lastUpdatedByUser"):
                    user = holder.get(role)
                    if not isinstance(user, dict) or not user.get("id"):
                        continue
                    if user["id"] in users and _norm(users[user["id"]]) != _norm(user):
                        raise AssertionError(f"Pendo user {user['id']!r} nested twice, differing")
                    users[user["id"]] = user
    return [dict(user) for user in users.values()]


def expected_visitor_accounts(raw: Raw, params: Params) -> list[dict]:
    """One row per account in the `metadata.auto.accountids` of each visitor the visitors
    stream emits (`accountid` when there is no list), first occurrence only, as text."""
    rows = []
    for visitor in expected_visitors(raw, params):
        auto = (visitor["metadata"] or {}).get("auto") or {}
        listed = auto.get("accountids")
        if not isinstance(listed, list):
            listed = [auto["accountid"]] if auto.get("accountid") else []
        accounts: list[str] = []
        for account in listed:
            if account not in (None, "") and str(account) not in accounts:
                accounts.append(str(account))
        for position, account in enumerate(accounts):
            rows.append(
                {
                    "visitorId": visitor["visitorId"],
                    "accountId": account,
                    "position": position,
                    "visitorLastUpdatedAt": visitor["lastupdated"] or 0,  # 0: Pendo's "never"
                }
            )
    return rows


def _norm(value: object) -> str:
    return json.dumps(value, sort_keys=True)


# -- the registry ----------------------------------------------------------------------------

_AGG_NATURAL = ("visitorId", "accountId", "appId", "server", "remoteIp", "userAgent")
_ROW_NATURAL = (
    "guideId",
    "guideStepId",
    "visitorId",
    "type",
    "browserTime",
    "guideTimestamp",
    "remoteIp",
    "url",
    "loadTime",
)

# stream -> (expected rows, natural key fields; "@period" stands for `day` or `hour`)
STREAMS: dict[str, tuple[Callable[[Raw, Params], list[dict]], tuple[str, ...]]] = {
    "visitors": (expected_visitors, ("visitorId",)),
    "accounts": (expected_accounts, ("accountId",)),
    "pages": (_catalog("pages"), ("id",)),
    "features": (_catalog("features"), ("id",)),
    "guides": (_catalog("guides"), ("id",)),
    "track_types": (_catalog("track_types"), ("id",)),
    "reports": (expected_reports, ("id",)),
    "applications": (_catalog("applications"), ("id",)),
    "segments": (_catalog("segments"), ("id",)),
    "product_areas": (expected_product_areas, ("id", "lastUpdatedAt")),
    "pendo_users": (expected_pendo_users, ("id",)),
    "page_rules": (expected_page_rules, ("pageId", "pageLastUpdatedAt", "position")),
    "feature_rules": (expected_feature_rules, ("featureId", "featureLastUpdatedAt", "position")),
    "track_type_rules": (
        expected_track_type_rules,
        ("trackTypeId", "trackTypeLastUpdatedAt", "position"),
    ),
    "guide_steps": (expected_guide_steps, ("guideId", "guideLastUpdatedAt", "id")),
    "polls": (expected_polls, ("guideId", "guideLastUpdatedAt", "id")),
    "visitor_accounts": (
        expected_visitor_accounts,
        ("visitorId", "visitorLastUpdatedAt", "accountId"),
    ),
    "metadata_fields": (expected_metadata_fields, ("kind", "group", "field")),
    "events": (
        expected_events,
        (*_AGG_NATURAL, "pageId", "featureId", "parameters", "@period"),
    ),
    "page_events": (expected_page_events, (*_AGG_NATURAL, "pageId", "parameters", "@period")),
    "feature_events": (expected_feature_events, (*_AGG_NATURAL, "featureId", "@period")),
    "track_events": (expected_track_events, (*_AGG_NATURAL, "trackTypeId", "@period")),
    "guide_events": (expected_guide_events, _ROW_NATURAL),
    "poll_events": (expected_poll_events, (*_ROW_NATURAL, "pollId", "pollResponse")),
    "visitor_history": (
        expected_visitor_history,
        ("visitorId", "type", "ts", "lastTs", "pageId", "featureId", "guideId", "untaggedUrl"),
    ),
}


def natural_key(row: dict, fields: tuple[str, ...], period: str) -> tuple:
    period_field = "hour" if period == "hourRange" else "day"
    names = [period_field if f == "@period" else f for f in fields]
    return tuple(json.dumps(row.get(name), sort_keys=True) for name in names)
