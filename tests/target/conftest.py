"""Target test helpers: a simulator with a track secret, and the target run as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pendo_sim import DatasetConfig, Simulator

ROOT = Path(__file__).resolve().parents[2]
TARGET = str(Path(sys.executable).parent / "target-pendo")
TRACK_SECRET = "track-secret-123"


@pytest.fixture
def tsim() -> Iterator[Simulator]:
    with Simulator(DatasetConfig(seed=7), track_secret=TRACK_SECRET) as simulator:
        yield simulator


@pytest.fixture
def tconfig(tsim: Simulator, tmp_path: Path) -> dict[str, Any]:
    return {
        "integration_key": tsim.integration_key,
        "track_event_secret": TRACK_SECRET,
        "api_url": tsim.url,
        "dead_letter_path": str(tmp_path / "dead.jsonl"),
        "retry_backoff_seconds": 0.01,
        "max_retries": 4,
        "request_timeout": 10,
        "max_requests_per_second": 1000,
    }


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    dead_letter_path: Path

    @property
    def states(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    @property
    def dead_letters(self) -> list[dict]:
        if not self.dead_letter_path.exists():
            return []
        return [json.loads(line) for line in self.dead_letter_path.read_text().splitlines()]

    def summary(self) -> dict[str, dict]:
        """The per-stream summary rows logged as `Stream summary: {json}`."""
        rows = {}
        for line in self.stderr.splitlines():
            if "Stream summary: " in line:
                row = json.loads(line.split("Stream summary: ", 1)[1])
                rows[row["stream"]] = row
        return rows


def lines_of(messages: list[Any]) -> str:
    return "".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in messages)


def run_target(
    config: dict[str, Any], messages: list[Any], tmp_path: Path, timeout: float = 120
) -> Run:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    proc = subprocess.run(
        [TARGET, "--config", str(config_path)],
        input=lines_of(messages),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
        check=False,
    )
    return Run(
        proc.returncode,
        proc.stdout,
        proc.stderr,
        Path(config.get("dead_letter_path", tmp_path / "target-pendo-dead-letter.jsonl")),
    )


def schema(stream: str, properties: dict[str, Any], key: list[str] | None = None) -> dict:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "key_properties": key or [],
        "schema": {"type": "object", "properties": properties},
    }


def record(stream: str, rec: dict[str, Any]) -> dict:
    return {"type": "RECORD", "stream": stream, "record": rec}


def visitor_ids(sim: Simulator, n: int) -> list[str]:
    return [v["visitorId"] for v in list(sim.dataset.visitors())[:n]]


def account_ids(sim: Simulator, n: int) -> list[str]:
    return [a["accountId"] for a in list(sim.dataset.accounts())[:n]]


def posts(sim: Simulator) -> list[tuple[str, str, int]]:
    return [entry for entry in sim.request_log if entry[0] != "GET"]


VISITOR_PROPS = {
    "visitorId": {"type": "string"},
    "plan": {"type": ["string", "null"]},
    "seats": {"type": ["integer", "null"]},
    "score": {"type": ["number", "null"]},
    "isbeta": {"type": ["boolean", "string", "null"]},
    "renewaldate": {"type": ["string", "null"], "format": "date-time"},
}
