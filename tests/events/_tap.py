"""Run tap-pendo as a subprocess against a simulator and read its Singer output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tap_pendo.tap import TapPendo

TAP = [str(Path(sys.executable).with_name("tap-pendo"))]

# The simulator's default event days are 2026-03-06..08 (America/New_York, DST on 03-08).
START = "2026-03-05T12:00:00Z"
END = "2026-03-11T12:00:00Z"  # exclusive: the last day read is 03-10


def catalog(config: dict, streams: set[str]) -> dict:
    """The tap's discovered catalog with only `streams` selected."""
    cat = TapPendo(config=config, validate_config=False, setup_mapper=False).catalog_dict
    for entry in cat["streams"]:
        chosen = entry["tap_stream_id"] in streams
        for md in entry["metadata"]:
            if md["breadcrumb"] == []:
                md["metadata"]["selected"] = chosen
    return cat


def write_inputs(
    tmp: Path, config: dict, streams: set[str], state: dict | None = None
) -> list[str]:
    (tmp / "config.json").write_text(json.dumps(config))
    (tmp / "catalog.json").write_text(json.dumps(catalog(config, streams)))
    args = ["--config", str(tmp / "config.json"), "--catalog", str(tmp / "catalog.json")]
    if state is not None:
        (tmp / "state.json").write_text(json.dumps(state))
        args += ["--state", str(tmp / "state.json")]
    return args


def run_tap(tmp: Path, config: dict, streams: set[str], state: dict | None = None) -> list[dict]:
    args = write_inputs(tmp, config, streams, state)
    out = subprocess.run([*TAP, *args], capture_output=True, check=False, timeout=120)
    assert out.returncode == 0, out.stderr.decode()[-3000:]
    return parse(out.stdout.decode())


def parse(text: str) -> list[dict]:
    messages = []
    for line in text.splitlines():
        try:
            messages.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut by a kill
    return messages


def records(messages: list[dict], stream: str) -> list[dict]:
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


def last_state(messages: list[dict]) -> dict | None:
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return states[-1] if states else None


def key_of(record: dict, keys: list[str]) -> tuple:
    return tuple(json.dumps(record.get(k), sort_keys=True) for k in keys)


def primary_keys(messages: list[dict], stream: str) -> list[str]:
    for m in messages:
        if m["type"] == "SCHEMA" and m["stream"] == stream:
            return m["key_properties"]
    raise AssertionError(f"no SCHEMA for {stream}")
