"""Tap benchmarks: ours vs singer-io tap-pendo 1.2.0 vs the floor, and growth with size.

Each plugin is a subprocess writing to /dev/null; the simulator is another subprocess.
"""

from __future__ import annotations

import copy
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from common import (
    BENCH,
    INTEGRATION_KEY,
    PEER_PY,
    PY,
    ROOT,
    RSS_GOAL_MB,
    VENV_BIN,
    RunResult,
    Sim,
    SimConfig,
    fmt,
    log,
    median,
    run_measured,
    table,
    verdict,
    write_json,
)

# The simulator's event data starts on 2026-03-06 (local midnight, America/New_York); visitors'
# lastupdated values start 30 days before that. Both taps filter on start_date.
START_DATES = {"visitors": "2000-01-01T00:00:00Z", "page_events": "2026-03-05T05:00:00Z"}
START_MS = {"visitors": 946684800000, "page_events": 1772686800000}  # 2026-03-05 00:00 New York

# page_events is measured on the simulator's default app only. The simulator has two apps and,
# like Pendo, answers a source without `appId` with the default app's rows only. singer-io's
# page_events lists the pages of every app but queries `pageEvents{pageId}` without an `appId`,
# so on a two-app subscription it silently gets only the default app's rows (about half).
# Restricting every contender to the default app gives all three the same rows to move.
DEFAULT_APP = -323232
# The simulator spreads a day's rows over its two apps about evenly: ask for twice the rows so
# the default app holds about the requested number.
APPS_IN_SIM = 2


@dataclass
class StreamCase:
    stream: str
    sim: SimConfig
    expected_rows: int


def case_for(stream: str, rows: int, days: int = 5) -> StreamCase:
    if stream == "visitors":
        return StreamCase(
            stream, SimConfig(visitors=rows, event_days=1, event_rows_per_day=100), rows
        )
    per_day = max(1, rows * APPS_IN_SIM // days)
    return StreamCase(
        stream, SimConfig(visitors=2000, event_days=days, event_rows_per_day=per_day), rows
    )


# ---------------------------------------------------------------------------------------------
# Our tap
# ---------------------------------------------------------------------------------------------


# The day after the simulator's last event day (5 days from 2026-03-06, New York): growth runs
# stop their event windows here, so the ~260 empty one-day windows up to today (a fixed cost
# of about 12 s, the same at every size) do not hide how time grows with rows.
DATA_END_DATE = "2026-03-12T00:00:00Z"


def our_config(url: str, stream: str, end_date: str | None = None) -> dict:
    cfg = {
        "integration_key": INTEGRATION_KEY,
        "api_url": url,
        "max_retries": 3,
        "retry_backoff_seconds": 0.2,
        # CPU-bound comparison: unpaced like the floor and like singer-io (its limiter patched
        # out). The default ceiling (50 requests/s, for Pendo's limit) would hold the ~270 empty
        # one-day windows up to today at 5.4 s against a simulator that answers in under 1 ms.
        "max_requests_per_second": 0,
    }
    # Visitors: no start_date, i.e. everything (with one, our tap skips rows that have no
    # lastupdated, by design); events: from the day before the simulator's first event day.
    if stream != "visitors":
        cfg["start_date"] = START_DATES[stream]
        cfg["app_ids"] = [str(DEFAULT_APP)]
        if end_date:
            cfg["end_date"] = end_date
    return cfg


def select_in_catalog(catalog: dict, stream: str) -> dict:
    """Select one stream (all its properties), deselect the others."""
    cat = copy.deepcopy(catalog)
    for entry in cat["streams"]:
        on = entry.get("tap_stream_id", entry.get("stream")) == stream
        for md in entry.get("metadata", []):
            if md.get("breadcrumb") in ([], ()):
                md["metadata"]["selected"] = on
            elif on:
                md["metadata"]["selected"] = True
    return cat


def discover(argv: list[str], env: dict | None = None) -> dict:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"discover failed ({' '.join(argv)}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def our_tap_files(
    work: Path, url: str, stream: str, end_date: str | None = None
) -> tuple[Path, Path]:
    cfg = write_json(work / f"ours-config-{stream}.json", our_config(url, stream, end_date))
    catalog = discover([str(VENV_BIN / "tap-pendo"), "--config", str(cfg), "--discover"])
    cat = write_json(work / f"ours-catalog-{stream}.json", select_in_catalog(catalog, stream))
    return cfg, cat


