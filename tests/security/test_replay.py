"""A run whose retries ran out during a Pendo outage is recovered with one command:
`target-pendo-replay DEAD_LETTERS | target-pendo --config ...`.

The simulator refuses every write (503) for the first run: every record is dead-lettered,
nothing is written, and the STATE after them still goes out (a dead letter is an outcome).
After the outage, the replay re-sends exactly those records, in their order, and the values
land as the original input had them.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from pendo_sim import DatasetConfig, Fault, Simulator
from tests.helpers.target import TARGET, record, run_target, schema
from tests.security._shared import FIGURES

REPLAY = str(Path(sys.executable).with_name("target-pendo-replay"))
TRACK_SECRET = "replay-track-secret"


def test_outage_dead_letters_then_replay_lands_the_values(tmp_path: Path) -> None:
    with Simulator(DatasetConfig(seed=7), track_secret=TRACK_SECRET) as sim:
        vids = [v["visitorId"] for v in sim.dataset.visitors()][:6]
        props = {
            "user_id": {"type": "string"},
            "plan": {"type": ["string", "null"]},
            "seats": {"type": ["integer", "null"]},
            "renewaldate": {"type": ["string", "null"], "format": "date-time"},
        }
        track = {
            "visitorId": {"type": "string"},
            "event": {"type": "string"},
            "timestamp": {"type": "string"},
            "properties": {"type": "object"},
        }
        messages = [schema("users", props, ["user_id"]), schema("track_events", track)]
        for n, vid in enumerate(vids):
            # Each id twice: the later value must win after the replay too.
            messages.append(record("users", {"user_id": vid, "plan": f"old-{n}", "seats": n}))
            messages.append(
                record(
                    "users",
                    {
                        "user_id": vid,
                        "plan": f"new-{n}",
                        "seats": 100 + n,
                        "renewaldate": "2026-01-02T03:04:05Z",
                    },
                )
            )
        messages += [
            record(
                "track_events",
                {
                    "visitorId": vid,
                    "event": "replayed",
                    "timestamp": "2026-11-30T10:00:00Z",
                    "properties": {"n": n},
                },
            )
            for n, vid in enumerate(vids[:3])
        ]
        messages.append({"type": "STATE", "value": {"bookmark": "after-all"}})
        config = {
            "integration_key": sim.integration_key,
            "track_event_secret": TRACK_SECRET,
            "api_url": sim.url,
            "dead_letter_path": str(tmp_path / "dead.jsonl"),
            "retry_backoff_seconds": 0.01,
            "max_retries": 2,
            "batch_size": 4,
            "max_requests_per_second": 1000,
            # The stream's id is not a key name the target guesses: the replay needs the
            # key properties the dead-letter file kept.
            "streams": {"users": {"object": "visitor"}},
        }
        outage = [
            sim.faults.add(Fault(path=p, method="POST", status=503, times=None))
            for p in (r"^/api/v1/metadata/", r"^/data/track$")
        ]
        first = run_target(config, messages, tmp_path)
        assert first.rc == 1
        # The STATE goes out once every record has an outcome, a synced dead letter included:
        # a restart from it would not re-send them, so the replay is the way back.
        assert first.states == [{"bookmark": "after-all"}]
        received = sum(r["received"] for r in first.summary().values())
        assert received == len(vids) * 2 + 3
        assert sum(r["dead_letter"] for r in first.summary().values()) == received
        assert all(f.fired > 0 for f in outage)
        assert sim.store.metadata("visitor", vids[0]).get("custom", {}).get("plan") is None
        assert stat.S_IMODE(first.dead_letter_path.stat().st_mode) == 0o600

        sim.faults.clear()  # the outage ends
        replay_file = tmp_path / "replay.jsonl"
        first.dead_letter_path.rename(replay_file)
        config["dead_letter_path"] = str(tmp_path / "dead-after-replay.jsonl")
        (tmp_path / "config.json").write_text(json.dumps(config))
        replay = subprocess.Popen(
            [REPLAY, str(replay_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        target = subprocess.run(
            [TARGET, "--config", str(tmp_path / "config.json")],
            stdin=replay.stdout,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert replay.stdout is not None
        replay.stdout.close()
        replay_err = replay.stderr.read().decode() if replay.stderr else ""
        assert replay.wait(timeout=60) == 0
        assert f"{received} record(s) of 2 stream(s)" in replay_err
        assert target.returncode == 0, target.stderr[-3000:]
        assert not (tmp_path / "dead-after-replay.jsonl").exists()

        for n, vid in enumerate(vids):
            custom = sim.store.metadata("visitor", vid)["custom"]
            assert custom["plan"] == f"new-{n}"
            assert custom["seats"] == 100 + n
            assert custom["renewaldate"] == 1767323045000
        events = [e for e in sim.store.track_events if e.get("event") == "replayed"]
        assert sorted(e["properties"]["n"] for e in events) == [0, 1, 2]  # each once
        FIGURES["records recovered by a replay"] += received


def test_replay_output_is_singer_input_in_file_order(tmp_path: Path) -> None:
    dead = tmp_path / "dead.jsonl"
    entries = [
        {"stream": "visitors", "record": {"visitorId": "a", "plan": "1"}, "reason": "r"},
        {"stream": "<unknown stream>", "record": {"raw": "not json"}, "reason": "r", "line": 3},
        {"stream": "accounts", "record": {"accountId": "x", "m": {"k": 1}}, "reason": "r"},
        {"stream": "visitors", "record": {"visitorId": "a", "plan": None}, "reason": "r"},
    ]
    dead.write_text("".join(json.dumps(e) + "\n" for e in entries) + "{broken\n")
    proc = subprocess.run([REPLAY, str(dead)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    messages = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(m["type"], m["stream"]) for m in messages] == [
        ("SCHEMA", "visitors"),
        ("SCHEMA", "accounts"),
        ("RECORD", "visitors"),
        ("RECORD", "accounts"),
        ("RECORD", "visitors"),
    ]
    assert messages[1]["schema"]["properties"]["m"]["properties"] == {"k": {}}
    assert [m["record"] for m in messages[2:]] == [
        entries[0]["record"],
        entries[2]["record"],
        entries[3]["record"],
    ]
    assert "2 line(s) that were not records cannot be replayed" in proc.stderr
