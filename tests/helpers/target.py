"""The target as a subprocess of the real `target-pendo` console script, its config builder,
and the Singer messages the target tests feed it. Every test folder uses these."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pendo_sim import Simulator

ROOT = Path(__file__).resolve().parents[2]
TARGET = str(Path(sys.executable).parent / "target-pendo")
TRACK_SECRET = "track-secret-123"


def target_config(sim: Simulator, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """A target config pointing at `sim` (its keys), dead letters in `tmp_path`, quick retries;
    `overrides` replace or add settings."""
    config: dict[str, Any] = {
        "integration_key": sim.integration_key,
        "track_event_secret": sim.track_secret,
        "api_url": sim.url,
        "dead_letter_path": str(tmp_path / "dead.jsonl"),
        "retry_backoff_seconds": 0.01,
        "max_retries": 4,
        "request_timeout": 10,
        "max_requests_per_second": 1000,
    }
    config.update(overrides)
    return config


def read_jsonl(path: Path) -> list[Any]:
    """The JSON values of a JSON Lines file. Lines end at "\\n" only: `str.splitlines()` also
    breaks at U+2028, U+0085 and other separators that JSON strings may hold unescaped."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    dead_letter_path: Path

    @property
    def states(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.split("\n") if line.strip()]

    @property
    def dead_letters(self) -> list[dict]:
        if not self.dead_letter_path.exists():
            return []
        return read_jsonl(self.dead_letter_path)

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
    config: dict[str, Any],
    messages: list[Any],
    tmp_path: Path,
    *,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> Run:
    """Run `target-pendo --config <tmp_path>/config.json [args]` with `messages` on stdin, in
    `tmp_path`; wait for it to end (at most `timeout` s)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    proc = subprocess.run(
        [TARGET, "--config", str(config_path), *args],
        input=lines_of(messages),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
        check=False,
        env=env,
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
