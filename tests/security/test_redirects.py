"""No redirect is followed by either plugin, on any endpoint they call.

An evil proxy in front of the simulator answers one endpoint with 301/302/303/307/308 and a
Location on a second loopback server (the sink). For every endpoint and status: the sink
receives nothing (neither the key nor the data), no record counts as written, every record
the target held is dead-lettered with a reason that names the redirect, and the plugin exits
non-zero with a message naming the status and the Location host, never the key.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from pendo_sim import Simulator
from tests.helpers.tap import catalog, cli_args
from tests.helpers.target import record, run_target, schema, visitor_ids
from tests.security._shared import FIGURES, KEY, TRACK_SECRET
from tests.security.servers import EvilProxy, Rule, SinkServer

STATUSES = (301, 302, 303, 307, 308)
WRITTEN = ("updated", "created", "sent", "deleted")

TAP_ENDPOINTS = {
    "key check": (Rule("GET", r"^/api/v1/token/verify$", 0), ["pages"]),
    "GET list": (Rule("GET", r"^/api/v1/page$", 0), ["pages"]),
    "aggregation": (Rule("POST", r"^/api/v1/aggregation$", 0), ["accounts"]),
    "metadata schema": (Rule("GET", r"^/api/v1/metadata/schema/", 0), None),  # discovery
}
TARGET_ENDPOINTS = {
    "metadata write": Rule("POST", r"^/api/v1/metadata/visitor/custom/value$", 0),
    "track event": Rule("POST", r"^/data/track$", 0),
    "bulk delete": Rule("POST", r"^/api/v1/bulkdelete/visitor$", 0),
    "metadata schema read": Rule("GET", r"^/api/v1/metadata/schema/visitor$", 0),
}


def assert_secret_free(*texts: str) -> None:
    for text in texts:
        assert KEY not in text
        assert TRACK_SECRET not in text


def assert_sink_untouched(sink: SinkServer) -> None:
    assert sink.seen == [], (
        f"the redirect target received {[(s.method, s.path) for s in sink.seen]}"
    )


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("endpoint", sorted(TAP_ENDPOINTS))
def test_tap_stops_on_a_redirect(
    endpoint: str,
    status: int,
    ssim: Simulator,
    evil: EvilProxy,
    sink: SinkServer,
    tmp_path: Path,
) -> None:
    rule, streams = TAP_ENDPOINTS[endpoint]
    direct = {
        "integration_key": KEY,
        "api_url": ssim.url,
        "start_date": "2026-03-01T00:00:00Z",
        "retry_backoff_seconds": 0.01,
        "max_retries": 3,
        "request_timeout": 10,
    }
    cat = catalog(direct, streams) if streams is not None else None
    evil.rules.append(Rule(rule.method, rule.path, status))
    args = cli_args(tmp_path, {**direct, "api_url": evil.url}, cat, None)
    if cat is None:
        args.append("--discover")
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    FIGURES["redirects answered (tap runs)"] += 1
    assert evil.fired >= 1, "the endpoint under test was not called"
    assert proc.returncode != 0, proc.stderr[-2000:]
    assert f"HTTP {status} (redirect to 127.0.0.1:{sink.port})" in proc.stderr
    assert "Traceback" not in proc.stderr
    records = [line for line in proc.stdout.splitlines() if line.startswith('{"type":"RECORD"')]
    assert records == [] or endpoint != "key check"
    assert_sink_untouched(sink)
    assert_secret_free(proc.stdout, proc.stderr)


def _target_messages(ssim: Simulator, endpoint: str) -> tuple[list[dict[str, Any]], int]:
    ids = visitor_ids(ssim, 3)
    if endpoint == "track event":
        props = {
            "visitorId": {"type": "string"},
            "event": {"type": "string"},
            "timestamp": {"type": "string"},
        }
        now = "2026-12-01T00:00:00Z"
        msgs = [schema("track_events", props)]
        msgs += [
            record("track_events", {"visitorId": v, "event": "e", "timestamp": now}) for v in ids
        ]
        return msgs, len(ids)
    props = {
        "visitorId": {"type": "string"},
        "plan": {"type": ["string", "null"]},
        "_sdc_deleted_at": {"type": ["string", "null"]},
    }
    deleted = "2026-01-01T00:00:00Z" if endpoint == "bulk delete" else None
    msgs = [schema("visitors", props, ["visitorId"])]
    msgs += [
        record("visitors", {"visitorId": v, "plan": "evil", "_sdc_deleted_at": deleted})
        for v in ids
    ]
    return msgs, len(ids)


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("endpoint", sorted(TARGET_ENDPOINTS))
def test_target_dead_letters_what_a_redirected_request_carried(
    endpoint: str,
    status: int,
    ssim: Simulator,
    evil: EvilProxy,
    sink: SinkServer,
    tmp_path: Path,
) -> None:
    rule = TARGET_ENDPOINTS[endpoint]
    evil.rules.append(Rule(rule.method, rule.path, status))
    config = {
        "integration_key": KEY,
        "track_event_secret": TRACK_SECRET,
        "api_url": evil.url,
        "dead_letter_path": str(tmp_path / "dead.jsonl"),
        "retry_backoff_seconds": 0.01,
        "max_retries": 3,
        "request_timeout": 10,
        "max_requests_per_second": 1000,
        "streams": {"visitors": {"object": "visitor", "on_delete": "delete"}},
    }
    messages, count = _target_messages(ssim, endpoint)
    run = run_target(config, messages, tmp_path)
    FIGURES["redirects answered (target runs)"] += 1
    assert evil.fired >= 1, "the endpoint under test was not called"
    assert run.rc == 1, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert_sink_untouched(sink)
    if endpoint == "metadata schema read":
        # Read when the stream's first record arrives: the run stops before taking any,
        # and no STATE goes out, so a restart re-sends them all.
        stopped = f"target-pendo stopped: Pendo answered HTTP {status} (redirect to 127.0.0.1:"
        assert f"{stopped}{sink.port})" in run.stderr
        assert run.summary() == {} and run.dead_letters == [] and run.stdout == ""
        assert_secret_free(run.stdout, run.stderr)
        return
    summary = next(iter(run.summary().values()))
    assert sum(summary[o] for o in WRITTEN) == 0, summary
    assert summary["dead_letter"] == count == summary["received"]
    dead = run.dead_letters
    assert len(dead) == count
    for entry in dead:
        text = f"{entry['reason']} {entry.get('api_error') or ''}"
        assert f"HTTP {status}" in text and f"127.0.0.1:{sink.port}" in text, entry
    assert_sink_untouched(sink)
    dead_text = run.dead_letter_path.read_text()
    assert_secret_free(run.stdout, run.stderr, dead_text)
    FIGURES["records dead-lettered after a redirect"] += count
