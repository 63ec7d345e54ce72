"""Run tap-pendo against a simulator and read its Singer output.

In-process runs (fast) for the fault matrix; subprocess runs for kills and for exit codes.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections import defaultdict
from collections.abc import Iterable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

from tap_pendo.tap import TapPendo

TAP = str(Path(sys.executable).with_name("tap-pendo"))

# The simulator's default event days are 2026-03-06..08 (America/New_York, DST on 03-08).
EVENT_START = "2026-03-05T12:00:00Z"
EVENT_END = "2026-03-10T12:00:00Z"


@dataclass
class Output:
    records: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    key_properties: dict[str, list[str]] = field(default_factory=dict)
    states: list[dict] = field(default_factory=list)
    lines: int = 0

    @property
    def last_state(self) -> dict | None:
        return self.states[-1] if self.states else None


def parse(lines: Iterable[str]) -> Output:
    """Singer messages up to the first line that is not JSON (a line cut by a kill)."""
    out = Output()
    for line in lines:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            break
        out.lines += 1
        kind = message.get("type")
        if kind == "RECORD":
            out.records[message["stream"]].append(message["record"])
        elif kind == "SCHEMA":
            out.key_properties[message["stream"]] = message.get("key_properties") or []
        elif kind == "STATE":
            out.states.append(message["value"])
    return out


def run_in_process(config: dict, streams: Iterable[str], state: dict | None = None) -> Output:
    """Sync the named streams of a fresh TapPendo in this process."""
    wanted = set(streams)
    buffer = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with redirect_stdout(buffer):
        tap = TapPendo(config=config, state=state or {}, validate_config=True)
        for name, stream in tap.streams.items():
            stream.selected = name in wanted
        tap.sync_all()
    buffer.seek(0)
    return parse(buffer.read().splitlines())


def catalog(config: dict, streams: Iterable[str]) -> dict:
    """The discovered catalog with only `streams` selected."""
    wanted = set(streams)
    cat = TapPendo(config=config, validate_config=False, setup_mapper=False).catalog_dict
    for entry in cat["streams"]:
        for md in entry["metadata"]:
            if md["breadcrumb"] == []:
                md["metadata"]["selected"] = entry["tap_stream_id"] in wanted
    return cat


def cli_args(tmp: Path, config: dict, catalog_dict: dict | None, state: dict | None) -> list[str]:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "config.json").write_text(json.dumps(config))
    args = [TAP, "--config", str(tmp / "config.json")]
    if catalog_dict is not None:
        (tmp / "catalog.json").write_text(json.dumps(catalog_dict))
        args += ["--catalog", str(tmp / "catalog.json")]
    if state is not None:
        (tmp / "state.json").write_text(json.dumps(state))
        args += ["--state", str(tmp / "state.json")]
    return args


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
