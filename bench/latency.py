"""Benchmarks under latency (issue 14): the simulator's "large" latency profile, scaled down.

    .venv/bin/python bench/latency.py --parts tap,target,partitions --scale 0.02

* tap: one year of the seven event streams, `max_concurrent_requests` 1, 2, 4, 8, 16: wall
  time, speed-up, peak RSS of the tap, the simulator's maximum requests per second and in
  flight. `visitor_history_concurrency` is set to the same level.
* target: 100,000 visitor metadata updates, concurrency 1 against 8.
* partitions: the six windowed event streams of the same year split in N = 2 and 4 date
  ranges (`start_date`/`end_date`), run side by side; their union against one full run by
  primary key, and no key in two partitions.

Time scale: every cost of the profile is multiplied by `--scale` (and the tap's
`max_requests_per_second` ceiling divided by it), so a run takes `scale` of the real time;
the simulator's rate is reported measured and converted back to real seconds.
"""

from __future__ import annotations

import argparse
import calendar
import itertools
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    INTEGRATION_KEY,
    RSS_GOAL_MB,
    VENV_BIN,
    WORK,
    Sim,
    SimConfig,
    log,
    run_measured,
    table,
    verdict,
    write_json,
)

EVENT_STREAMS = (
    "events",
    "page_events",
    "feature_events",
    "track_events",
    "guide_events",
    "poll_events",
)
ALL_STREAMS = (*EVENT_STREAMS, "visitor_history")
# A year of event days ending before today, so `end_date` is an exclusive bound in the past.
DATA_START_MS = 1_761_969_600_000  # 2025-11-01 local midnight, America/New_York (04:00Z)
YEAR_START = "2025-11-01T16:00:00Z"
YEAR_END = "2026-11-01T16:00:00Z"
PENDO_RATE = 100.0  # calls per second per endpoint (pendo-api.md §6)