def run_ours(cfg: Path, cat: Path, stream: str, *, profile: Path | None = None) -> RunResult:
    argv = [str(VENV_BIN / "tap-pendo"), "--config", str(cfg), "--catalog", str(cat)]
    if profile is not None:
        argv = [
            PY,
            "-m",
            "cProfile",
            "-o",
            str(profile),
            "-m",
            "tap_pendo.tap",
            "--config",
            str(cfg),
            "--catalog",
            str(cat),
        ]
    return run_measured("ours", stream, argv, cwd=str(ROOT))


# ---------------------------------------------------------------------------------------------
# singer-io tap-pendo 1.2.0 (its own venv, its own interpreter)
# ---------------------------------------------------------------------------------------------


def peer_config(stream: str) -> dict:
    return {
        "x_pendo_integration_key": INTEGRATION_KEY,
        "period": "dayRange",
        "start_date": START_DATES[stream],
        "lookback_window": 0,
        "include_anonymous_visitors": "false",
        "request_timeout": 300,
        # record_limit left at its default (100,000)
        **({"app_ids": str(DEFAULT_APP)} if stream != "visitors" else {}),
    }


def peer_files(work: Path, url: str, stream: str) -> tuple[Path, Path]:
    cfg = write_json(work / f"peer-config-{stream}.json", peer_config(stream))
    env = {"PENDO_SIM_URL": url, "PATH": "/usr/bin:/bin"}
    catalog = discover(
        [PEER_PY, str(BENCH / "peer_wrapper.py"), "--config", str(cfg), "--discover"], env
    )
    # page_events is a child of pages in the peer: the parent must be selected too.
    wanted = {stream} | ({"pages"} if stream == "page_events" else set())
    cat = copy.deepcopy(catalog)
    for entry in cat["streams"]:
        on = entry["tap_stream_id"] in wanted
        for md in entry["metadata"]:
            if md["breadcrumb"] == []:
                md["metadata"]["selected"] = on
    return cfg, write_json(work / f"peer-catalog-{stream}.json", cat)


def run_peer(url: str, cfg: Path, cat: Path, stream: str) -> RunResult:
    argv = [PEER_PY, str(BENCH / "peer_wrapper.py"), "--config", str(cfg), "--catalog", str(cat)]
    return run_measured("singer-io", stream, argv, env={"PENDO_SIM_URL": url})


# ---------------------------------------------------------------------------------------------
# The floor
# ---------------------------------------------------------------------------------------------


def run_floor(
    url: str, stream: str, replay: Path | None, days: int, end_ms: int | None = None
) -> RunResult:
    argv = [PY, str(BENCH / "floor.py"), "--url", url, "--key", INTEGRATION_KEY, "--stream", stream]
    if replay is not None:
        argv += ["--replay", str(replay)]
    else:
        argv += ["--start-ms", str(START_MS[stream] if stream != "visitors" else 0)]
    if stream != "visitors":
        argv += ["--app-id", str(DEFAULT_APP)]
        if end_ms is not None:
            argv += ["--end-ms", str(end_ms)]
    return run_measured("floor", stream, argv)


# ---------------------------------------------------------------------------------------------
# Side-by-side
# ---------------------------------------------------------------------------------------------


