"""Reliability helpers for tap runs: a subprocess killed after a number of output lines, and
records compared by primary key. The plain runners and the config builder are in
tests/helpers/tap.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# The simulator's default event days are 2026-03-06..08 (America/New_York, DST on 03-08).
EVENT_START = "2026-03-05T12:00:00Z"
EVENT_END = "2026-03-10T12:00:00Z"
RUN_TIMEOUT_S = 120


@dataclass
class Attempt:
    lines: list[str]
    killed: bool
    returncode: int


def run_tap_until_killed(args: list[str], kill_after: int | None, stderr_path: Path) -> Attempt:
    """Run the tap; SIGKILL it once `kill_after` output lines have arrived."""
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=stderr, env=unbuffered_env(), text=True
        )
        watchdog = threading.Timer(RUN_TIMEOUT_S, proc.kill)
        watchdog.start()
        lines: list[str] = []
        killed = False
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                if kill_after is not None and len(lines) >= kill_after and proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    killed = True
                    break
            # What reached the pipe before the kill is what a downstream target received.
            lines += proc.stdout.read().splitlines(keepends=True)
            returncode = proc.wait(timeout=RUN_TIMEOUT_S)
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return Attempt(lines, killed and returncode == -signal.SIGKILL, returncode)


def unbuffered_env() -> dict[str, str]:
    """Lines reach the pipe as they are written, so a kill lands where it was aimed."""
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def without_sdc(record: dict) -> dict:
    return {k: v for k, v in record.items() if not k.startswith("_sdc_")}


def by_key(records: Iterable[dict], keys: list[str]) -> tuple[dict[tuple, dict], int]:
    """Records by primary key (without _sdc fields) and how many were repeats of a key.

    A repeated key must carry exactly the same record: anything else is a silent change.
    """
    result: dict[tuple, dict] = {}
    repeats = 0
    for record in records:
        key = tuple(json.dumps(record.get(k), sort_keys=True) for k in keys)
        clean = without_sdc(record)
        if key in result:
            repeats += 1
            assert result[key] == clean, f"key {key} re-sent with different content"
        else:
            result[key] = clean
    return result, repeats
