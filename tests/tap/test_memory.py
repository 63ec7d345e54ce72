"""Peak memory of a huge visitors sync: responses are stream-parsed, never held whole."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import pytest

from pendo_sim import DatasetConfig, Simulator

TAP_BIN = os.path.join(os.path.dirname(sys.executable), "tap-pendo")
ROWS = int(os.environ.get("TAP_PENDO_MEMORY_ROWS", "1000000"))


# About three minutes for a million rows, so opt-in: TAP_PENDO_MEMORY_ROWS=1000000 pytest -m slow ...
@pytest.mark.slow
@pytest.mark.skipif("TAP_PENDO_MEMORY_ROWS" not in os.environ, reason="set TAP_PENDO_MEMORY_ROWS to run")
def test_million_visitors_under_200_mb(tmp_path) -> None:  # noqa: ANN001
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
        process = subprocess.Popen(  # noqa: S603
            [TAP_BIN, "--config", str(tmp_path / "config.json"), "--catalog", str(tmp_path / "catalog.json")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        records = sum(1 for line in process.stdout if line.startswith(b'{"type":"RECORD"'))
        assert process.wait() == 0
    assert records == ROWS
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert peak_mb < 200, f"peak RSS of the tap {peak_mb:.0f} MB"