def sim_config(args: argparse.Namespace, extra: list[str]) -> SimConfig:
    return SimConfig(
        visitors=args.visitors,
        event_days=366,
        event_rows_per_day=args.rows_per_day,
        extra=[
            "--start-ms",
            str(DATA_START_MS),
            "--anonymous-visitors",
            "0",
            "--accounts",
            "3",
            "--guide-events-per-day",
            str(max(1, args.rows_per_day // 2)),
            "--poll-events-per-day",
            str(max(1, args.rows_per_day // 10)),
            *extra,
        ],
    )


def tap_config(url: str, args: argparse.Namespace, concurrency: int, **extra: object) -> dict:
    return {
        "integration_key": INTEGRATION_KEY,
        "api_url": url,
        "start_date": YEAR_START,
        "end_date": YEAR_END,
        "request_timeout": 300,
        "progress_interval_seconds": 0,
        "max_concurrent_requests": concurrency,
        "visitor_history_concurrency": concurrency,
        "max_requests_per_second": PENDO_RATE / args.scale,
        **extra,
    }


def catalog_for(config_path: Path, streams: tuple[str, ...]) -> Path:
    out = subprocess.run(
        [str(VENV_BIN / "tap-pendo"), "--config", str(config_path), "--discover"],
        capture_output=True,
        text=True,
        check=True,
    )
    catalog = json.loads(out.stdout)
    for entry in catalog["streams"]:
        chosen = entry["tap_stream_id"] in streams
        for md in entry.get("metadata", []):
            if md.get("breadcrumb") == []:
                md["metadata"]["selected"] = chosen
    return write_json(config_path.with_suffix(".catalog.json"), catalog)


def reset(sim: Sim) -> None:
    sim.post_json("/_sim/stats/reset_rate")


def rate_figures(sim: Sim, scale: float) -> tuple[int, float, int]:
    stats = sim.stats()
    measured = int(stats.get("max_requests_per_second", 0))
    return measured, measured * scale, int(stats.get("max_in_flight", 0))


# -- tap -------------------------------------------------------------------------------------


def tap_part(args: argparse.Namespace, work: Path) -> str:
    levels = [int(x) for x in args.levels.split(",")]
    rows = []
    with Sim(
        sim_config(args, ["--latency-profile", "large", "--latency-scale", str(args.scale)])
    ) as sim:
        base_wall = None
        for level in levels:
            cfg = write_json(work / f"tap-c{level}.json", tap_config(sim.url, args, level))
            cat = catalog_for(cfg, ALL_STREAMS)
            reset(sim)
            before = sim.stats().get("requests", 0)
            argv = [str(VENV_BIN / "tap-pendo"), "--config", str(cfg), "--catalog", str(cat)]
            res = run_measured(f"tap-c{level}", "page_events", argv, timeout=7200)
            requests = sim.stats().get("requests", 0) - before
            measured, real_rate, in_flight = rate_figures(sim, args.scale)
            if base_wall is None:
                base_wall = res.wall_s
            speedup = base_wall / res.wall_s
            goal = speedup >= 0.8 * level if level <= 8 else None
            rows.append(
                [
                    level,
                    f"{res.wall_s:.1f}",
                    f"{res.wall_s / args.scale / 3600:.2f}",
                    f"{speedup:.2f}",
                    f"{0.8 * level:.1f}" if level <= 8 else "-",
                    f"{res.max_rss_mb:.0f}",
                    requests,
                    measured,
                    f"{real_rate:.1f}",
                    in_flight,
                    res.rc,
                    verdict(goal) if goal is not None else "-",
                    verdict(res.max_rss_mb < RSS_GOAL_MB and real_rate <= PENDO_RATE),
                ]
            )
    return table(
        [
            "max_concurrent_requests",
            "wall s",
            "real-time h",
            "speed-up",
            "goal",
            "peak RSS MB",
            "requests",
            "sim max req/s",
            "= real req/s",
            "sim max in flight",
            "rc",
            "speed-up >= 0.8 x",
            "RSS < 250 MB, <= 100 req/s",
        ],
        rows,
    )


# -- target ----------------------------------------------------------------------------------


def target_part(args: argparse.Namespace, work: Path) -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from target_bench import write_visitor_messages

    rows = []
    scale = args.target_scale
    cfg = SimConfig(visitors=args.target_records, event_days=1, event_rows_per_day=10)
    cfg.extra = ["--latency-profile", "large", "--latency-scale", str(scale)]
    with Sim(cfg) as sim:
        messages = write_visitor_messages(work / "target-input.jsonl", args.target_records)
        base_wall = None
        for level in (int(x) for x in args.target_levels.split(",")):
            config = {
                "integration_key": INTEGRATION_KEY,
                "api_url": sim.url,
                "batch_size": 500,
                "max_requests_per_second": PENDO_RATE / scale,
                "max_concurrent_requests": level,
                "dead_letter_path": str(work / f"dead-{level}.jsonl"),
                "progress_interval_seconds": 0,
            }
            path = write_json(work / f"target-c{level}.json", config)
            reset(sim)
            before = sim.stats().get("requests", 0)
            argv = [str(VENV_BIN / "target-pendo"), "--config", str(path)]
            res = run_measured(f"target-c{level}", "visitors", argv, stdin_path=str(messages))
            requests = sim.stats().get("requests", 0) - before
            measured, real_rate, in_flight = rate_figures(sim, scale)
            if base_wall is None:
                base_wall = res.wall_s
            speedup = base_wall / res.wall_s
            rows.append(
                [
                    level,
                    f"{res.wall_s:.1f}",
                    f"{speedup:.2f}",
                    f"{res.max_rss_mb:.0f}",
                    f"{res.cpu_s:.1f}",
                    requests,
                    measured,
                    f"{real_rate:.1f}",
                    in_flight,
                    res.rc,
                    verdict(speedup >= 0.8 * level) if level > 1 else "-",
                    verdict(res.max_rss_mb < RSS_GOAL_MB and real_rate <= PENDO_RATE),
                ]
            )
    return table(
        [
            "max_concurrent_requests",
            "wall s",
            "speed-up",
            "peak RSS MB",
            "CPU s",
            "requests",
            "sim max req/s",
            "= real req/s",
            "sim max in flight",
            "rc",
            "speed-up >= 0.8 x",
            "RSS < 250 MB, <= 100 req/s",
        ],
        rows,
    )


# -- partitions ------------------------------------------------------------------------------


def _keys(path: Path) -> dict[str, list[tuple]]:
    keys: dict[str, list[str]] = {}
    out: dict[str, list[tuple]] = defaultdict(list)
    with path.open("rb") as f:
        for line in f:
            msg = json.loads(line)
            if msg.get("type") == "SCHEMA":
                keys[msg["stream"]] = msg.get("key_properties") or []
            elif msg.get("type") == "RECORD":
                rec = msg["record"]
                out[msg["stream"]].append(tuple(rec.get(k) for k in keys[msg["stream"]]))
    return out


def _bounds(n: int) -> list[tuple[str, str]]:
    start = calendar.timegm(time.strptime(YEAR_START, "%Y-%m-%dT%H:%M:%SZ"))
    end = calendar.timegm(time.strptime(YEAR_END, "%Y-%m-%dT%H:%M:%SZ"))
    cuts = [start + (end - start) * i // n for i in range(n + 1)]
    iso = [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(c)) for c in cuts]
    iso[0], iso[-1] = YEAR_START, YEAR_END
    return list(itertools.pairwise(iso))


def partitions_part(args: argparse.Namespace, work: Path) -> str:
    rows = []
    level = args.partition_concurrency
    with Sim(
        sim_config(args, ["--latency-profile", "large", "--latency-scale", str(args.scale)])
    ) as sim:
        full_cfg = write_json(work / "part-full.json", tap_config(sim.url, args, level))
        cat = catalog_for(full_cfg, EVENT_STREAMS)
        full_out = work / "part-full.jsonl"
        argv = [str(VENV_BIN / "tap-pendo"), "--config", str(full_cfg), "--catalog", str(cat)]
        full = run_measured("part-full", "page_events", argv, stdout_path=str(full_out))
        full_keys = _keys(full_out)
        full_set = {(s, k) for s, ks in full_keys.items() for k in ks}
        rows.append(["1 (full run)", f"{full.wall_s:.1f}", len(full_set), "-", "-", "-", "-"])
        for n in (2, 4):
            procs = []
            t0 = time.perf_counter()
            outs = []
            for i, (lo, hi) in enumerate(_bounds(n)):
                cfg = write_json(
                    work / f"part-{n}-{i}.json",
                    tap_config(sim.url, args, level, start_date=lo, end_date=hi),
                )
                out = work / f"part-{n}-{i}.jsonl"
                outs.append(out)
                err = (work / f"part-{n}-{i}.stderr").open("wb")
                procs.append(
                    subprocess.Popen(
                        [str(VENV_BIN / "tap-pendo"), "--config", str(cfg), "--catalog", str(cat)],
                        stdout=out.open("wb"),
                        stderr=err,
                    )
                )
            codes = [p.wait() for p in procs]
            wall = time.perf_counter() - t0
            seen: dict[tuple, int] = {}
            twice = 0
            for i, out in enumerate(outs):
                for stream, ks in _keys(out).items():
                    for k in set(ks):
                        if (stream, k) in seen and seen[(stream, k)] != i:
                            twice += 1
                        seen.setdefault((stream, k), i)
            union = set(seen)
            rows.append(
                [
                    f"{n} side by side",
                    f"{wall:.1f}",
                    len(union),
                    len(full_set - union),
                    len(union - full_set),
                    twice,
                    verdict(union == full_set and twice == 0 and not any(codes)),
                ]
            )
            log(f"partitions n={n}: wall {wall:.1f}s, rc {codes}")
    return table(
        [
            "partitions",
            "wall s",
            "distinct keys",
            "missing vs full",
            "extra vs full",
            "keys in two partitions",
            "union == full, disjoint",
        ],
        rows,
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--parts", default="tap,target,partitions")
    p.add_argument("--scale", type=float, default=0.02, help="latency profile scale for the tap")
    p.add_argument("--target-scale", type=float, default=0.5)
    p.add_argument("--levels", default="1,2,4,8,16")
    p.add_argument("--visitors", type=int, default=5)
    p.add_argument("--rows-per-day", type=int, default=20)
    p.add_argument("--target-records", type=int, default=100_000)
    p.add_argument("--target-levels", default="1,8", help="the first is the speed-up's base")
    p.add_argument("--partition-concurrency", type=int, default=8)
    p.add_argument("--out", default=str(WORK / "latency-report.md"))
    args = p.parse_args()
    work = WORK / "latency"
    work.mkdir(parents=True, exist_ok=True)
    load = Path("/proc/loadavg").read_text().split()[:3]
    report = [
        f"# Latency benchmarks ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        f"load average at start: {' '.join(load)}; scale {args.scale} (tap), "
        f"{args.target_scale} (target)",
    ]
    for part in args.parts.split(","):
        log(f"part {part}")
        body = {"tap": tap_part, "target": target_part, "partitions": partitions_part}[part](
            args, work
        )
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        report += [f"## {part}", f"load average after: {load}", body]
        print("\n\n".join(report[-3:]), flush=True)
    Path(args.out).write_text("\n\n".join(report) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
