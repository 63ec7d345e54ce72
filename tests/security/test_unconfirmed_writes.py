"""A 200 whose body is not Pendo's JSON answer (an HTML login page from a proxy) does not
confirm a metadata write or a bulk delete: nothing counts as written, the records are
dead-lettered with reason "unconfirmed" after the retry budget, and the run exits 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from pendo_sim import Simulator
from tests.helpers.target import record, run_target, schema, visitor_ids
from tests.security._shared import FIGURES, KEY, TRACK_SECRET
from tests.security.servers import EvilProxy, Rule, SinkServer

ENDPOINTS = {
    "metadata write": (r"^/api/v1/metadata/visitor/custom/value$", None, "updated"),
    "bulk delete": (r"^/api/v1/bulkdelete/visitor$", "2026-01-01T00:00:00Z", "deleted"),
}


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_html_200_is_not_a_confirmed_write(
    endpoint: str, ssim: Simulator, evil: EvilProxy, sink: SinkServer, tmp_path: Path
) -> None:
    path, deleted, outcome = ENDPOINTS[endpoint]
    evil.rules.append(Rule("POST", path, 200))
    config = {
        "integration_key": KEY,
        "track_event_secret": TRACK_SECRET,
        "api_url": evil.url,
        "dead_letter_path": str(tmp_path / "dead.jsonl"),
        "retry_backoff_seconds": 0.01,
        "max_retries": 3,
        "max_requests_per_second": 1000,
        "streams": {"visitors": {"object": "visitor", "on_delete": "delete"}},
    }
    props = {
        "visitorId": {"type": "string"},
        "plan": {"type": ["string", "null"]},
        "_sdc_deleted_at": {"type": ["string", "null"]},
    }
    ids = visitor_ids(ssim, 3)
    messages = [schema("visitors", props, ["visitorId"])]
    messages += [
        record("visitors", {"visitorId": v, "plan": "html", "_sdc_deleted_at": deleted})
        for v in ids
    ]
    run = run_target(config, messages, tmp_path)
    FIGURES["HTML 200 answers (target runs)"] += 1
    assert evil.fired >= 1
    summary = run.summary()["visitors"]
    assert summary[outcome] == 0, summary
    assert summary["dead_letter"] == len(ids)
    assert all("unconfirmed" in entry["reason"] for entry in run.dead_letters)
    assert run.rc == 1
    assert "Traceback" not in run.stderr
    assert sink.seen == []
