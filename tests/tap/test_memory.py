"""Peak memory of huge responses: a visitors page and an event window are stream-parsed,
never held whole, so the tap's peak RSS does not grow with their size.

ROWS defaults to 200,000 (a visitors response of about 150 MB of JSON: a tap holding the body
whole would pass 200 MB). A million rows on demand (about a minute each here):
TAP_PENDO_MEMORY_ROWS=1000000 pytest tests/tap/test_memory.py -s
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pendo_sim import DatasetConfig, Simulator
from tests.helpers.tap import TAP, catalog

ROWS = int(os.environ.get("TAP_PENDO_MEMORY_ROWS", "200000"))
LIMIT_MB = 200

# The tap's own peak, measured by a small launcher: Linux carries the parent's peak RSS into a
# child started by vfork/exec, so this test process (which holds the simulator's data) cannot
# read it from RUSAGE_CHILDREN itself.
REPORT_PEAK = (
    "import resource, subprocess, sys; rc = subprocess.call(sys.argv[2:]); "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); sys.exit(rc)"
)


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).isoformat()


def run_tap_measuring_peak_memory(tmp_path: Path, config: dict, stream: str) -> tuple[int, float]:
    """Records of `stream` the tap emitted, and the tap's peak RSS in MB."""
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "catalog.json").write_text(json.dumps(catalog(config, {stream})))
    peak_file = tmp_path / "peak_kb"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            REPORT_PEAK,
            str(peak_file),
            TAP,
            "--config",
            str(tmp_path / "config.json"),
            "--catalog",
            str(tmp_path / "catalog.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    records = sum(1 for line in process.stdout if line.startswith(b'{"type":"RECORD"'))
    assert process.wait() == 0
    return records, int(peak_file.read_text()) / 1024


@pytest.mark.slow
def test_huge_visitors_response_under_200_mb(tmp_path: Path) -> None:
    with Simulator(DatasetConfig(seed=3, visitors=ROWS, accounts=50, anonymous_visitors=0)) as sim:
        config = {"integration_key": sim.integration_key, "api_url": sim.url, "page_size": ROWS}
        records, peak_mb = run_tap_measuring_peak_memory(tmp_path, config, "visitors")
    print(f"\n[memory] {records} visitors in one response: tap peak RSS {peak_mb:.0f} MB")
    assert records == ROWS
    assert peak_mb < LIMIT_MB, f"peak RSS of the tap {peak_mb:.0f} MB"


@pytest.mark.slow
def test_huge_event_window_under_200_mb(tmp_path: Path) -> None:
    """One day window of page events (one aggregation response) with about ROWS rows."""
    dataset = DatasetConfig(
        seed=5,
        visitors=20_000,
        apps=1,
        event_days=1,
        event_rows_per_day=ROWS,
        guide_events_per_day=0,
        poll_events_per_day=0,
    )
    with Simulator(dataset) as sim:
        expected = sim.dataset.event_totals("pageEvents", *sim.dataset.event_range())["rows"]
        day = sim.dataset.event_range()[0]
        config = {
            "integration_key": sim.integration_key,
            "api_url": sim.url,
            "period": "dayRange",
            "start_date": iso(day + 3_600_000),
            "end_date": iso(day + 20 * 3_600_000),
            "lookback_window": 0,
        }
        records, peak_mb = run_tap_measuring_peak_memory(tmp_path, config, "page_events")
    print(f"\n[memory] {records} page_events rows in one window: tap peak RSS {peak_mb:.0f} MB")
    assert expected >= ROWS // 2, f"the simulator's day holds only {expected} rows"
    assert records == expected
    assert peak_mb < LIMIT_MB, f"peak RSS of the tap {peak_mb:.0f} MB"
