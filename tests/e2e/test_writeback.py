"""JSONL files -> tap-jsonl -> target-pendo -> the simulator, through Meltano (the demo's path)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.e2e import SIM_TRACK_SECRET, Meltano

pytestmark = pytest.mark.slow

EVENT = "E2E Report Exported"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_jsonl_files_through_target_pendo_reach_the_simulator(
    sim: Any, meltano: Meltano, tmp_path: Path
) -> None:
    visitors = [v["visitorId"] for v in sim.dataset.visitors(identified_only=True)[:4]]
    updates = [
        {"visitorId": vid, "plan": f"plan-{i}", "seats": 10 + i, "isbeta": i % 2 == 0}
        for i, vid in enumerate(visitors)
    ]
    now = sim.dataset.now_ms
    events = [
        {
            "event": EVENT,
            "visitorId": vid,
            "timestamp": now - i * 1000,
            "properties": {"format": "csv", "rows": i},
            "context": {},
        }
        for i, vid in enumerate(visitors[:3])
    ]
    dead_letter = tmp_path / "dead.jsonl"
    meltano.env.update(
        {
            "TAP_JSONL_VISITORS_PATH": str(
                write_jsonl(tmp_path / "visitor_updates.jsonl", updates)
            ),
            "TAP_JSONL_TRACK_PATH": str(write_jsonl(tmp_path / "track_events.jsonl", events)),
            "TARGET_PENDO_API_URL": sim.url,
            "TARGET_PENDO_TRACK_URL": f"{sim.url}/data/track",
            "TARGET_PENDO_INTEGRATION_KEY": sim.integration_key,
            "TARGET_PENDO_TRACK_EVENT_SECRET": getattr(sim, "track_secret", SIM_TRACK_SECRET),
            "TARGET_PENDO_DEAD_LETTER_PATH": str(dead_letter),
            "TARGET_PENDO_MAX_RETRIES": "3",
        }
    )

    result = meltano("run", "tap-jsonl-visitors", "target-pendo", "tap-jsonl-track", "target-pendo")

    for row in updates:
        custom = sim.store.metadata("visitor", row["visitorId"]).get("custom", {})
        assert {k: custom.get(k) for k in ("plan", "seats", "isbeta")} == {
            k: row[k] for k in ("plan", "seats", "isbeta")
        }, row["visitorId"]
    sent = [e for e in sim.store.track_events if e.get("event") == EVENT]
    assert sorted(e["visitorId"] for e in sent) == sorted(e["visitorId"] for e in events)
    assert all(e.get("properties", {}).get("format") == "csv" for e in sent)
    assert not dead_letter.exists() or not dead_letter.read_text().strip()
    assert "summary" in (result.stdout + result.stderr).lower()


def test_dry_run_writes_nothing(sim: Any, meltano: Meltano, tmp_path: Path) -> None:
    vid = sim.dataset.visitors(identified_only=True)[0]["visitorId"]
    before = sim.store.metadata("visitor", vid).get("custom", {}).get("plan")
    meltano.env.update(
        {
            "TAP_JSONL_VISITORS_PATH": str(
                write_jsonl(tmp_path / "v.jsonl", [{"visitorId": vid, "plan": "dry-run-plan"}])
            ),
            "TARGET_PENDO_API_URL": sim.url,
            "TARGET_PENDO_INTEGRATION_KEY": sim.integration_key,
            "TARGET_PENDO_DRY_RUN": "true",
            "TARGET_PENDO_DEAD_LETTER_PATH": str(tmp_path / "dead.jsonl"),
        }
    )
    meltano("run", "tap-jsonl-visitors", "target-pendo")
    assert sim.store.metadata("visitor", vid).get("custom", {}).get("plan") == before
    assert not [w for w in sim.store.metadata_writes if w.get("id") == vid]
