"""Profile target-pendo (cProfile, in the target's own process) on visitor metadata updates.

    .venv/bin/python bench/run.py --parts profile-target [--target-meta N]

The cProfile file is kept in bench/.work/profile-target.prof for snakeviz / pstats.
"""

from __future__ import annotations

from pathlib import Path

import target_bench
from common import PY, ROOT, WORK, Sim, SimConfig, run_measured, write_json
from profile_tap import hotspot_tables


def profile(n_meta: int, work: Path, batch_size: int = 500, top: int = 20) -> str:
    prof = WORK / "profile-target.prof"
    sim_cfg = SimConfig(
        visitors=max(n_meta, 1000), event_days=1, event_rows_per_day=100, rate_limit=100
    )
    with Sim(sim_cfg) as sim:
        cfg = write_json(
            work / "target-profile-config.json",
            target_bench.target_config(sim.url, work, batch_size, 100),
        )
        msgs = target_bench.write_visitor_messages(work / "target-profile.jsonl", n_meta)
        argv = [
            PY,
            "-m",
            "cProfile",
            "-o",
            str(prof),
            "-m",
            "target_pendo.target",
            "--config",
            str(cfg),
        ]
        res = run_measured("target-profile", "visitors", argv, stdin_path=str(msgs), cwd=str(ROOT))
    if res.rc != 0 or not prof.exists():
        return (
            f"### Profile target: run failed (rc={res.rc})\n\n```\n{res.stderr_tail[-1500:]}\n```"
        )
    return (
        f"### Profile target-pendo ({n_meta:,} visitor metadata updates, "
        f"{res.wall_s:.1f}s under cProfile)\n\n"
        + hotspot_tables(prof, ("target_pendo", "pendo_http"), top)
    )