def side_by_side(
    case: StreamCase,
    rounds: int,
    work: Path,
    *,
    with_peer: bool = True,
    peer_rounds: int | None = None,
) -> dict:
    """A B C A B C ... against one simulator holding the case's data; singer-io only in the
    first ``peer_rounds`` rounds (all rounds when None)."""
    results: dict[str, list[RunResult]] = {"ours": [], "singer-io": [], "floor": []}
    notes: list[str] = []
    with Sim(case.sim) as sim:
        ours_files = None
        try:
            ours_files = our_tap_files(work, sim.url, case.stream)
        except Exception as exc:
            notes.append(f"our tap could not run: {str(exc).strip().splitlines()[-1][:200]}")
            log(notes[-1])
        peer = None
        if with_peer:
            try:
                peer = peer_files(work, sim.url, case.stream)
            except Exception as exc:
                notes.append(
                    f"singer-io tap could not run: {str(exc).strip().splitlines()[-1][:200]}"
                )
                log(notes[-1])
        replay: Path | None = None
        for r in range(rounds):
            log(f"--- {case.stream} round {r + 1}/{rounds}")
            if ours_files:
                before = sim.stats().get("by_path", {})
                results["ours"].append(run_ours(*ours_files, case.stream))
                if r == 0:
                    after = sim.stats().get("by_path", {})
                    calls = {
                        k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)
                    }
                    notes.append(f"our tap's HTTP calls per run: {calls}")
            if peer and (peer_rounds is None or r < peer_rounds):
                results["singer-io"].append(run_peer(sim.url, *peer, case.stream))
            results["floor"].append(run_floor(sim.url, case.stream, replay, case.sim.event_days))
        stats = sim.stats()
    notes.append("floor sends our tap's pipelines (rebuilt in bench/floor.py)")
    return {"case": case, "results": results, "notes": notes, "sim_stats": stats}


def summarize(runs: list[RunResult]) -> dict:
    ok = [r for r in runs if r.rc == 0]
    return {
        "n": len(ok),
        "failed": len(runs) - len(ok),
        "records": median([r.records for r in ok]),
        "wall": median([r.wall_s for r in ok]),
        "cpu": median([r.cpu_s for r in ok]),
        "rps": median([r.rps for r in ok]),
        "rss": max((r.max_rss_mb for r in ok), default=None),
    }


def side_by_side_table(outcomes: list[dict]) -> str:
    rows = []
    for o in outcomes:
        stream = o["case"].stream
        for name in ("ours", "singer-io", "floor"):
            s = summarize(o["results"][name])
            if not o["results"][name]:
                rows.append([stream, name, "not run", "", "", "", "", ""])
                continue
            rows.append(
                [
                    stream,
                    name,
                    f"{s['n']}/{s['n'] + s['failed']}",
                    fmt(s["records"]),
                    fmt(s["wall"], ".2f"),
                    fmt(s["cpu"], ".2f"),
                    fmt(s["rps"]),
                    fmt(s["rss"], ".0f"),
                ]
            )
    return table(
        [
            "stream",
            "tap",
            "ok runs",
            "records",
            "median wall s",
            "median CPU s",
            "median records/s",
            "max peak RSS MB",
        ],
        rows,
    )


def goals_table(outcomes: list[dict]) -> str:
    rows = []
    for o in outcomes:
        stream = o["case"].stream
        ours = summarize(o["results"]["ours"])
        peer = summarize(o["results"]["singer-io"])
        floor = summarize(o["results"]["floor"])
        r_peer = ours["rps"] / peer["rps"] if ours["rps"] and peer["rps"] else None
        r_floor = ours["rps"] / floor["rps"] if ours["rps"] and floor["rps"] else None
        rows.append(
            [
                stream,
                "ours/singer-io records/s >= 3",
                fmt(r_peer, ".2f"),
                verdict(None if r_peer is None else r_peer >= 3),
            ]
        )
        rows.append(
            [
                stream,
                "ours/floor records/s >= 1/3",
                fmt(r_floor, ".2f"),
                verdict(None if r_floor is None else r_floor >= 1 / 3),
            ]
        )
        rows.append(
            [
                stream,
                f"ours peak RSS < {RSS_GOAL_MB:.0f} MB",
                fmt(ours["rss"], ".0f"),
                verdict(None if ours["rss"] is None else ours["rss"] < RSS_GOAL_MB),
            ]
        )
        if ours["records"] is not None and ours["records"] != floor["records"]:
            rows.append(
                [
                    stream,
                    "same rows as floor",
                    f"{fmt(ours['records'])} vs {fmt(floor['records'])}",
                    "CHECK",
                ]
            )
    return table(["stream", "goal", "measured", "verdict"], rows)


