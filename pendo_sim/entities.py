"""Pages, features, guides, track types, reports, and metadata schemas (static catalog)."""

from __future__ import annotations

from .config import DEFAULT_APP_ID, DatasetConfig
from .hashing import mix2, pendo_id, seed_for

DAY = 86_400_000
SECOND_APP_ID = 5668600916475904


def app_ids(cfg: DatasetConfig) -> list[int]:
    apps = [DEFAULT_APP_ID]
    for k in range(1, max(1, cfg.apps)):
        apps.append(SECOND_APP_ID + (k - 1) * 1000)
    return apps


def _user(k: int) -> dict:
    return {
        "id": str(5629499534213120 + k),
        "username": f"admin{k}@example.com",
        "first": "Ada",
        "last": f"L{k}",
        "role": 8,
        "userType": "",
        "hasLoggedIn": True,
        "lastLogin": 1772000000000 + k,
        "deletedAt": 0,
        "visitorIds": [],
    }


def _envelope(cfg: DatasetConfig, kind: str, k: int, app: int, name: str) -> dict:
    eid = pendo_id(cfg.seed, kind, k)
    h = mix2(cfg.seed, seed_for(kind, k))
    created = cfg.first_day_ms - 200 * DAY + (h % (100 * DAY))
    # a few share the same lastUpdatedAt so cursor paging on it crosses ties
    updated = cfg.first_day_ms - 10 * DAY + (k // 3) * 60_000
    return {
        "id": eid,
        "name": name,
        "kind": kind,
        "appId": app,
        "createdAt": created,
        "createdByUser": _user(k % 3),
        "lastUpdatedAt": updated,
        "lastUpdatedByUser": _user((k + 1) % 3),
        "rootVersionId": eid,
        "stableVersionId": f"{eid}-{updated}",
        "dirty": False,
        "color": "",
        "group": {
            "id": "_PENDO_DEFAULTGROUP_01_",
            "name": "Ungrouped",
            "description": "",
            "color": "",
            "length": 0,
            "type": kind,
            "items": [],
            "createdAt": created,
            "createdByUser": _user(0),
            "lastUpdatedAt": created,
            "lastUpdatedByUser": _user(0),
        },
        "isCoreEvent": k % 7 == 0,
        "validThrough": updated,
        "dailyMergeFirst": created,
        "dailyRollupFirst": created,
    }


def make_pages(cfg: DatasetConfig) -> list[dict]:
    apps = app_ids(cfg)
    out = []
    for k in range(cfg.pages):
        app = apps[k % len(apps)]
        p = _envelope(cfg, "Page", k, app, f"Page {k} ü" if k % 11 == 5 else f"Page {k}")
        p["rules"] = [
            {
                "rule": f"//*/page{k}",
                "designerHint": f"https://app.example.com/page{k}",
                "parsedRule": f"^https?://[^/]*/page{k}/?(?:;[^#]*)?(?:\\?[^#]*)?(?:#.*)?$",
            }
        ]
        p["rulesjson"] = ""
        p["isAutoTagged"] = k % 5 == 0
        p["suggestedName"] = f"Suggested {k}"
        out.append(p)
    return out


def make_features(cfg: DatasetConfig, pages: list[dict]) -> list[dict]:
    apps = app_ids(cfg)
    out = []
    for k in range(cfg.features):
        app = apps[k % len(apps)]
        f = _envelope(cfg, "Feature", k, app, f"Feature {k}")
        same_app = [p for p in pages if p["appId"] == app]
        f["pageId"] = same_app[k % len(same_app)]["id"] if same_app else ""
        f["elementPathRules"] = [f"#button-{k}"]
        f["elementInitialTag"] = "BUTTON"
        f["elementSelectionType"] = "css"
        f["eventPropertyConfigurations"] = []
        f["appWide"] = k % 9 == 0
        f["createdDesignerVersion"] = "2.170.0"
        f["suggestedMatch"] = ""
        out.append(f)
    return out


def make_guides(cfg: DatasetConfig, pages: list[dict]) -> list[dict]:
    apps = app_ids(cfg)
    states = ["public", "draft", "staged", "disabled"]
    out = []
    for k in range(cfg.guides):
        app = apps[k % len(apps)]
        g = _envelope(cfg, "Guide", k, app, f"Guide {k}")
        nsteps = 1 + k % 3
        steps = []
        for s in range(nsteps):
            steps.append(
                {
                    "id": pendo_id(cfg.seed, "step", k, s),
                    "guideId": g["id"],
                    "type": "lightbox",
                    "pageId": pages[(k + s) % len(pages)]["id"] if pages else "",
                    "regexUrlRule": "",
                    "elementPathRule": "",
                    "contentType": "text/html",
                    "contentUrl": f"https://cdn.example.com/g{k}/s{s}.html",
                    "contentUrlCss": "",
                    "contentUrlJs": "",
                    "rank": s,
                    "advanceMethod": "button",
                    "attributes": {},
                    "lastUpdatedAt": g["lastUpdatedAt"],
                    "resetAt": 0,
                }
            )
        polls = []
        if k % 2 == 0:
            polls.append(
                {
                    "id": pendo_id(cfg.seed, "poll", k),
                    "question": f"How likely? ({k})",
                    "attributes": {"type": "NPSRating" if k % 4 == 0 else "FreeForm"},
                    "numericResponses": list(range(11)) if k % 4 == 0 else [],
                    "idResponses": {},
                    "resetAt": 0,
                }
            )
        g.update(
            {
                "state": states[k % 4],
                "launchMethod": "auto",
                "isMultiStep": nsteps > 1,
                "steps": steps,
                "attributes": {
                    "type": "building-block",
                    "device": {"type": "desktop"},
                    "priority": k,
                    "capping": {"maxImpressions": 3, "maxSessionImpressions": 1},
                },
                "audience": [{"source": {"visitors": None}}],
                "audienceUiHint": {},
                "polls": polls,
                "publishedAt": g["createdAt"],
                "publishedEver": True,
                "resetAt": 0,
                "recurrence": 0,
                "showsAfter": 0,
                "isModule": False,
                "isTopLevel": True,
                "isTraining": False,
                "authoredLanguage": "en-US",
                "description": "",
                "editorType": "visualDesignStudio",
                "emailState": "",
                "conversion": None,
                "currentFirstEligibleToBeSeenAt": 0,
            }
        )
        out.append(g)
    return out


def make_track_types(cfg: DatasetConfig) -> list[dict]:
    apps = app_ids(cfg)
    out = []
    for k in range(cfg.track_types):
        t = _envelope(cfg, "TrackType", k, apps[k % len(apps)], f"Track Event {k}")
        t["trackTypeName"] = f"event_{k}"
        t["trackTypeRules"] = [f"event_{k}"]
        out.append(t)
    return out


def make_reports(cfg: DatasetConfig) -> list[dict]:
    out = []
    for k in range(cfg.reports):
        r = _envelope(cfg, "Report", k, DEFAULT_APP_ID, f"Report {k}")
        r.update(
            {
                "type": "Visitor",
                "shared": k % 2 == 0,
                "definition": {
                    "config": {"segmentId": "everyone"},
                    "generator": "visitorList",
                    "kind": "visitor",
                    "timeSeries": {"type": "last30Days"},
                    "type": "List",
                },
                "aggregation": {
                    "fields": [{"type": "string", "title": "Visitor", "field": "visitorId"}],
                    "pipeline": [{"source": {"visitors": None}}],
                },
                "lastRunAt": cfg.first_day_ms,
            }
        )
        out.append(r)
    return out


# --------------------------------------------------------------------------- schemas


def _desc(t: str, name: str, *, calc: bool = False, per_app: bool = False, sample=None) -> dict:
    d = {
        "Type": t,
        "DisplayName": name,
        "ElementType": "list" if t == "list" else "",
        "ElementFormat": "",
        "Dirty": False,
        "isHidden": False,
        "isDeleted": False,
        "isCalculated": calc,
        "isPerApp": per_app,
        "isPromoted": False,
        "neverIndex": False,
    }
    if sample is not None:
        d["sample"] = sample
    return d


VISITOR_AGENT = {
    "email": "string",
    "name": "string",
    "language": "string",
    "ipaddress": "string",
    "roles": "list",
    "signupdate": "time",
}
VISITOR_AUTO = {
    "accountid": "string",
    "accountids": "list",
    "firstvisit": "time",
    "id": "string",
    "idhash": "integer",
    "lastbrowsername": "string",
    "lastbrowserversion": "string",
    "lastoperatingsystem": "string",
    "lastservername": "string",
    "lastupdated": "time",
    "lastuseragent": "string",
    "lastvisit": "time",
    "nid": "integer",
}
VISITOR_CUSTOM = {
    "plan": "string",
    "renewaldate": "time",
    "isbeta": "boolean",
    "seats": "integer",
    "score": "float",
    "legacyfield": "",
}
ACCOUNT_AGENT = {"name": "string", "industry": "string", "employees": "integer"}
ACCOUNT_AUTO = {
    "firstvisit": "time",
    "id": "string",
    "idhash": "integer",
    "lastupdated": "time",
    "lastvisit": "time",
}
ACCOUNT_CUSTOM = {
    "tier": "string",
    "arr": "float",
    "active": "boolean",
    "seats": "integer",
    "renewaldate": "time",
    "notes": "",
}
PENDO_FIELDS = {
    "donotprocess": "boolean",
    "blacklistguides": "boolean",
    "designerenabled": "boolean",
}


def make_schema(kind: str) -> dict:
    if kind == "visitor":
        agent, auto, custom = VISITOR_AGENT, VISITOR_AUTO, VISITOR_CUSTOM
    elif kind == "account":
        agent, auto, custom = ACCOUNT_AGENT, ACCOUNT_AUTO, ACCOUNT_CUSTOM
    else:  # parentAccount
        agent, auto, custom = (
            {"name": "string"},
            ACCOUNT_AUTO,
            {"segment": "string", "arr": "float"},
        )
    return {
        "agent": {f: _desc(t, f.title()) for f, t in agent.items()},
        "auto": {f: _desc(t, f.title(), calc=True) for f, t in auto.items()},
        "auto__323232": {
            "firstvisit": _desc("time", "First Visit", calc=True, per_app=True),
            "lastvisit": _desc("time", "Last Visit", calc=True, per_app=True),
        },
        "custom": {
            f: dict(_desc(t, f.title()), Dirty=(f == "legacyfield")) for f, t in custom.items()
        },
        "pendo": {f: _desc(t, f.title()) for f, t in PENDO_FIELDS.items()},
    }
