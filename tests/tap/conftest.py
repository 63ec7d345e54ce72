"""Helpers for the tap tests: run TapPendo in-process against a simulator and collect output."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import redirect_stdout
from dataclasses import dataclass, field

import pytest

from tap_pendo.tap import TapPendo


@dataclass
class TapRun:
    records: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    schemas: dict[str, dict] = field(default_factory=dict)
    states: list[dict] = field(default_factory=list)

    @property
    def state(self) -> dict:
        return self.states[-1] if self.states else {}


def run_tap(
    config: dict, streams: Iterable[str], state: dict | None = None, catalog: dict | None = None
) -> TapRun:
    """Sync the named streams of a fresh TapPendo; returns its parsed Singer output.

    With a catalog, its selection is used as given (`streams` is ignored)."""
    wanted = set(streams)
    buffer = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with redirect_stdout(buffer):
        tap = TapPendo(config=config, state=state or {}, catalog=catalog, validate_config=True)
        if catalog is None:
            for name, stream in tap.streams.items():
                stream.selected = name in wanted
        tap.sync_all()
    buffer.seek(0)
    result = TapRun()
    for line in buffer.read().splitlines():
        if not line.strip():
            continue
        message = json.loads(line)
        if message["type"] == "RECORD":
            result.records[message["stream"]].append(message["record"])
        elif message["type"] == "SCHEMA":
            result.schemas[message["stream"]] = message["schema"]
        elif message["type"] == "STATE":
            result.states.append(message["value"])
    return result


@pytest.fixture
def tap_run() -> Callable[..., TapRun]:
    return run_tap


def base_config(sim) -> dict:
    """Tap config for `sim` without start_date (objects: everything), fast retries."""
    return {
        "integration_key": sim.integration_key,
        "api_url": sim.url,
        "retry_backoff_seconds": 0.01,
        "max_retries": 5,
        "request_timeout": 10,
    }


@pytest.fixture
def entity_config(sim) -> dict:
    return base_config(sim)
