"""The floor: the least work that moves the same rows from the simulator to stdout.

It sends the same aggregation requests our tap sends and writes one orjson line per row
(a Singer-shaped RECORD line, ``{"type":"RECORD","stream":...,"record":row}``), with no schema,
no type conformance, no state. It is what it costs to move the bytes at all.

Two modes:
- ``--replay BODIES.json``: POST exactly these request bodies in order (captured from our
  tap's requests in the simulator's request log during the same benchmark run);
- otherwise (the default), the same pipelines our tap sends, rebuilt here: visitors paged by
  key (rows without lastupdated by visitorId, then keyset pages on (lastupdated, visitorId),
  limit page_size) and page events one day per request (dayRange, count 1, all apps), from the
  start day to now.

Prints ``METRIC: {"metric": "record_count", ...}`` on stderr like the Singer plugins do,
so the harness counts its rows the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import orjson
import requests

DAY_MS = 86_400_000
ALL_APPS = 'expandAppIds("*")'


def post(session: requests.Session, url: str, body: dict) -> list:
    resp = session.post(url, data=orjson.dumps(body), timeout=600)
    resp.raise_for_status()
    return orjson.loads(resp.content)["results"]


LASTUPDATED = "metadata.auto.lastupdated"


def _visitors_pipeline(expression: str, sort: list, page_size: int) -> dict:
    pipeline = [
        {"source": {"visitors": None}},
        {"identified": "visitorId"},
        {"filter": expression},
        {"sort": sort},
        {"limit": page_size},
    ]
    return {"response": {"mimeType": "application/json"}, "request": {"pipeline": pipeline}}


def visitors_bodies(page_size: int, start_ms: int):
    """Our tap's full-sync visitor pages: rows without lastupdated by id, then keyset pages
    on (lastupdated, visitorId) from start_date (tap_pendo/streams.py, KeysetAggregationStream)."""
    last = None
    while True:
        expr = f"isNull({LASTUPDATED})" + (f" && visitorId > {json.dumps(last)}" if last else "")
        rows = yield _visitors_pipeline(expr, ["visitorId"], page_size)
        if len(rows) < page_size:
            break
        last = rows[-1]["visitorId"]
    last_sort, last_id = start_ms, None
    while True:
        if not last_sort:
            expr = f"!isNull({LASTUPDATED})"  # no start_date: every row with a timestamp
        elif last_id is None:
            expr = f"{LASTUPDATED} >= {last_sort}"
        else:
            q = json.dumps(last_id)
            expr = (
                f"({LASTUPDATED} > {last_sort}) "
                f"|| ({LASTUPDATED} == {last_sort} && visitorId > {q})"
            )
        rows = yield _visitors_pipeline(expr, [LASTUPDATED, "visitorId"], page_size)
        if len(rows) < page_size:
            return
        last_sort, last_id = rows[-1]["metadata"]["auto"]["lastupdated"], rows[-1]["visitorId"]


def page_events_bodies(first_day_ms: int, now_ms: int, app_id: object = ALL_APPS):
    """Our tap's windows: one day per request (event_window_days=1), `first` mid-day, `app_id`
    (all apps unless given), from the start_date's day up to now (tap_pendo/events/streams.py)."""
    day = first_day_ms
    while day <= now_ms:
        pipeline = [
            {
                "source": {
                    "pageEvents": {"appId": app_id},
                    "timeSeries": {"period": "dayRange", "first": day + DAY_MS // 2, "count": 1},
                }
            }
        ]
        yield {"response": {"mimeType": "application/json"}, "request": {"pipeline": pipeline}}
        day += DAY_MS


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True, help="simulator base URL (without /api/v1)")
    ap.add_argument("--key", default="bench-key")
    ap.add_argument("--stream", required=True, choices=["visitors", "page_events"])
    ap.add_argument("--replay", help="JSON list of request bodies to send in order")
    ap.add_argument("--page-size", type=int, default=50_000)
    ap.add_argument("--end-ms", type=int, help="page_events: last window (default: now)")
    ap.add_argument("--app-id", type=int, help="page_events: this app only (default: every app)")
    ap.add_argument(
        "--start-ms", type=int, default=0, help="start_date (visitors) / first day (events), ms"
    )
    args = ap.parse_args()

    session = requests.Session()
    session.headers.update(
        {"x-pendo-integration-key": args.key, "content-type": "application/json"}
    )
    url = args.url.rstrip("/") + "/api/v1/aggregation"
    out = sys.stdout.buffer
    prefix = b'{"type":"RECORD","stream":"' + args.stream.encode() + b'","record":'
    count = 0
    calls = 0

    def emit(rows: list) -> None:
        nonlocal count
        write = out.write
        for row in rows:
            write(prefix + orjson.dumps(row) + b"}\n")
        count += len(rows)

    if args.replay:
        with open(args.replay, "rb") as fh:
            bodies = orjson.loads(fh.read())
        for body in bodies:
            emit(post(session, url, body))
            calls += 1
    else:
        if args.stream == "visitors":
            gen = visitors_bodies(args.page_size, args.start_ms)
            body = next(gen)
            while True:
                rows = post(session, url, body)
                calls += 1
                emit(rows)
                try:
                    body = gen.send(rows)
                except StopIteration:
                    break
        else:
            for body in page_events_bodies(
                args.start_ms,
                args.end_ms or int(time.time() * 1000),
                [args.app_id] if args.app_id is not None else ALL_APPS,
            ):
                emit(post(session, url, body))
                calls += 1
    out.flush()
    point = {
        "type": "counter",
        "metric": "record_count",
        "value": count,
        "tags": {"stream": args.stream},
    }
    print(f"METRIC: {json.dumps(point)}", file=sys.stderr)
    print(f"floor: {count} rows in {calls} calls at {time.time():.0f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
