"""Track events and STATE ordering, end to end against the simulator."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
from pathlib import Path

from pendo_sim import Fault
from tests.helpers.target import (
    TARGET,
    VISITOR_PROPS,
    lines_of,
    posts,
    record,
    run_target,
    schema,
    visitor_ids,
)

NOW_MS = int(time.time() * 1000)
TRACK_PROPS = {
    "visitorId": {"type": "string"},
    "accountId": {"type": ["string", "null"]},
    "event": {"type": "string"},
    "ts": {"type": ["string", "integer", "null"]},
    "plan": {"type": ["string", "null"]},
    "amount": {"type": ["number", "null"]},
    "ua": {"type": ["string", "null"]},
}


def test_track_event_conversion_and_warnings(tsim, tconfig, tmp_path: Path) -> None:
    tconfig["streams"] = {
        "events": {
            "object": "track_event",
            "timestamp_field": "ts",
            "properties": {"plan": "plan", "amount": "amount_usd"},
            "context_fields": {"userAgent": "ua"},
        }
    }
    hour_ago_s = NOW_MS // 1000 - 3600
    iso = dt.datetime.fromtimestamp(hour_ago_s, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    recs = [
        {
            "visitorId": "v1",
            "accountId": "a1",
            "event": "Signed Up",
            "ts": iso,
            "plan": "pro",
            "amount": 9.5,
            "ua": "Mozilla/5.0",
        },
        {"visitorId": "v2", "event": "Signed Up", "ts": NOW_MS // 1000},  # epoch seconds
        {"visitorId": "v3", "event": "Signed Up", "ts": NOW_MS},  # epoch ms
        {"visitorId": "v4", "event": "Old", "ts": NOW_MS - 9 * 86_400_000},  # dropped by Pendo
        {"visitorId": "v5", "event": "No time"},  # no timestamp: rejected
        {"visitorId": "v6", "event": "Bad time", "ts": "last tuesday"},
    ]
    msgs = [schema("events", TRACK_PROPS)] + [record("events", r) for r in recs]
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 1  # two records could not be sent
    row = run.summary()["events"]
    assert (row["sent"], row["dead_letter"]) == (4, 2)
    assert row["warnings"] == {"old_events": 1}
    assert "7 days" in run.stderr
    first = next(e for e in tsim.store.track_events if e["visitorId"] == "v1")
    assert first == {
        "type": "track",
        "event": "Signed Up",
        "visitorId": "v1",
        "accountId": "a1",
        "timestamp": hour_ago_s * 1000,
        "properties": {"plan": "pro", "amount_usd": 9.5},
        "context": {"userAgent": "Mozilla/5.0"},
    }
    v2 = next(e for e in tsim.store.track_events if e["visitorId"] == "v2")
    assert v2["timestamp"] == (NOW_MS // 1000) * 1000
    assert [e["visitorId"] for e in tsim.store.dropped_track_events] == ["v4"]
    reasons = {d["record"]["visitorId"]: d["reason"] for d in run.dead_letters}
    assert "no timestamp" in reasons["v5"]
    assert "last tuesday" in reasons["v6"]
    assert len([p for p in posts(tsim) if p[1] == "/data/track"]) == 4  # one request per event


def test_hidden_property_names_are_reported(tsim, tconfig, tmp_path: Path) -> None:
    props = {
        "visitorId": {"type": "string"},
        "event": {"type": "string"},
        "timestamp": {"type": "integer"},
        "properties": {"type": "object"},
    }
    rec = {
        "visitorId": "v1",
        "event": "e",
        "timestamp": NOW_MS,
        "properties": {"ok_name": 1, "2fa": True, "has space": 1, "x" * 40: 1, "__sys__": 1},
    }
    run = run_target(
        tconfig, [schema("track_events", props), record("track_events", rec)], tmp_path
    )
    assert run.rc == 0, run.stderr
    assert run.summary()["track_events"]["warnings"] == {"hidden_properties": 1}
    for name in ("2fa", "has space", "__sys__"):
        assert f"`{name}`" in run.stderr
    assert tsim.store.hidden_track_properties  # and indeed Pendo hid them


def test_secret_equal_to_integration_key_is_refused_at_start(tsim, tconfig, tmp_path: Path) -> None:
    tconfig["track_event_secret"] = tconfig["integration_key"]
    run = run_target(tconfig, [], tmp_path)
    assert run.rc != 0
    assert "not interchangeable" in run.stderr
    assert tsim.request_log == []


def test_403_on_track_says_the_secrets_are_not_interchangeable(
    tsim, tconfig, tmp_path: Path
) -> None:
    tconfig["track_event_secret"] = "an-integration-key-by-mistake"
    props = {
        "visitorId": {"type": "string"},
        "event": {"type": "string"},
        "timestamp": {"type": "integer"},
    }
    msgs = [schema("track_events", props)] + [
        record("track_events", {"visitorId": f"v{i}", "event": "e", "timestamp": NOW_MS})
        for i in range(3)
    ]
    msgs.append({"type": "STATE", "value": {"s": 1}})
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 1
    assert "Track Event Shared Secret" in run.stderr and "not interchangeable" in run.stderr
    assert "an-integration-key-by-mistake" not in run.stderr  # redacted
    assert len(run.dead_letters) == 3 and run.states == []


def test_track_429_and_dropped_connection_recovery(tsim, tconfig, tmp_path: Path) -> None:
    tsim.faults.add(Fault(path="/data/track", kind="status", status=429, times=3))
    tsim.faults.add(Fault(path="/data/track", kind="drop", times=2))
    props = {
        "visitorId": {"type": "string"},
        "event": {"type": "string"},
        "timestamp": {"type": "integer"},
    }
    msgs = [schema("track_events", props)] + [
        record("track_events", {"visitorId": f"v{i}", "event": "e", "timestamp": NOW_MS})
        for i in range(20)
    ]
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 0, run.stderr
    assert len(tsim.store.track_events) == 20
    assert run.summary()["track_events"]["sent"] == 20


class _Staged:
    """The target as a subprocess fed line by line, its stdout (STATE) read as it comes."""

    def __init__(self, config: dict, tmp_path: Path) -> None:
        (tmp_path / "config.json").write_text(json.dumps(config))
        self.proc = subprocess.Popen(
            [TARGET, "--config", str(tmp_path / "config.json")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )

    def send(self, messages: list) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(lines_of(messages))
        self.proc.stdin.flush()

    def next_state(self) -> dict:
        assert self.proc.stdout is not None
        return json.loads(self.proc.stdout.readline())

    def close(self) -> list[dict]:
        out, _ = self.proc.communicate(timeout=60)
        return [json.loads(x) for x in out.splitlines() if x.strip()]


def test_state_is_emitted_only_after_its_records_are_confirmed(
    tsim, tconfig, tmp_path: Path
) -> None:
    ids = visitor_ids(tsim, 8)
    tconfig["batch_size"] = 4
    tconfig["max_concurrent_requests"] = 1  # a batch is one request: 4 records
    # Slow, failing-then-recovering writes: the STATE must still wait for them.
    tsim.faults.add(Fault(path="/api/v1/metadata/", kind="status", status=500, times=2))
    tsim.faults.add(Fault(path="/api/v1/metadata/", kind="slow", delay_s=0.5, times=1))
    staged = _Staged(tconfig, tmp_path)
    staged.send([schema("visitors", VISITOR_PROPS, ["visitorId"])])
    staged.send([record("visitors", {"visitorId": v, "plan": "s1"}) for v in ids[:3]])
    staged.send([{"type": "STATE", "value": {"n": 3}}])
    staged.send([record("visitors", {"visitorId": ids[3], "plan": "s1"})])  # fills the batch: drain
    state = staged.next_state()
    assert state == {"n": 3}
    # At the moment the STATE appeared, Pendo already had every record before it.
    for v in ids[:4]:
        assert tsim.store.metadata("visitor", v)["custom"]["plan"] == "s1"
    staged.send([record("visitors", {"visitorId": v, "plan": "s2"}) for v in ids[4:6]])
    staged.send([{"type": "STATE", "value": {"n": 6}}])
    rest = staged.close()
    assert rest == [{"n": 6}]
    for v in ids[4:6]:
        assert tsim.store.metadata("visitor", v)["custom"]["plan"] == "s2"


def test_state_waits_for_the_track_event_pool(tsim, tconfig, tmp_path: Path) -> None:
    tconfig["batch_size"] = 10
    tconfig["track_concurrency"] = 4
    tsim.faults.add(Fault(path="/data/track", kind="slow", delay_s=0.3, times=None))
    props = {
        "visitorId": {"type": "string"},
        "event": {"type": "string"},
        "timestamp": {"type": "integer"},
    }
    staged = _Staged(tconfig, tmp_path)
    staged.send([schema("track_events", props)])
    staged.send(
        [
            record("track_events", {"visitorId": f"v{i}", "event": "e", "timestamp": NOW_MS})
            for i in range(9)
        ]
    )
    staged.send([{"type": "STATE", "value": {"events": 9}}])
    staged.send([record("track_events", {"visitorId": "v9", "event": "e", "timestamp": NOW_MS})])
    assert staged.next_state() == {"events": 9}
    assert len(tsim.store.track_events) >= 10  # every event before the STATE is in Pendo
    assert staged.close() == []
