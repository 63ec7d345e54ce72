"""The floor: the least work that moves the same rows from the simulator to stdout.

It sends the same aggregation requests our tap sends and writes one orjson line per row
(a Singer-shaped RECORD line, ``{"type":"RECORD","stream":...,"record":row}``), with no schema,
no type conformance, no state. It is what it costs to move the bytes at all.

Two modes:
- ``--replay BODIES.json``: POST exactly these request bodies in order (captured from our
  tap's requests in the simulator's request log during the same benchmark run);
- otherwise, built-in pipelines of the same shape: visitors paged by key
  (sort visitorId, filter visitorId>"last", limit page_size) and page events one day window
  per request (dayRange, count 1, all apps).

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


def visitors_bodies(page_size: int, include_anonymous: bool):  # noqa: ANN201
    last = ""
    while True:
        pipeline = [
            {"source": {"visitors": None if include_anonymous else {"identified": True}}},
            {"sort": ["visitorId"]},
            {"filter": f"visitorId>{json.dumps(last)}"},
            {"limit": page_size},
        ]
        rows = yield {"response": {"mimeType": "application/json"}, "request": {"pipeline": pipeline}}
        if not rows or len(rows) < page_size:
            return
        last = rows[-1]["visitorId"]


def page_events_bodies(first_ms: int, days: int):  # noqa: ANN201
    for d in range(days):
        pipeline = [
            {
                "source": {
                    "pageEvents": {"appId": ALL_APPS},
                    "timeSeries": {"period": "dayRange", "first": first_ms + d * DAY_MS, "count": 1},
                }
            }
        ]
        yield {"response": {"mimeType": "application/json"}, "request": {"pipeline": pipeline}}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True, help="simulator base URL (without /api/v1)")
    ap.add_argument("--key", default="bench-key")
    ap.add_argument("--stream", required=True, choices=["visitors", "page_events"])
    ap.add_argument("--replay", help="JSON list of request bodies to send in order")
    ap.add_argument("--page-size", type=int, default=50_000)
    ap.add_argument("--first-ms", type=int, default=0)
    ap.add_argument("--days", type=int, default=1)
    args = ap.parse_args()

    session = requests.Session()
    session.headers.update({"x-pendo-integration-key": args.key, "content-type": "application/json"})
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
            gen = visitors_bodies(args.page_size, include_anonymous=False)
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
            for body in page_events_bodies(args.first_ms, args.days):
                emit(post(session, url, body))
                calls += 1
    out.flush()
    point = {"type": "counter", "metric": "record_count", "value": count, "tags": {"stream": args.stream}}
    print(f"METRIC: {json.dumps(point)}", file=sys.stderr)
    print(f"floor: {count} rows in {calls} calls at {time.time():.0f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
