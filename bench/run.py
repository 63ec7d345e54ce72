#!/usr/bin/env python3
"""Benchmarks of tap-pendo / target-pendo against the local Pendo simulator.

    .venv/bin/python bench/run.py --quick          # small sizes, about 2 minutes
    .venv/bin/python bench/run.py                  # full sizes (see README)
    .venv/bin/python bench/run.py --parts tap      # only some parts: tap, growth, target, profile

Prints markdown tables on stdout (progress on stderr) and never fails on a goal: goals are
reported PASS/FAIL in the tables. Exit status is non-zero only if the harness itself breaks.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tap_bench
import target_bench
from common import PEER_PY, WORK, log, tmpdir

FULL = {
    "visitors": 200_000,
    "page_events": 1_000_000,
    "growth": [10_000, 100_000, 1_000_000],
    "target_meta": 100_000,
    "target_track": 10_000,
}
QUICK = {
    "visitors": 20_000,
    "page_events": 50_000,
    "growth": [2_000, 10_000, 50_000],
    "target_meta": 5_000,
    "target_track": 300,
}


def parse_peer_rounds(spec: str, streams: list[str]) -> dict[str, int]:
    """``"2"`` -> every stream 2; ``"visitors=2,page_events=1"`` -> per stream; ``""`` -> {}."""
    spec = spec.strip()
    if not spec:
        return {}
    if "=" not in spec:
        return {s: int(spec) for s in streams}
    out = {}
    for item in spec.split(","):
        name, _, n = item.partition("=")
        out[name.strip()] = int(n)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small sizes (< 2 min)")
    ap.add_argument(
        "--rounds", type=int, help="A B C rounds for the side-by-side (default 3 full, 1 quick)"
    )
    ap.add_argument(
        "--parts",
        default="tap,growth,target",
        help=(
            "comma list of: tap, growth, target, profile, profile-target "
            "(default tap,growth,target)"
        ),
    )
    ap.add_argument("--streams", default="visitors,page_events")
    ap.add_argument("--no-peer", action="store_true", help="skip singer-io tap-pendo")
    ap.add_argument(
        "--peer-rounds",
        default="",
        help="run singer-io only in the first N rounds: N, or per stream "
        "visitors=N,page_events=M (default: every round)",
    )
    ap.add_argument(
        "--batch-size",
        type=int,
        default=500,
        help="the target's metadata batch_size setting (its default is 500)",
    )
    ap.add_argument("--out", help="also write the markdown report to this file")
    ap.add_argument("--visitors", type=int, help="override the visitors side-by-side size")
    ap.add_argument("--page-events", type=int, help="override the page_events side-by-side size")
    ap.add_argument("--growth", help="override growth sizes, e.g. 10000,100000,1000000")
    ap.add_argument(
        "--growth-floor",
        action="store_true",
        help="growth: also run the floor on each data set (the simulator's share of the time)",
    )
    ap.add_argument(
        "--growth-to-now",
        action="store_true",
        help="growth: event windows up to now (default: up to the data's last day)",
    )
    ap.add_argument("--target-meta", type=int, help="override the metadata update count")
    ap.add_argument("--target-track", type=int, help="override the track event count")
    args = ap.parse_args()

    sizes = dict(QUICK if args.quick else FULL)
    for key, val in (
        ("visitors", args.visitors),
        ("page_events", args.page_events),
        ("target_meta", args.target_meta),
        ("target_track", args.target_track),
    ):
        if val is not None:
            sizes[key] = val
    if args.growth:
        sizes["growth"] = [int(x) for x in args.growth.split(",")]
    rounds = args.rounds or (1 if args.quick else 3)
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    streams = [s.strip() for s in args.streams.split(",") if s.strip()]
    with_peer = not args.no_peer and Path(PEER_PY).exists()
    peer_rounds = parse_peer_rounds(args.peer_rounds, streams)
    t0 = time.time()
    report: list[str] = []

    def emit(text: str = "") -> None:
        print(text, flush=True)
        report.append(text)

    emit(f"# Benchmark run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    emit()
    emit(
        f"Mode: {'quick' if args.quick else 'full'}; "
        f"command: `{' '.join(['.venv/bin/python'] + sys.argv)}`  "
    )
    emit(
        f"Host: {platform.platform()}, Python {platform.python_version()}, "
        f"{__import__('os').cpu_count()} CPUs. Every plugin writes to /dev/null; "
        "peak RSS is the plugin process's own `ru_maxrss` (os.wait4), "
        "the simulator runs as a separate process."
    )
    emit()

    with tmpdir("run-") as work:
        if "tap" in parts:
            outcomes = []
            for stream in streams:
                case = tap_bench.case_for(stream, sizes[stream])
                outcomes.append(
                    tap_bench.side_by_side(
                        case, rounds, work, with_peer=with_peer, peer_rounds=peer_rounds.get(stream)
                    )
                )
            emit(
                f"## Tap side by side ({rounds} round(s), "
                "order ours → singer-io → floor each round; medians)"
            )
            if peer_rounds:
                emit()
                emit(
                    "singer-io ran only in the first round(s) of each stream: "
                    + ", ".join(f"{s}: {n} of {rounds}" for s, n in peer_rounds.items())
                    + "."
                )
            emit()
            for o in outcomes:
                c = o["case"]
                emit(
                    f"- `{c.stream}`: simulator `{' '.join(c.sim.argv()[1:])}`; "
                    + "; ".join(o["notes"])
                )
            emit(
                "- singer-io tap-pendo 1.2.0 runs in its own venv with `pyhumps>=3`, "
                "its host globals pointed at the simulator and **its fixed "
                "1-request-per-2-s `time.sleep` rate limiter patched out** "
                "(bench/peer_wrapper.py); its retry sleeps are untouched. "
                "For page_events it must also sync its parent `pages` "
                "(a few dozen rows, not counted)."
            )
            emit(
                "- floor = bench/floor.py: same aggregation requests, "
                "one orjson RECORD line per row."
            )
            emit()
            emit(tap_bench.side_by_side_table(outcomes))
            emit()
            emit(tap_bench.goals_table(outcomes))
            emit()
        if "growth" in parts:
            rows = []
            for stream in streams:
                rows += tap_bench.growth(
                    stream,
                    sizes["growth"],
                    work,
                    to_now=args.growth_to_now,
                    with_floor=args.growth_floor,
                )
            emit("## Growth (our tap, one run per size)")
            emit()
            emit(
                "page_events windows end at "
                + (
                    "now (every empty day up to today included)."
                    if args.growth_to_now
                    else f"`end_date` {tap_bench.DATA_END_DATE}, the day after the data's last day."
                )
            )
            emit()
            emit(tap_bench.growth_table(rows))
            emit()
            emit(tap_bench.growth_verdicts(rows))
            emit()
        if "target" in parts:
            t = target_bench.run_target(
                work,
                sizes["target_meta"],
                sizes["target_track"],
                rate_limit=100,
                batch_size=args.batch_size,
            )
            emit(
                f"## Target ({sizes['target_meta']:,} visitor metadata updates, "
                f"{sizes['target_track']:,} track events; simulator `--rate-limit 100`)"
            )
            emit()
            emit(target_bench.target_tables(t, args.batch_size))
            emit()
        if "profile-target" in parts:
            import profile_target

            emit(profile_target.profile(sizes["target_meta"], work, batch_size=args.batch_size))
            emit()
        if "profile" in parts:
            import profile_tap

            for stream in streams:
                emit(profile_tap.profile(stream, sizes[stream], work))
                emit()
    emit(f"_Total bench time {time.time() - t0:.0f}s._")
    if args.out:
        Path(args.out).write_text("\n".join(report) + "\n")
        log(f"report written to {args.out}")
    WORK.mkdir(exist_ok=True)
    (WORK / "last-report.md").write_text("\n".join(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
