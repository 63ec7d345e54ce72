"""Profile our tap (cProfile, in the tap's own process) and list its hotspots.

    .venv/bin/python bench/run.py --parts profile [--quick]

The cProfile files are kept in bench/.work/ (`profile-<stream>.prof`) for snakeviz / pstats.
"""

from __future__ import annotations

import io
import pstats
from pathlib import Path

import tap_bench
from common import WORK, Sim, table


def profile(stream: str, rows: int, work: Path, top: int = 20) -> str:
    case = tap_bench.case_for(stream, rows)
    prof = WORK / f"profile-{stream}.prof"
    with Sim(case.sim) as sim:
        files = tap_bench.our_tap_files(work, sim.url, stream)
        res = tap_bench.run_ours(*files, stream, profile=prof)
    if res.rc != 0 or not prof.exists():
        return (
            f"### Profile `{stream}`: run failed (rc={res.rc})\n\n"
            f"```\n{res.stderr_tail[-1500:]}\n```"
        )
    return (
        f"### Profile `{stream}` ({res.records or 0:,} records, "
        f"{res.wall_s:.1f}s under cProfile)\n\n"
        + hotspot_tables(prof, ("tap_pendo", "pendo_http"), top)
    )


def hotspot_tables(prof: Path, ours: tuple[str, ...], top: int = 20) -> str:
    """Top functions by own time, and our own functions (path contains one of `ours`) by
    cumulative time, from a cProfile file."""
    st = pstats.Stats(str(prof), stream=io.StringIO())
    total = st.total_tt  # type: ignore[attr-defined]  # typeshed's pstats.Stats lacks it
    entries = []
    stats = st.stats  # type: ignore[attr-defined]  # typeshed's pstats.Stats lacks it
    for (file, line, func), (_cc, nc, tt, ct, _callers) in stats.items():
        entries.append((tt, ct, nc, f"{_short(file)}:{line}({func})"))
    by_self = sorted(entries, reverse=True)[:top]
    rows = [
        [f"{tt:.2f}", f"{100 * tt / total:.1f}%", f"{ct:.2f}", f"{nc:,}", name]
        for tt, ct, nc, name in by_self
    ]
    by_cum = sorted(entries, key=lambda e: e[1], reverse=True)
    cum_rows = [
        [f"{ct:.2f}", f"{100 * ct / total:.1f}%", f"{nc:,}", name]
        for tt, ct, nc, name in by_cum
        if any(o in name for o in ours)
    ][:12]
    return (
        f"Profiled CPU {total:.1f}s. Top {top} functions by own time:\n\n"
        + table(["own s", "own %", "cum s", "calls", "function"], rows)
        + f"\n\nOur code ({' / '.join(ours)}) by cumulative time:\n\n"
        + table(["cum s", "cum %", "calls", "function"], cum_rows)
    )


def _short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path