def growth(
    stream: str, sizes: list[int], work: Path, *, to_now: bool = False, with_floor: bool = False
) -> list[dict]:
    """Our tap at each size (and the floor on the same data when ``with_floor``, to tell the
    simulator's share of the time from ours). Event streams stop at DATA_END_DATE unless
    ``to_now``."""
    out = []
    for n in sizes:
        case = case_for(stream, n)
        with Sim(case.sim) as sim:
            try:
                end = None if to_now or stream == "visitors" else DATA_END_DATE
                files = our_tap_files(work, sim.url, stream, end)
            except Exception as exc:
                log(f"growth {stream} {n}: our tap could not run: {exc}")
                out.append({"stream": stream, "size": n, "res": None})
                continue
            row = {"stream": stream, "size": n, "res": run_ours(*files, stream)}
            if with_floor:
                row["floor"] = run_floor(
                    sim.url,
                    stream,
                    None,
                    case.sim.event_days,
                    end_ms=None if end is None else _ms(end),
                )
            out.append(row)
    return out


def _ms(iso: str) -> int:
    import datetime as dt

    return int(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def growth_table(rows: list[dict]) -> str:
    body = []
    base: dict[str, tuple[float, float]] = {}
    for g in rows:
        res: RunResult | None = g["res"]
        if res is None or res.rc != 0:
            body.append([g["stream"], fmt(g["size"]), "failed", "", "", "", "", ""])
            continue
        us_per = res.wall_s / res.records * 1e6 if res.records else None
        if g["stream"] not in base and us_per:
            base[g["stream"]] = (us_per, res.max_rss_mb)
        b = base.get(g["stream"])
        cpu_us = res.cpu_s / res.records * 1e6 if res.records else None
        fl: RunResult | None = g.get("floor")
        floor_cells = (
            [fmt(fl.wall_s, ".2f"), fmt(fl.records)]
            if fl is not None and fl.rc == 0
            else ["n/a", "n/a"]
        )
        body.append(
            [
                g["stream"],
                fmt(g["size"]),
                fmt(res.records),
                fmt(res.wall_s, ".2f"),
                fmt(res.rps),
                fmt(us_per, ".1f"),
                fmt(res.cpu_s, ".2f"),
                fmt(cpu_us, ".1f"),
                *floor_cells,
                fmt(res.max_rss_mb, ".0f"),
                verdict(res.max_rss_mb < RSS_GOAL_MB),
            ]
        )
        _ = b
    return table(
        [
            "stream",
            "rows asked",
            "records",
            "wall s",
            "records/s",
            "wall µs/record",
            "CPU s",
            "CPU µs/record",
            "floor wall s",
            "floor records",
            "peak RSS MB",
            f"RSS < {RSS_GOAL_MB:.0f} MB",
        ],
        body,
    )


def growth_verdicts(rows: list[dict]) -> str:
    """Linear time: µs/record at the largest size within 1.5x of the middle one; flat memory:
    peak RSS at the largest size within 1.5x of the smallest."""
    lines = []
    for stream in sorted({g["stream"] for g in rows}):
        ok = [
            g["res"]
            for g in rows
            if g["stream"] == stream and g["res"] and g["res"].rc == 0 and g["res"].records
        ]
        if len(ok) < 2:
            lines.append([stream, "linear time", "n/a", "n/a"])
            lines.append([stream, "flat memory", "n/a", "n/a"])
            continue
        per = [r.wall_s / r.records for r in ok]
        ratio_t = per[-1] / per[-2]
        cpu_per = [r.cpu_s / r.records for r in ok]
        ratio_c = cpu_per[-1] / cpu_per[-2]
        ratio_m = ok[-1].max_rss_mb / ok[0].max_rss_mb
        lines.append(
            [
                stream,
                "wall time/record largest vs next size <= 1.5x",
                f"{ratio_t:.2f}x",
                verdict(ratio_t <= 1.5),
            ]
        )
        lines.append(
            [
                stream,
                "CPU time/record largest vs next size <= 1.5x",
                f"{ratio_c:.2f}x",
                verdict(ratio_c <= 1.5),
            ]
        )
        lines.append(
            [
                stream,
                "peak RSS largest vs smallest <= 1.5x",
                f"{ratio_m:.2f}x",
                verdict(ratio_m <= 1.5),
            ]
        )
    return table(["stream", "goal", "measured", "verdict"], lines)
