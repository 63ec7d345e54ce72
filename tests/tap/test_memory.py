"""Peak memory of a huge visitors sync: responses are stream-parsed, never held whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pendo_sim import DatasetConfig, Simulator

TAP_BIN = os.path.join(os.path.dirname(sys.executable), "tap-pendo")
# One response of ROWS visitors (page_size = ROWS). 200,000 rows are about 150 MB of JSON, so a
# tap that held the body whole would pass 200 MB; a million rows (about three minutes) on demand:
# TAP_PENDO_MEMORY_ROWS=1000000 pytest tests/tap/test_memory.py
ROWS = int(os.environ.get("TAP_PENDO_MEMORY_ROWS", "200000"))


# The tap's own peak, measured by a small launcher: Linux carries the parent's peak RSS into a
# child started by vfork/exec, so this test process (which holds the simulator's data) cannot
# read it from RUSAGE_CHILDREN itself.
REPORT_PEAK = (
    "import resource, subprocess, sys; rc = subprocess.call(sys.argv[2:]); "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); sys.exit(rc)"
)


@pytest.mark.slow
def test_huge_visitors_response_under_200_mb(tmp_path) -> None:  # noqa: ANN001
    with Simulator(DatasetConfig(seed=3, visitors=ROWS, accounts=50, anonymous_visitors=0)) as sim:
        config = {"integration_key": sim.integration_key, "api_url": sim.url, "page_size": ROWS}
        (tmp_path / "config.json").write_text(json.dumps(config))
        discovered = subprocess.run(  # noqa: S603
            [TAP_BIN, "--config", str(tmp_path / "config.json"), "--discover"],
            capture_output=True, text=True, check=True,
        )
        catalog = json.loads(discovered.stdout)
        for entry in catalog["streams"]:
            for item in entry["metadata"]:
                if item["breadcrumb"] == []:
                    item["metadata"]["selected"] = entry["stream"] == "visitors"
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        peak_file = tmp_path / "peak_kb"
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", REPORT_PEAK, str(peak_file),
             TAP_BIN, "--config", str(tmp_path / "config.json"), "--catalog", str(tmp_path / "catalog.json")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        records = sum(1 for line in process.stdout if line.startswith(b'{"type":"RECORD"'))
        assert process.wait() == 0
    assert records == ROWS
    peak_mb = int(peak_file.read_text()) / 1024
    print(f"\n[memory] {records} visitors in one response: tap peak RSS {peak_mb:.0f} MB")
    assert peak_mb < 200, f"peak RSS of the tap {peak_mb:.0f} MB"
