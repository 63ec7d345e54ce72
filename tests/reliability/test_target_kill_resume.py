"""Kill target-pendo with SIGKILL mid-stream and restart the pipeline from its last STATE.

`singer_replay.py input | target-pendo` runs as two processes fed from a generated message
file (visitor and account metadata, three rounds of new values per id, track events with a
distinct `seq`, a STATE every 10 records). The target is killed after a seeded number of
write requests; the pipeline restarts from the last STATE the target emitted (the replayer
skips to just after it). Afterwards every metadata value equals a clean run's, every track
event landed, and the track events sent twice are exactly those that landed after the STATE
the restart resumed from: that count is printed and documented in the README
(target-pendo, "STATE").
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pendo_sim import DatasetConfig, Simulator
from tests.helpers.target import TARGET, lines_of, run_target
from tests.reliability.target_harness import (
    TRACK_SECRET,
    metadata_snapshot,
    track_events,
    workload,
    workload_config,
    written_ids,
)

from ._figures import FIGURES

REPLAY = str(Path(__file__).with_name("singer_replay.py"))
SEEDS = (3, 17, 29, 41)
KILLS_PER_SEED = 2
SHAPE = {"rounds": 3, "visitors": 100, "accounts": 20, "events": 50, "state_every": 10}
# Batches of batch_size x max_concurrent_requests = 20 records, sent as 4 concurrent requests.
CONFIG = {
    "batch_size": 5,
    "max_concurrent_requests": 4,
    "track_concurrency": 4,
    "max_requests_per_second": 200,
}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("clean")
    with Simulator(DatasetConfig(seed=7), track_secret=TRACK_SECRET) as sim:
        messages = workload(sim, **SHAPE)
        result = run_target(workload_config(sim, tmp, **CONFIG), messages, tmp)
        assert result.rc == 0, result.stderr[-3000:]
        assert result.states[-1] == messages[-1]["value"]
        # STATEs go out during the run, not only at its end, although the streams interleave.
        assert len(result.states) >= 10, result.states
        return {
            "messages": messages,
            "metadata": metadata_snapshot(sim, written_ids(messages)),
            "events": track_events(sim),
            "posts": sum(1 for m, _, _ in sim.request_log if m == "POST"),
            "states": len(result.states),
        }


def _posts(sim: Simulator) -> int:
    return sum(1 for method, _, _ in list(sim.request_log) if method == "POST")


def _quiet(sim: Simulator) -> None:
    """Wait until the simulator has finished every request it received: one whose body
    arrived before the kill is still processed (a condition, not a silence)."""
    assert sim.wait_idle(timeout_s=30), "the simulator still has requests in flight after 30 s"


def _pipeline(
    input_path: Path,
    config_path: Path,
    state: Any,
    sim: Simulator,
    kill_after_posts: int | None,
    stderr_path: Path,
) -> tuple[int, list[Any]]:
    """Run `replay | target`; SIGKILL the target after `kill_after_posts` write requests."""
    tap = subprocess.Popen(
        [sys.executable, REPLAY, str(input_path), json.dumps(state) if state is not None else ""],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    with stderr_path.open("a") as err:
        target = subprocess.Popen(
            [TARGET, "--config", str(config_path)],
            stdin=tap.stdout,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    assert tap.stdout is not None
    tap.stdout.close()  # the target holds the read end
    states: list[Any] = []

    def read_states() -> None:
        assert target.stdout is not None
        for line in target.stdout:
            if line.strip():
                states.append(json.loads(line))

    reader = threading.Thread(target=read_states, daemon=True)
    reader.start()
    base = _posts(sim)
    deadline = time.monotonic() + 120
    try:
        if kill_after_posts is not None:
            while (
                target.poll() is None
                and _posts(sim) - base < kill_after_posts
                and time.monotonic() < deadline
            ):
                time.sleep(0.002)
            if target.poll() is None:
                target.send_signal(signal.SIGKILL)
        rc = target.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if target.poll() is None:
            target.kill()
            target.wait()
        if tap.poll() is None:
            tap.kill()
        tap.wait()
        reader.join(timeout=10)
    return rc, states


def _position(event_key: str, messages: list[dict]) -> int:
    """The record number (1-based) of a stored track event, from its `seq` property."""
    seq = json.loads(event_key)["properties"]["seq"]
    n = 0
    for message in messages:
        if message["type"] == "RECORD":
            n += 1
            if (
                message["stream"] == "track_events"
                and message["record"]["properties"]["seq"] == seq
            ):
                return n
    raise AssertionError(seq)


@pytest.mark.parametrize("seed", SEEDS)
def test_kill_and_resume_from_the_last_state(
    seed: int, clean: dict[str, Any], tmp_path: Path
) -> None:
    rng = random.Random(seed)
    messages = clean["messages"]
    input_path = tmp_path / "input.jsonl"
    input_path.write_text(lines_of(messages))
    with Simulator(DatasetConfig(seed=7), track_secret=TRACK_SECRET) as sim:
        config = workload_config(sim, tmp_path, **CONFIG)
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps(config))
        stderr_path = tmp_path / "target.stderr"
        state: Any = None
        expected_duplicates = 0
        kills = 0
        for attempt in range(KILLS_PER_SEED + 1):
            kill_at = rng.randrange(2, clean["posts"] // 2) if attempt < KILLS_PER_SEED else None
            before = track_events(sim)
            rc, states = _pipeline(input_path, config_path, state, sim, kill_at, stderr_path)
            _quiet(sim)
            if kill_at is None:
                assert rc == 0, stderr_path.read_text()[-3000:]
                assert states and states[-1] == messages[-1]["value"]
                break
            assert rc == -signal.SIGKILL, (
                f"the run finished before the kill point ({kill_at} writes)"
            )
            kills += 1
            state = states[-1] if states else state
            resume_from = state["records"] if state else 0
            landed = track_events(sim) - before
            # Events stored by the killed run after the STATE it last emitted are re-sent.
            expected_duplicates += sum(
                n for key, n in landed.items() if _position(key, messages) > resume_from
            )
            print(
                f"[kill] seed {seed} kill {kills}: after {kill_at} writes; {len(states)} STATE(s) emitted; "
                f"resuming after record {resume_from}"
            )

        assert "Traceback" not in stderr_path.read_text()
        assert metadata_snapshot(sim, written_ids(messages)) == clean["metadata"]
        events = track_events(sim)
        assert set(events) == set(clean["events"])  # every event landed
        duplicates = sum(events.values()) - sum(clean["events"].values())
        assert duplicates == expected_duplicates
        twice = [key for key, n in events.items() if n > 1]
        summary = (
            f"{kills} kills, {kills} resumes, {duplicates} track events sent twice "
            f"(of {sum(clean['events'].values())}); metadata writes {len(sim.store.metadata_writes)} "
            f"for {sum(1 for m in messages if m['type'] == 'RECORD' and m['stream'] != 'track_events')} records, "
            "every value as in a clean run"
        )
        print(f"[kill] seed {seed}: {summary}")
        FIGURES.notes.append(f"target kill/resume, seed {seed}: {summary}")
        assert all(n == 2 for n in events.values() if n > 1) or kills > 1
        assert len(twice) <= expected_duplicates
