"""The event tests' tap config (bounded to the simulator's event days) and readers of the
Singer messages `tests.helpers.tap.run_tap` returns."""

from __future__ import annotations

import json

from pendo_sim import Simulator
from tests.helpers.tap import parse as parse_output
from tests.helpers.tap import tap_config

# The simulator's default event days are 2026-03-06..08 (America/New_York, DST on 03-08).
START = "2026-03-05T12:00:00Z"
END = "2026-03-11T12:00:00Z"  # exclusive: the last day read is 03-10


def event_config(sim: Simulator, **overrides: object) -> dict:
    """`tap_config` bounded to the simulator's event days, visitor_history enabled."""
    settings: dict = {
        "start_date": START,
        "end_date": END,
        "max_retries": 3,
        "request_timeout": 10,
        # visitor_history extracts nothing without it (the tests select it where they want it).
        "visitor_history_enabled": True,
    }
    settings.update(overrides)
    return tap_config(sim, **settings)


def parse(text: str) -> list[dict]:
    """The messages of a tap's stdout, up to a line cut by a kill."""
    return parse_output(text.splitlines()).messages


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
