"""Progress lines: `<stream>: N records, R rec/s` in the tap's log at the configured interval."""

from __future__ import annotations

import re
from pathlib import Path

from pendo_sim import DatasetConfig, Simulator
from tap_pendo.tap import TapPendo
from tests.helpers.tap import run_tap, tap_config

LINE = re.compile(r"visitors: (\d+) records, (\d+) rec/s")
DONE = re.compile(r"visitors: done, (\d+) records in [\d.]+ s, \d+ rec/s")
VISITORS = 6000


def _run_visitors(sim: Simulator, tmp_path: Path, **settings: object) -> tuple[int, str]:
    config = {**tap_config(sim, max_retries=5, request_timeout=10), **settings}
    out = run_tap(tmp_path, config, ["visitors"], timeout=300)
    assert out.rc == 0, out.stderr[-3000:]
    records = sum(1 for line in out.stdout.splitlines() if line.startswith('{"type":"RECORD"'))
    return records, out.stderr


def test_progress_lines_at_a_tiny_interval(tmp_path: Path) -> None:
    with Simulator(
        DatasetConfig(seed=4, visitors=VISITORS, accounts=20, anonymous_visitors=0)
    ) as sim:
        records, log = _run_visitors(sim, tmp_path, progress_interval_seconds=0.000001)
    counts = [int(m.group(1)) for m in LINE.finditer(log)]
    # The clock is read every 1000 records: with any interval that small, one line per check.
    assert counts == list(range(1000, records + 1, 1000))
    assert all(int(m.group(2)) > 0 for m in LINE.finditer(log))
    done = DONE.findall(log)
    assert done == [str(records)]
    assert records == VISITORS


def test_progress_lines_off_with_zero(tmp_path: Path) -> None:
    with Simulator(DatasetConfig(seed=4, visitors=3000, accounts=20, anonymous_visitors=0)) as sim:
        records, log = _run_visitors(sim, tmp_path, progress_interval_seconds=0)
    assert records == 3000
    assert not LINE.search(log) and not DONE.search(log)


def test_setting_is_in_the_config_schema() -> None:
    prop = TapPendo.config_jsonschema["properties"]["progress_interval_seconds"]
    assert prop["default"] == 30
    assert "progress" in prop["description"]
