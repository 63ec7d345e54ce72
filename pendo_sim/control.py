"""Out-of-process control endpoints under /_sim/ (no auth)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import unquote

import orjson

from .config import latency_profile

if TYPE_CHECKING:
    from .simulator import Simulator


@overload
def _q(query: dict, name: str, default: str) -> str: ...
@overload
def _q(query: dict, name: str, default: None = None) -> str | None: ...
def _q(query: dict, name: str, default: str | None = None) -> str | None:
    v = query.get(name)
    return v[0] if v else default


def _body(body: bytes) -> Any:
    from .server import HttpError

    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        raise HttpError(400, "malformed JSON") from None


def handle_control(sim: Simulator, method: str, path: str, query: dict, body: bytes):
    from .server import HttpError

    ds = sim.dataset
    route = path[len("/_sim/") :].rstrip("/")
    if route == "health" and method == "GET":
        return 200, {"ok": True, "url": sim.url, "now_ms": ds.now_ms}
    if route == "faults":
        if method == "POST":
            data = _body(body)
            items = data if isinstance(data, list) else [data]
            try:
                for d in items:
                    sim.faults.add(d)
            except (TypeError, ValueError) as exc:
                raise HttpError(400, str(exc)) from None
            return 200, {"added": len(items), "active": len(sim.faults)}
        if method == "DELETE":
            sim.faults.clear()
            return 200, {"cleared": True}
        if method == "GET":
            return 200, [f.to_dict() for f in sim.faults.list()]
    if route == "stats" and method == "GET":
        return 200, sim.stats()
    if route == "stats/reset_rate" and method == "POST":
        sim.reset_rate_stats()
        return 200, {"max_requests_per_second": 0}
    if route == "latency" and method == "GET":
        return 200, sim.latency()
    if route == "latency" and method == "POST":
        data = _body(body) or {}
        if not isinstance(data, dict):
            raise HttpError(400, "expected an object")
        try:
            costs = dict(data)
            profile = costs.pop("profile", None)
            scale = float(costs.pop("scale", 1.0))
            if profile is not None:
                sim.set_latency(**latency_profile(str(profile), scale))
            sim.set_latency(**costs)
        except (TypeError, ValueError) as exc:
            raise HttpError(400, str(exc)) from None
        return 200, sim.latency()
    if route == "request_log" and method == "GET":
        return 200, [list(x) for x in sim.request_log]
    if route == "store/track_events" and method == "GET":
        st = sim.store
        with st.lock:
            return 200, {
                "track_events": list(st.track_events),
                "dropped_track_events": list(st.dropped_track_events),
                "hidden_track_properties": list(st.hidden_track_properties),
                "rejected_track_events": list(st.rejected_track_events),
                "throttled_track_events": list(st.throttled_track_events),
                "oversized_track_properties": list(st.oversized_track_properties),
            }
    if route.startswith("store/metadata/") and method == "GET":
        rest = route[len("store/metadata/") :]
        kind, _, raw = rest.partition("/")
        return 200, sim.store.metadata(kind, unquote(raw))
    if route == "options" and method == "GET":
        return 200, dataclasses.asdict(sim.options)
    if route == "options" and method == "POST":
        data = _body(body) or {}
        if not isinstance(data, dict):
            raise HttpError(400, "expected an object")
        try:
            sim.set_options(**data)
        except (TypeError, ValueError) as exc:
            raise HttpError(400, str(exc)) from None
        return 200, dataclasses.asdict(sim.options)
    if route == "rate_limit" and method == "POST":
        data = _body(body) or {}
        sim.set_rate_limit(data.get("per_second") if isinstance(data, dict) else None)
        return 200, {"per_second": sim.rate_limiter.rate}
    if route == "now" and method == "POST":
        data = _body(body) or {}
        sim.set_now(data.get("now_ms"))
        return 200, {"now_ms": ds.now_ms}
    if route == "touch" and method == "POST":
        data = _body(body) or {}
        fn = getattr(ds, "touch_" + str(data.get("kind", "")), None)
        if fn is None:
            raise HttpError(400, "kind must be visitors|accounts|pages|features|guides|track_types")
        try:
            fn(data.get("ids", []), data.get("now_ms"))
        except KeyError as exc:
            raise HttpError(404, f"unknown id {exc}") from None
        return 200, {"touched": len(data.get("ids", []))}
    if route == "revise" and method == "POST":
        # A late update: {"source": "pageEvents", "match": {...}, "set": {...}}.
        data = _body(body) or {}
        if not isinstance(data, dict) or not isinstance(data.get("match"), dict):
            raise HttpError(400, 'expected {"source": ..., "match": {...}, "set": {...}}')
        try:
            matched = ds.revise_events(
                str(data.get("source")), data["match"], dict(data.get("set") or {})
            )
        except ValueError as exc:
            raise HttpError(400, str(exc)) from None
        return 200, {"matched": matched}
    if route == "expected" and method == "GET":
        return 200, expected(sim, query)
    raise HttpError(404, "unknown control endpoint")


def expected(sim: Simulator, query: dict) -> Any:
    """Ground truth: ?what=visitors[&identified_only=false]|accounts|pages|features|guides|
    trackTypes|event_totals|event_rows (&source=&first=&last=&period=dayRange|hourRange)|
    event_range."""
    from .server import HttpError

    ds = sim.dataset
    what = _q(query, "what", "visitors")
    if what == "visitors":
        return ds.visitors(identified_only=_q(query, "identified_only", "true") != "false")
    if what == "accounts":
        return ds.accounts()
    if what in ("pages", "features", "guides", "trackTypes", "reports"):
        return ds.entity_list(what)
    if what == "event_range":
        a, b = ds.event_range()
        return {"first": a, "last": b}
    if what in ("event_totals", "event_rows"):
        source = _q(query, "source", "pageEvents")
        first_default, last_default = ds.event_range()
        try:
            first = int(_q(query, "first", str(first_default)))
            last = int(_q(query, "last", str(last_default)))
        except ValueError:
            raise HttpError(400, "first/last must be epoch ms") from None
        period = _q(query, "period", "dayRange")
        if what == "event_totals":
            return ds.event_totals(source, first, last, period)
        return list(ds.event_rows(source, first, last, period))
    raise HttpError(400, f"unknown what={what!r}")
