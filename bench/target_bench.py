"""Target benchmark: visitor metadata updates and track events into the rate-limited simulator."""

from __future__ import annotations

import json
import math
from pathlib import Path

from common import (
    INTEGRATION_KEY,
    ROOT,
    RSS_GOAL_MB,
    TRACK_SECRET,
    VENV_BIN,
    RunResult,
    Sim,
    SimConfig,
    fmt,
    run_measured,
    table,
    verdict,
    write_json,
)

PLANS = ("free", "pro", "enterprise")


def write_visitor_messages(path: Path, n: int) -> Path:
    """SCHEMA + n RECORDs of custom visitor metadata for existing visitors visitor-0..n-1."""
    schema = {
        "type": "SCHEMA",
        "stream": "visitors",
        "key_properties": ["visitorId"],
        "schema": {
            "type": "object",
            "properties": {
                "visitorId": {"type": "string"},
                "plan": {"type": ["string", "null"]},
                "seats": {"type": ["integer", "null"]},
                "score": {"type": ["number", "null"]},
                "isbeta": {"type": ["boolean", "null"]},
            },
        },
    }
    with path.open("w") as fh:
        fh.write(json.dumps(schema) + "\n")
        for i in range(n):
            rec = {
                "visitorId": f"visitor-{i}",
                "plan": PLANS[i % 3],
                "seats": i % 500,
                "score": (i % 1000) / 10.0,
                "isbeta": bool(i & 1),
            }
            fh.write(json.dumps({"type": "RECORD", "stream": "visitors", "record": rec}) + "\n")
    return path


def write_track_messages(path: Path, n: int, now_ms: int) -> Path:
    schema = {
        "type": "SCHEMA",
        "stream": "track_events",
        "key_properties": [],
        "schema": {
            "type": "object",
            "properties": {
                "visitorId": {"type": "string"},
                "accountId": {"type": ["string", "null"]},
                "event": {"type": "string"},
                "timestamp": {"type": "integer"},
                "properties": {"type": ["object", "null"]},
            },
        },
    }
    with path.open("w") as fh:
        fh.write(json.dumps(schema) + "\n")
        for i in range(n):
            rec = {
                "visitorId": f"visitor-{i % 1000}",
                "accountId": None,
                "event": "bench_event",
                "timestamp": now_ms - (n - i) * 10,
                "properties": {"i": i, "plan": PLANS[i % 3]},
            }
            fh.write(json.dumps({"type": "RECORD", "stream": "track_events", "record": rec}) + "\n")
    return path


def target_config(url: str, work: Path, batch_size: int, rps: int) -> dict:
    return {
        "integration_key": INTEGRATION_KEY,
        "track_event_secret": TRACK_SECRET,
        "api_url": url,
        "batch_size": batch_size,
        # The target's own client-side limit (default 20/s) set to the simulator's 100/s, so the
        # run shows what the server's limit allows, not the target's conservative default.
        "max_requests_per_second": rps,
        "dead_letter_path": str(work / "target-dead-letters.jsonl"),
    }


WRITE_METHODS = ("POST", "PUT")


def classify_calls(entries: list[dict], marker: str) -> tuple[list[dict], dict[str, int]]:
    """The run's write calls (POST/PUT to the write endpoint, retries included), and every
    other call counted by ``METHOD path`` (e.g. the one ``GET /metadata/schema/visitor`` the
    target reads to learn the field types), which is not a write and not in the calls goal."""
    writes, others = [], {}
    for e in entries:
        if e.get("method") in WRITE_METHODS and marker in e.get("path", ""):
            writes.append(e)
        else:
            key = f"{e.get('method')} {e.get('path')}"
            others[key] = others.get(key, 0) + 1
    return writes, others


