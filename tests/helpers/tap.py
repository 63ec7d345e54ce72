"""Run tap-pendo in-process against a simulator and collect its Singer output (for new tests).

The older folders keep their own runners for now (tests/tap/conftest.py, tests/events/_tap.py,
tests/reliability/_tap.py); new tests use this one.
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from collections.abc import Iterable
from contextlib import redirect_stdout
from dataclasses import dataclass, field

from pendo_sim import Simulator
from tap_pendo.tap import TapPendo


@dataclass
class TapOutput:
    records: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    schemas: dict[str, dict] = field(default_factory=dict)
    key_properties: dict[str, list[str]] = field(default_factory=dict)
    states: list[dict] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)  # every message, in order

    @property
    def state(self) -> dict:
        return self.states[-1] if self.states else {}


def tap_config(sim: Simulator, **settings: object) -> dict:
    """A tap config pointing at `sim` with quick retries; `settings` override or add."""
    config: dict = {
        "integration_key": sim.integration_key,
        "api_url": sim.url,
        "retry_backoff_seconds": 0.01,
        "max_retries": 3,
        "request_timeout": 30,
    }
    config.update(settings)
    return config


def sync(config: dict, streams: Iterable[str], state: dict | None = None) -> TapOutput:
    """Sync `streams` (selected by name, visitor_history included) of a fresh TapPendo."""
    wanted = set(streams)
    buffer = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with redirect_stdout(buffer):
        tap = TapPendo(config=config, state=state or {}, validate_config=True)
        unknown = wanted - set(tap.streams)
        assert not unknown, f"no such tap streams: {sorted(unknown)}"
        for name, stream in tap.streams.items():
            stream.selected = name in wanted
        tap.sync_all()
    buffer.seek(0)
    out = TapOutput()
    for line in buffer.read().splitlines():
        if not line.strip():
            continue
        message = json.loads(line)
        out.messages.append(message)
        if message["type"] == "RECORD":
            out.records[message["stream"]].append(message["record"])
        elif message["type"] == "SCHEMA":
            out.schemas[message["stream"]] = message["schema"]
            out.key_properties[message["stream"]] = message["key_properties"]
        elif message["type"] == "STATE":
            out.states.append(message["value"])
    return out


def stream_names(config: dict) -> set[str]:
    """Every stream the tap discovers (selected by default or not)."""
    tap = TapPendo(config=config, validate_config=False, setup_mapper=False)
    return set(tap.streams)
