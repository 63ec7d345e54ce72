"""Deterministic event "atoms" per (source, local day), generated lazily from a per-day RNG.

An atom is one aggregated row: within a day every atom has a distinct key
(visitorId, accountId, appId, entity id, server, remoteIp, userAgent), so a dayRange row is one
atom with `day` and an hourRange row is the same atom with `hour`. Some atoms are "twins" that
differ from another only by server, remoteIp or userAgent.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .hashing import seed_for
from .timeutil import HOUR_MS

if TYPE_CHECKING:
    from .dataset import Dataset

AGG_SOURCES = {"pageEvents": "pageId", "featureEvents": "featureId", "trackEvents": "trackTypeId"}
ROW_SOURCES = ("guideEvents", "pollEvents")
EVENT_SOURCES = (
    "events",
    "pageEvents",
    "featureEvents",
    "trackEvents",
    "guideEvents",
    "pollEvents",
)

SERVERS = ["app.example.com", "www.example.com", "eu.example.com"]
USER_AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/122.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/121.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
]
GUIDE_TYPES = ["guideSeen", "guideAdvanced", "guideDismissed", "guideActivity", "guideTimeout"]
GEO = [
    ("US", "NY", 40.71, -74.0),
    ("US", "NC", 35.7, -78.6),
    ("FR", "IDF", 48.85, 2.35),
    ("JP", "13", 35.68, 139.69),
    ("BR", "SP", -23.55, -46.63),
]


def aggregated_atoms(
    ds: Dataset, source: str, day_ms: int, hour_lo: int | None = None, hour_hi: int | None = None
) -> Iterator[dict]:
    """Atoms of one aggregated source (pageEvents/featureEvents/trackEvents) for one local day.

    Each local hour of the day has its own RNG and share of `event_rows_per_day`, so an hourRange
    query only generates the hours it covers ([hour_lo, hour_hi) when given). Atoms carry both
    `hour` and `day`; callers pick which one to expose."""
    cfg = ds.cfg
    entities = {
        "pageEvents": ds.page_rows,
        "featureEvents": ds.feature_rows,
        "trackEvents": ds.track_type_rows,
    }[source]
    n = cfg.event_rows_per_day
    if not entities or n <= 0 or ds.base_visitors == 0:
        return
    hours = ds.clock.hours_in_day(day_ms)
    per_hour, extra = divmod(n, hours)
    cap = per_hour + 1
    for h_idx in range(hours):
        hour = day_ms + h_idx * HOUR_MS
        if (hour_lo is not None and hour < hour_lo) or (hour_hi is not None and hour >= hour_hi):
            continue
        count = per_hour + (1 if h_idx < extra else 0)
        atoms = _hour_atoms(ds, source, entities, day_ms, hour, h_idx * cap, count)
        if ds.revisions:
            atoms = _revised(ds.revisions, source, atoms)
        yield from atoms


def _revised(revisions: list, source: str, atoms: Iterator[dict]) -> Iterator[dict]:
    """Late updates (`Dataset.revise_events`) applied to the atoms they match, in order."""
    for atom in atoms:
        for rev_source, match, changes in revisions:
            if rev_source == source and all(atom.get(k) == v for k, v in match.items()):
                atom.update(changes)
        yield atom


def _hour_atoms(
    ds: Dataset, source: str, entities: list, day_ms: int, hour: int, b0: int, n: int
) -> Iterator[dict]:
    field = AGG_SOURCES[source]
    rng = random.Random(seed_for(ds.cfg.seed, source, hour))
    nvis = ds.base_visitors
    vids = ds.visitor_table.ids
    account_of = ds.account_of_visitor
    n_ent = len(entities)
    emitted = 0
    b = b0
    rnd = rng.random
    while emitted < n:
        j = int(rnd() * nvis)
        ent = entities[int(rnd() * n_ent)]
        server = SERVERS[int(rnd() * 3)]
        ua_i = int(rnd() * 4)
        # remoteIp encodes a per-day unique counter, so base atoms never collide
        ip = f"10.{(b >> 16) & 255}.{(b >> 8) & 255}.{b & 255}" if b < 1 << 24 else f"fd00::{b:x}"
        ne = 1 + int(rnd() * rnd() * 40)
        atom = {
            "visitorId": vids[j],
            "accountId": account_of(j),
            "appId": ent["appId"],
            field: ent["id"],
            "server": server,
            "remoteIp": ip,
            "userAgent": USER_AGENTS[ua_i],
            "hour": hour,
            "day": day_ms,
            "numEvents": ne,
            "numMinutes": 1 + min(59, ne // 3),
            "lastTime": hour + int(rnd() * HOUR_MS),
        }
        if source == "pageEvents" and rnd() < 0.2:
            atom["parameters"] = {"parameter": f"q={int(rnd() * 50)}"}
        elif source == "trackEvents":
            atom["properties"] = {"plan": ["free", "pro", "enterprise"][b % 3], "amount": b % 100}
        emitted += 1
        twin = rnd()
        t = None
        if twin < 0.15 and emitted < n:
            # a twin differs from its atom ONLY by server, remoteIp or userAgent
            t = dict(atom)
            t["numEvents"] = 1 + (ne * 7) % 13
            t["lastTime"] = hour + int(rnd() * HOUR_MS)
            if twin < 0.05:
                t["server"] = SERVERS[(SERVERS.index(server) + 1) % 3]
            elif twin < 0.10:
                t["remoteIp"] = f"2001:db8::{b:x}"
            else:
                t["userAgent"] = USER_AGENTS[(ua_i + 1) % 4]
            emitted += 1
        yield atom
        if t is not None:
            yield t
        b += 1


def row_events(ds: Dataset, source: str, day_ms: int) -> Iterator[dict]:
    """guideEvents / pollEvents for one local day: one row per event, browserTime ascending."""
    cfg = ds.cfg
    n = cfg.guide_events_per_day if source == "guideEvents" else cfg.poll_events_per_day
    guides = ds.guide_rows if source == "guideEvents" else [g for g in ds.guide_rows if g["polls"]]
    if not guides or n <= 0 or ds.base_visitors == 0:
        return
    rng = random.Random(seed_for(cfg.seed, source, day_ms))
    day_len = ds.clock.next_day(day_ms) - day_ms
    gap = max(1, day_len // n)
    t = day_ms
    vids = ds.visitor_table.ids
    for k in range(n):
        if not (k > 0 and rng.random() < 0.1):  # ~10% share the previous browserTime
            t += rng.randrange(1, 2 * gap)
        if t >= day_ms + day_len:
            t = day_ms + day_len - 1
        g = guides[rng.randrange(len(guides))]
        step = g["steps"][rng.randrange(len(g["steps"]))]
        j = rng.randrange(ds.base_visitors)
        acc = ds.account_of_visitor(j)
        geo = GEO[rng.randrange(len(GEO))]
        server = SERVERS[rng.randrange(3)]
        row = {
            "visitorId": vids[j],
            "accountId": acc,
            "accountIds": [acc],
            "appId": g["appId"],
            "guideId": g["id"],
            "guideStepId": step["id"],
            "type": GUIDE_TYPES[rng.randrange(len(GUIDE_TYPES))],
            "browserTime": t,
            "guideTimestamp": t + rng.randrange(0, 2000),
            "url": f"https://{server}/page{rng.randrange(30)}",
            "remoteIp": f"192.0.2.{rng.randrange(256)}",
            "serverName": server,
            "userAgent": USER_AGENTS[rng.randrange(4)],
            "country": geo[0],
            "region": geo[1],
            "latitude": geo[2],
            "longitude": geo[3],
            "loadTime": rng.randrange(0, 3000),
        }
        if source == "pollEvents":
            poll = g["polls"][0]
            row["type"] = "pollResponse"
            row["pollId"] = poll["id"]
            row["pollResponse"] = (
                rng.randrange(11) if poll["numericResponses"] else f"answer {rng.randrange(5)}"
            )
        yield row


def source_rows(
    ds: Dataset,
    source: str,
    start_ms: int,
    end_ms: int,
    period: str,
    app_ids: set | None,
    entity_filter: dict | None,
    now_ms: int,
    delay_ms: int = 0,
) -> Iterator[dict]:
    """Rows of an event source over [start_ms, end_ms) (period 'day' or 'hour').

    With `delay_ms`, an hour's rows are served only `delay_ms` after the hour ends (late data).
    """
    cfg = ds.cfg
    arrived = now_ms - delay_ms
    ev_end = ds.event_end_ms
    first_day = ds.clock.day_floor(max(start_ms, cfg.first_day_ms))
    subs = ("pageEvents", "featureEvents") if source == "events" else (source,)
    for day in ds.clock.days_between(first_day, min(end_ms, ev_end)):
        if day < cfg.first_day_ms:
            continue
        for sub in subs:
            if sub in AGG_SOURCES:
                for a in aggregated_atoms(ds, sub, day, start_ms, end_ms):
                    h = a["hour"]
                    if h < start_ms or h >= end_ms or a["lastTime"] > now_ms:
                        continue
                    if delay_ms and h + HOUR_MS > arrived:
                        continue
                    if app_ids is not None and a["appId"] not in app_ids:
                        continue
                    if entity_filter and any(a.get(k) != v for k, v in entity_filter.items()):
                        continue
                    if period == "day":
                        del a["hour"]
                    else:
                        del a["day"]
                    yield a
            else:
                for r in row_events(ds, sub, day):
                    bt = r["browserTime"]
                    if bt < start_ms or bt >= end_ms or bt > now_ms:
                        continue
                    if delay_ms and bt - (bt - day) % HOUR_MS + HOUR_MS > arrived:
                        continue
                    if app_ids is not None and r["appId"] not in app_ids:
                        continue
                    if entity_filter and any(r.get(k) != v for k, v in entity_filter.items()):
                        continue
                    yield r
