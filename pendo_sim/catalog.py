"""Applications, segments, and awkward nested data in pages, features, guides and track types.

Everything here is derived from the rows `entities.py` builds, so the nested objects the tap turns
into child streams (rules, steps, polls, product areas, Pendo users) carry empty arrays, nulls and
ids that need escaping. The ground-truth functions at the bottom flatten them independently of the
tap, for tests.
"""

from __future__ import annotations

from .config import DEFAULT_APP_ID, DatasetConfig
from .entities import DAY, _user
from .hashing import pendo_id

AWKWARD_GROUP_ID = 'area "quoted"/ü\\x'
AWKWARD_USER_ID = "user/with space & 'quote'"
AWKWARD_POLL_ID = 'poll "quoted"/ü'
AWKWARD_SEGMENT_ID = 'segment "quoted"/ü\\x'
PLATFORMS = ["web", "ios", "android"]


def make_apps(cfg: DatasetConfig, app_ids: list[int]) -> list[dict]:
    out = []
    for k, app in enumerate(app_ids):
        created = cfg.first_day_ms - 300 * DAY + k * DAY
        out.append(
            {
                "id": app,
                "name": "Default app" if app == DEFAULT_APP_ID else f"App {k} ü",
                "displayName": None if k == 1 else f"App display {k}",
                "platform": PLATFORMS[k % len(PLATFORMS)],
                "description": "",
                "createdAt": created,
                "createdByUser": _user(k % 3),
                "lastUpdatedAt": cfg.first_day_ms - 20 * DAY + k * 60_000,
                "lastUpdatedByUser": _user((k + 1) % 3),
            }
        )
    return out


def make_segments(cfg: DatasetConfig) -> list[dict]:
    out = []
    for k in range(4):
        sid = AWKWARD_SEGMENT_ID if k == 1 else pendo_id(cfg.seed, "segment", k)
        out.append(
            {
                "id": sid,
                "name": f"Segment {k}",
                "createdAt": cfg.first_day_ms - 100 * DAY,
                "createdByUser": _user(k % 3),
                "lastUpdatedAt": cfg.first_day_ms - 15 * DAY + k * 60_000,
                "lastUpdatedByUser": None if k == 2 else _user(0),
                "shared": k % 2 == 0,
                "definition": None if k == 3 else {"kind": "visitor", "pipeline": []},
                "pipeline": [] if k == 3 else [{"source": {"visitors": None}}],
            }
        )
    return out


def _awkward_user(base: dict) -> dict:
    return {**base, "id": AWKWARD_USER_ID, "username": 'o"brien@example.com', "last": None}


def make_awkward(pages: list[dict], features: list[dict], guides: list[dict], tracks: list[dict]):
    """Empty and null nested arrays, a product area and a user with escaping-hungry ids."""
    if len(pages) > 3:
        pages[1]["rules"] = []
        pages[2]["rules"] = None
        group = dict(pages[3]["group"], id=AWKWARD_GROUP_ID, name='Área "one"', length=2)
        group["lastUpdatedAt"] = pages[3]["group"]["lastUpdatedAt"] + 1
        pages[3]["group"] = group
        pages[3]["lastUpdatedByUser"] = _awkward_user(pages[3]["lastUpdatedByUser"])
        pages[3]["rules"].append({"rule": "//*/second", "designerHint": None, "parsedRule": None})
    if len(features) > 3:
        features[1]["elementPathRules"] = []
        features[2]["elementPathRules"] = None
        features[3]["group"] = dict(pages[3]["group"]) if len(pages) > 3 else None
        features[3]["elementPathRules"] = ['a[href="x\\y"]', "#b"]
    if len(guides) > 4:
        guides[1]["polls"] = None
        guides[3]["polls"] = []
        guides[4]["polls"][0]["id"] = AWKWARD_POLL_ID
        guides[4]["polls"].append(
            {"id": guides[4]["id"] + "-2", "question": None, "attributes": None, "resetAt": None}
        )
    if len(tracks) > 2:
        tracks[1]["trackTypeRules"] = []
        tracks[2]["trackTypeRules"] = None


# -- ground truth for the child streams (flattened independently of the tap) ------------------


def _listed(value) -> list:
    return value if isinstance(value, list) else []


def page_rules(pages: list[dict]) -> list[tuple]:
    """(pageId, lastUpdatedAt, position, rule) of every page rule."""
    return [
        (p["id"], p["lastUpdatedAt"], i, r.get("rule"))
        for p in pages
        for i, r in enumerate(_listed(p.get("rules")))
    ]


def string_rules(rows: list[dict], field: str) -> list[tuple]:
    return [
        (e["id"], e["lastUpdatedAt"], i, r)
        for e in rows
        for i, r in enumerate(_listed(e.get(field)))
    ]


def guide_steps(guides: list[dict]) -> list[tuple]:
    return [(g["id"], g["lastUpdatedAt"], s["id"]) for g in guides for s in _listed(g.get("steps"))]


def polls(guides: list[dict]) -> list[tuple]:
    return [(g["id"], g["lastUpdatedAt"], p["id"]) for g in guides for p in _listed(g.get("polls"))]


def product_areas(pages: list[dict], features: list[dict]) -> dict[str, dict]:
    return {e["group"]["id"]: e["group"] for e in [*pages, *features] if e.get("group")}


def pendo_users(*lists: list[dict]) -> set[str]:
    ids = set()
    for rows in lists:
        for e in rows:
            holders = [e, e.get("group") or {}]
            for holder in holders:
                for key in ("createdByUser", "lastUpdatedByUser"):
                    user = holder.get(key) or {}
                    if user.get("id"):
                        ids.add(user["id"])
    return ids