def run_target(
    work: Path, n_meta: int, n_track: int, rate_limit: int = 100, batch_size: int = 500
) -> dict:
    out: dict = {
        "n_meta": n_meta,
        "n_track": n_track,
        "rate_limit": rate_limit,
        "runs": {},
        "batch_size": batch_size,
    }
    sim_cfg = SimConfig(
        visitors=max(n_meta, 1000), event_days=1, event_rows_per_day=100, rate_limit=rate_limit
    )
    with Sim(sim_cfg) as sim:
        cfg = write_json(
            work / "target-config.json", target_config(sim.url, work, batch_size, rate_limit)
        )
        now_ms = int(__import__("time").time() * 1000)
        for kind, n, writer in (
            ("metadata", n_meta, lambda p: write_visitor_messages(p, n_meta)),
            ("track", n_track, lambda p: write_track_messages(p, n_track, now_ms)),
        ):
            if n <= 0:
                continue
            msgs = writer(work / f"target-{kind}.jsonl")
            before_stats = sim.stats()
            before_log = len(sim.requests_log())
            argv = [str(VENV_BIN / "target-pendo"), "--config", str(cfg)]
            stream = "visitors" if kind == "metadata" else "track_events"
            res: RunResult = run_measured(
                f"target-{kind}", stream, argv, stdin_path=str(msgs), cwd=str(ROOT)
            )
            res.records = n if res.rc == 0 else res.records
            after_stats = sim.stats()
            entries = sim.requests_log()[before_log:]
            marker = "/metadata/" if kind == "metadata" else "/data/track"
            writes, others = classify_calls(entries, marker)
            statuses: dict[str, int] = {}
            for e in writes:
                st = str(e.get("status", "?"))
                statuses[st] = statuses.get(st, 0) + 1
            out["runs"][kind] = {
                "res": res,
                "calls_log": len(writes) if entries else None,
                "other_calls": others,
                "statuses": statuses,
                "stats_before": before_stats,
                "stats_after": after_stats,
            }
    return out


def target_tables(t: dict, batch_size: int) -> str:
    rows = []
    goals = []
    for kind, r in t["runs"].items():
        res: RunResult = r["res"]
        n = t["n_meta"] if kind == "metadata" else t["n_track"]
        calls = r["calls_log"]
        n429 = r["statuses"].get("429", 0)
        others = (
            ", ".join(f"{v} {k}" for k, v in sorted(r.get("other_calls", {}).items())) or "none"
        )
        rows.append(
            [
                kind,
                fmt(n),
                "ok" if res.rc == 0 else f"rc={res.rc}",
                fmt(res.wall_s, ".2f"),
                fmt(res.rps),
                fmt(calls),
                fmt(n429),
                others,
                fmt(res.max_rss_mb, ".0f"),
            ]
        )
        if kind == "metadata":
            expect = math.ceil(n / batch_size)
            goals.append(
                [
                    kind,
                    "records/s >= 5,000",
                    fmt(res.rps),
                    verdict(None if res.rps is None else res.rps >= 5000),
                ]
            )
            goals.append(
                [
                    kind,
                    f"calls = ceil(N/{batch_size}) + retries = {expect} + {n429}",
                    fmt(calls),
                    verdict(None if calls is None else calls == expect + n429),
                ]
            )
        else:
            floor_s = n / t["rate_limit"]
            goals.append(
                [
                    kind,
                    f"as fast as {t['rate_limit']}/s allows (>= {floor_s:.0f}s)",
                    f"{fmt(res.rps, '.1f')} rec/s",
                    verdict(res.rc == 0 and (res.rps or 0) >= 0.8 * t["rate_limit"]),
                ]
            )
            goals.append(
                [
                    kind,
                    "no unrecovered 429 (exit 0, every event accepted)",
                    f"rc={res.rc}, 429s={n429}",
                    verdict(res.rc == 0),
                ]
            )
        goals.append(
            [
                kind,
                f"peak RSS < {RSS_GOAL_MB:.0f} MB",
                fmt(res.max_rss_mb, ".0f"),
                verdict(res.max_rss_mb < RSS_GOAL_MB),
            ]
        )
    t1 = table(
        [
            "load",
            "records",
            "exit",
            "wall s",
            "records/s",
            "write calls (incl. retries)",
            "429s",
            "other calls (not writes)",
            "peak RSS MB",
        ],
        rows,
    )
    t2 = table(["load", "goal", "measured", "verdict"], goals)
    return t1 + "\n\n" + t2
