"""The synthetic Pendo subscription: visitors, accounts, catalog entities, events; ground truth."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from .catalog import make_apps, make_awkward, make_segments
from .config import DEFAULT_APP_ID, DatasetConfig
from .entities import (
    app_ids,
    make_features,
    make_guides,
    make_pages,
    make_reports,
    make_schema,
    make_track_types,
)
from .events import AGG_SOURCES, ROW_SOURCES, aggregated_atoms, row_events, source_rows
from .hashing import mix, mix2
from .metatable import MetaTable
from .timeutil import DAY_MS, SubscriptionClock

SPECIAL_VISITOR_IDS = [
    'quote"visitor',
    "back\\slash\\visitor",
    "émilie",
    "用户",
    "🚀rocket",
    "o'brien",
    "space visitor",
    "tab\tvisitor",
    "<script>x</script>",
    'both\\"mixed',
    "ünïcödé-ü",
]
SPECIAL_ACCOUNT_IDS = ['Acme "Quoted" Corp', "Société Générale", "back\\slash acct"]
LANGS = ["en-US", "fr-FR", "ja-JP", "es_419", "de-DE"]
PLANS = ["free", "pro", "enterprise"]
BROWSERS = [
    ("Chrome", "122.0.6261", "Mac OS X"),
    ("Firefox", "123.0", "Linux"),
    ("Safari", "17.3", "iOS"),
    ("Edge", "121.0.2277", "Windows"),
]
_PERM = 2_147_483_647  # prime: i -> i*_PERM mod N is a permutation


class Dataset:
    def __init__(self, cfg: DatasetConfig | None = None, now_ms: int | None = None):
        self.cfg = cfg = cfg or DatasetConfig()
        self.clock = SubscriptionClock(cfg.timezone)
        self._now_ms = now_ms
        self.apps = app_ids(cfg)
        self.default_app = DEFAULT_APP_ID
        self.event_end_ms = self.clock.add_days(cfg.first_day_ms, cfg.event_days)
        self.page_rows = make_pages(cfg)
        self.feature_rows = make_features(cfg, self.page_rows)
        self.guide_rows = make_guides(cfg, self.page_rows)
        self.track_type_rows = make_track_types(cfg)
        self.report_rows = make_reports(cfg)
        make_awkward(self.page_rows, self.feature_rows, self.guide_rows, self.track_type_rows)
        self.app_rows = make_apps(cfg, self.apps)
        self.segment_rows = make_segments(cfg)
        kinds = ["visitor", "account"] + (["parentAccount"] if cfg.parent_accounts else [])
        self.schemas = {k: make_schema(k) for k in kinds}
        self._vseed = mix(cfg.seed * 1_000_003 + 17) >> 8
        self.account_ids = self._make_account_ids()
        self.account_table = self._make_accounts()
        self.visitor_table = self._make_visitors()
        self.base_visitors = len(self.visitor_table.ids)
        # Late updates of aggregated events: (source, fields to match, fields to set).
        self.revisions: list[tuple[str, dict, dict]] = []

    # ------------------------------------------------------------------ time
    @property
    def now_ms(self) -> int:
        return self._now_ms if self._now_ms is not None else int(time.time() * 1000)

    def set_now(self, ms: int | None) -> None:
        self._now_ms = None if ms is None else int(ms)

    # ------------------------------------------------------------------ visitors
    def _lu_base(self) -> int:
        return self.cfg.first_day_ms - 30 * DAY_MS

    def _make_visitors(self) -> MetaTable:
        cfg = self.cfg
        n_id, n_anon = cfg.visitors, cfg.anonymous_visitors
        ids: list[str] = []
        specials = SPECIAL_VISITOR_IDS if n_id >= 3 * len(SPECIAL_VISITOR_IDS) else []
        for i in range(n_id):
            ids.append(specials[i] if i < len(specials) else f"visitor-{i}")
        for i in range(n_anon):
            ids.append(f"_PENDO_T_{mix2(cfg.seed, i) & 0xFFFFFFFFFFF:011x}")
        total = len(ids)
        tie = max(1, cfg.lastupdated_tie_group)
        base = self._lu_base()
        lu: list[int | None] = [base + ((i * _PERM) % total // tie) * 60_000 for i in range(total)]
        missing = set()
        if n_id > len(specials) + 4:
            k = len(specials)
            lu[k + 1] = None
            lu[k + 2] = None
            lu[k + 3] = None
            missing.add(k + 3)
        n_acc = len(self.account_ids)
        acc_ids = self.account_ids
        vh = self._visitor_hash
        uas = [f"Mozilla/5.0 ({b[2]}) {b[0]}/{b[1]}" for b in BROWSERS]
        ips = [f"198.51.100.{k}" for k in range(256)]

        def build(j: int, vid: str, lastupdated: Any) -> dict:
            h = vh(j)
            acc = acc_ids[h % n_acc] if n_acc else ""
            bi = (h >> 8) & 3
            br = BROWSERS[bi]
            first = base - ((h >> 12) % 400) * DAY_MS
            last = (lastupdated or base) - ((h >> 20) % 3600) * 1000
            anonymous = vid.startswith("_PENDO_T_")
            dnp = (h >> 40) % 53 == 0 and not anonymous
            auto = {
                "accountid": acc,
                "accountids": [acc],
                "firstvisit": first,
                "id": vid,
                "idhash": h & 0xFFFFFFFF,
                "lastbrowsername": br[0],
                "lastbrowserversion": br[1],
                "lastoperatingsystem": br[2],
                "lastservername": "app.example.com",
                "lastupdated": lastupdated,
                "lastuseragent": uas[bi],
                "lastvisit": last,
                "nid": j,
            }
            md: dict = {"auto": auto, "auto__323232": {"firstvisit": first, "lastvisit": last}}
            if anonymous:
                md["agent"] = {"language": LANGS[h % 5]}
            elif dnp:
                md["agent"] = {}
                md["pendo"] = {"donotprocess": True}
            else:
                md["agent"] = {
                    "email": f"user{j}@example.com",
                    "name": f"User {j}",
                    "language": LANGS[h % 5],
                    "ipaddress": ips[h & 255],
                    "roles": ["admin"] if h % 7 == 0 else ["user"],
                    "signupdate": first,
                }
                if (h >> 24) % 10:
                    md["custom"] = {
                        "plan": PLANS[(h >> 28) % 3],
                        "renewaldate": first + 365 * DAY_MS,
                        "isbeta": bool((h >> 30) & 1),
                        "seats": (h >> 32) % 500,
                        "score": ((h >> 36) % 1000) / 10.0,
                        "legacyfield": "x",
                    }
                md["pendo"] = {"designerenabled": (h >> 44) % 17 == 0}

            return {"visitorId": vid, "metadata": md}

        return MetaTable("visitorId", ids, lu, build, missing)

    def _visitor_hash(self, j: int) -> int:
        return mix(self._vseed + j)

    def account_of_visitor(self, j: int) -> str:
        n = len(self.account_ids)
        return self.account_ids[mix(self._vseed + j) % n] if n else ""

    # ------------------------------------------------------------------ accounts
    def _make_account_ids(self) -> list[str]:
        cfg = self.cfg
        specials = SPECIAL_ACCOUNT_IDS if cfg.accounts >= 10 else []
        ids = []
        for k in range(cfg.accounts):
            if k < len(specials):
                ids.append(specials[k])
            elif cfg.parent_accounts and k % 5 == 4:
                ids.append(f"parent-{k % 3}::account-{k}")
            else:
                ids.append(f"account-{k}")
        return ids

    def _make_accounts(self) -> MetaTable:
        cfg = self.cfg
        ids = list(self.account_ids)
        total = len(ids)
        tie = max(1, cfg.lastupdated_tie_group)
        base = self._lu_base()
        lu: list[int | None] = [
            base + ((i * _PERM) % max(total, 1) // tie) * 60_000 + 7 for i in range(total)
        ]
        seed = cfg.seed

        def build(j: int, aid: str, lastupdated: Any) -> dict:
            h = mix(seed * 7919 + j)
            first = base - (h % 700) * DAY_MS
            md = {
                "auto": {
                    "firstvisit": first,
                    "id": aid,
                    "idhash": h & 0xFFFFFFFF,
                    "lastupdated": lastupdated,
                    "lastvisit": (lastupdated or base) - 5000,
                },
                "agent": {
                    "name": f"Account {aid}",
                    "industry": ["saas", "retail", "bank"][h % 3],
                    "employees": (h >> 8) % 10000,
                },
                "custom": {
                    "tier": ["gold", "silver", "bronze"][(h >> 16) % 3],
                    "arr": ((h >> 20) % 1_000_000) / 100.0,
                    "active": bool((h >> 40) & 1),
                    "seats": (h >> 24) % 1000,
                    "renewaldate": first + 365 * DAY_MS,
                    "notes": "",
                },
                "pendo": {},
            }
            return {"accountId": aid, "metadata": md}

        return MetaTable("accountId", ids, lu, build, set())

    # ------------------------------------------------------------------ catalog lookups
    def entity_list(self, name: str) -> list[dict]:
        return {
            "pages": self.page_rows,
            "features": self.feature_rows,
            "guides": self.guide_rows,
            "trackTypes": self.track_type_rows,
            "reports": self.report_rows,
            "segments": self.segment_rows,
            "apps": self.app_rows,
        }[name]

    # ------------------------------------------------------------------ ground truth
    def visitors(self, identified_only: bool = True) -> list[dict]:
        return self.visitor_table.all_rows(identified_only=identified_only)

    def accounts(self) -> list[dict]:
        return self.account_table.all_rows()

    def _entities(self, rows: list[dict], app_ids: Iterable[int] | None) -> list[dict]:
        apps = None if app_ids is None else set(app_ids)
        return [e for e in rows if apps is None or e["appId"] in apps]

    def pages(self, app_ids: Iterable[int] | None = None) -> list[dict]:
        """All pages (every app unless `app_ids`), exactly as the API returns them."""
        return self._entities(self.page_rows, app_ids)

    def features(self, app_ids: Iterable[int] | None = None) -> list[dict]:
        return self._entities(self.feature_rows, app_ids)

    def guides(self, app_ids: Iterable[int] | None = None) -> list[dict]:
        return self._entities(self.guide_rows, app_ids)

    def track_types(self, app_ids: Iterable[int] | None = None) -> list[dict]:
        return self._entities(self.track_type_rows, app_ids)

    trackTypes = track_types

    def reports(self) -> list[dict]:
        return list(self.report_rows)

    def segments(self) -> list[dict]:
        return list(self.segment_rows)

    def applications(self) -> list[dict]:
        return list(self.app_rows)

    def visitor(self, vid: str) -> dict | None:
        j = self.visitor_table.index_of(vid)
        return None if j is None else self.visitor_table.row(j)

    def account(self, aid: str) -> dict | None:
        j = self.account_table.index_of(aid)
        return None if j is None else self.account_table.row(j)

    def event_rows(
        self,
        source: str,
        first_ms: int,
        last_ms: int,
        period: str = "dayRange",
        app_ids: Iterable[int] | None = None,
    ) -> Iterator[dict]:
        """Rows the API returns for `source` over [first_ms, last_ms) across all apps."""
        p = "hour" if period.startswith("hour") else "day"
        apps = set(app_ids) if app_ids is not None else None
        return source_rows(self, source, first_ms, last_ms, p, apps, None, self.now_ms)

    def event_totals(
        self,
        source: str,
        first_ms: int,
        last_ms: int,
        period: str = "dayRange",
        app_ids: Iterable[int] | None = None,
    ) -> dict:
        rows = 0
        total = 0
        for r in self.event_rows(source, first_ms, last_ms, period, app_ids):
            rows += 1
            total += r.get("numEvents", 1)
        return {"rows": rows, "numEvents": total}

    def polls_seen_ever(
        self, guide_id: str | None = None, poll_id: str | None = None
    ) -> list[dict]:
        """Latest poll response per (visitor, poll) over all events up to now."""
        start, end = self.event_range()
        latest: dict[tuple, dict] = {}
        for r in self.event_rows("pollEvents", start, end):
            if guide_id is not None and r["guideId"] != guide_id:
                continue
            if poll_id is not None and r["pollId"] != poll_id:
                continue
            latest[(r["visitorId"], r["pollId"])] = {
                "visitorId": r["visitorId"],
                "accountId": r["accountId"],
                "guideId": r["guideId"],
                "pollId": r["pollId"],
                "time": r["browserTime"],
                "response": r["pollResponse"],
            }
        return list(latest.values())

    def event_range(self) -> tuple[int, int]:
        return self.cfg.first_day_ms, self.event_end_ms

    # ------------------------------------------------------------------ raw data (oracles)
    def raw_events(self, source: str) -> list[dict]:
        """Every generated event of `source` over the event days, before any query logic.

        For tests that compute expected rows on their own (tests/oracle). pageEvents,
        featureEvents and trackEvents give their generated hourly atoms with `hour` (the
        atom's local hour start) and no `day`: deriving the day is the reader's job.
        guideEvents and pollEvents give one row per event. Late updates are applied."""
        days = self.clock.days_between(self.cfg.first_day_ms, self.event_end_ms)
        out: list[dict] = []
        for day in days:
            if source in AGG_SOURCES:
                for atom in aggregated_atoms(self, source, day):
                    del atom["day"]
                    out.append(atom)
            elif source in ROW_SOURCES:
                out.extend(row_events(self, source, day))
            else:
                raise ValueError(f"no raw events for {source!r}")
        return out

    def revise_events(self, source: str, match: dict, changes: dict) -> int:
        """Change an aggregate after the fact, as Pendo does: every atom of `source`
        (pageEvents, featureEvents, trackEvents) whose fields equal `match` takes `changes`,
        from now on, in every query. Returns how many atoms matched."""
        if source not in AGG_SOURCES:
            raise ValueError(f"late updates apply to {sorted(AGG_SOURCES)}, not {source!r}")
        matched = sum(
            1 for a in self.raw_events(source) if all(a.get(k) == v for k, v in match.items())
        )
        self.revisions.append((source, dict(match), dict(changes)))
        return matched

    # ------------------------------------------------------------------ changes between syncs
    def touch_visitors(self, ids: Iterable[str], now_ms: int | None = None) -> None:
        self._touch(self.visitor_table, ids, now_ms)

    def touch_accounts(self, ids: Iterable[str], now_ms: int | None = None) -> None:
        self._touch(self.account_table, ids, now_ms)

    def _touch(self, table: MetaTable, ids: Iterable[str], now_ms: int | None) -> None:
        ts = self.now_ms if now_ms is None else int(now_ms)
        for i in ids:
            j = table.index_of(i)
            if j is None:
                raise KeyError(i)
            table.touch(j, ts)

    def _touch_entities(self, lst: list[dict], ids: Iterable[str], now_ms: int | None) -> None:
        ts = self.now_ms if now_ms is None else int(now_ms)
        want = set(ids)
        for e in lst:
            if e["id"] in want:
                e["lastUpdatedAt"] = ts
                e["validThrough"] = ts

    def touch_pages(self, ids: Iterable[str], now_ms: int | None = None) -> None:
        self._touch_entities(self.page_rows, ids, now_ms)

    def touch_features(self, ids: Iterable[str], now_ms: int | None = None) -> None:
        self._touch_entities(self.feature_rows, ids, now_ms)

    def touch_guides(self, ids: Iterable[str], now_ms: int | None = None) -> None:
        self._touch_entities(self.guide_rows, ids, now_ms)

    def touch_track_types(self, ids: Iterable[str], now_ms: int | None = None) -> None:
        self._touch_entities(self.track_type_rows, ids, now_ms)
