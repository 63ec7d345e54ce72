"""Progress lines of a long target run, at the configured interval, from the ledger's counts."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.helpers.target import record, run_target, schema

TRACK_PROPS = {
    "visitorId": {"type": "string"},
    "event": {"type": "string"},
    "timestamp": {"type": "integer"},
}
PROGRESS = re.compile(r"track_events: (\d+) received, (\d+) done(?: \(sent (\d+)\))?, (\d+) rec/s")


def events(count: int) -> list[dict]:
    now_ms = int(time.time() * 1000)
    return [schema("track_events", TRACK_PROPS)] + [
        record("track_events", {"visitorId": f"v{n}", "event": "Progress", "timestamp": now_ms - n})
        for n in range(count)
    ]


def test_progress_lines_at_the_interval(tsim, tconfig, tmp_path: Path) -> None:
    # 40 events at 20 requests a second: about two seconds, so several lines 0.3 s apart.
    tconfig.update(max_requests_per_second=20, progress_interval_seconds=0.3)
    run = run_target(tconfig, events(40), tmp_path)
    assert run.rc == 0, run.stderr
    lines = [PROGRESS.search(line) for line in run.stderr.splitlines()]
    counts = [(int(m[1]), int(m[2])) for m in lines if m]
    assert len(counts) >= 3, run.stderr[-3000:]
    done = [d for _, d in counts]
    assert done == sorted(done) and done[0] < 40, counts  # it moves, and lines come while it works
    assert all(received >= finished for received, finished in counts)
    assert run.summary()["track_events"]["sent"] == 40


def test_interval_zero_turns_the_lines_off(tsim, tconfig, tmp_path: Path) -> None:
    tconfig.update(max_requests_per_second=50, progress_interval_seconds=0)
    run = run_target(tconfig, events(20), tmp_path)
    assert run.rc == 0, run.stderr
    assert not any(PROGRESS.search(line) for line in run.stderr.splitlines())
