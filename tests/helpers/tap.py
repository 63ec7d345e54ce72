"""The tap's config builder and its runners, for every test folder.

- `tap_config(sim, **overrides)`: a config pointing at a simulator.
- `run_tap(tmp_path, config, streams, ...)`: the real `tap-pendo` console script as a subprocess;
  its parsed messages, records by stream, state, stderr and exit code.
- `sync_in_process(config, streams, ...)`: the same sync through the SDK in this process (fast;
  for tests that need the tap object's behaviour, not the command's).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

from pendo_sim import Simulator
from tap_pendo.tap import TapPendo

TAP = str(Path(sys.executable).with_name("tap-pendo"))


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

    @property
    def last_state(self) -> dict | None:
        return self.states[-1] if self.states else None

    @property
    def lines(self) -> int:
        return len(self.messages)

    def add(self, message: dict) -> None:
        self.messages.append(message)
        kind = message.get("type")
        if kind == "RECORD":
            self.records[message["stream"]].append(message["record"])
        elif kind == "SCHEMA":
            self.schemas[message["stream"]] = message["schema"]
            self.key_properties[message["stream"]] = message.get("key_properties") or []
        elif kind == "STATE":
            self.states.append(message["value"])


@dataclass
class TapRun(TapOutput):
    """A `tap-pendo` subprocess: its parsed output, and how it ended."""

    rc: int = 0
    stdout: str = ""
    stderr: str = ""


def parse(
    lines: Iterable[str], into: TapOutput | None = None, *, strict: bool = False
) -> TapOutput:
    """Singer messages up to the first line that is not JSON (a line cut by a kill); with
    `strict`, such a line is an error."""
    out = into if into is not None else TapOutput()
    for line in lines:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            if strict:
                raise
            break
        out.add(message)
    return out


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


def catalog(config: dict, streams: Iterable[str]) -> dict:
    """The tap's discovered catalog with only `streams` selected."""
    wanted = set(streams)
    cat = TapPendo(config=config, validate_config=False, setup_mapper=False).catalog_dict
    for entry in cat["streams"]:
        for md in entry["metadata"]:
            if md["breadcrumb"] == []:
                md["metadata"]["selected"] = entry["tap_stream_id"] in wanted
    return cat


def cli_args(
    tmp_path: Path, config: dict, catalog_dict: dict | None = None, state: dict | None = None
) -> list[str]:
    """`tap-pendo --config ... [--catalog ...] [--state ...]`, the files written in `tmp_path`."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "config.json").write_text(json.dumps(config))
    args = [TAP, "--config", str(tmp_path / "config.json")]
    if catalog_dict is not None:
        (tmp_path / "catalog.json").write_text(json.dumps(catalog_dict))
        args += ["--catalog", str(tmp_path / "catalog.json")]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        args += ["--state", str(tmp_path / "state.json")]
    return args


def run_tap(
    tmp_path: Path,
    config: dict,
    streams: Iterable[str] | None = None,
    *,
    state: dict | None = None,
    catalog_dict: dict | None = None,
    args: Iterable[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 120,
    check: bool = False,
) -> TapRun:
    """Run the `tap-pendo` console script once in `tmp_path` (its input files written there)
    and wait for it to end (at most `timeout` s).

    With `streams`, a discovered catalog selecting only them is passed (or `catalog_dict` as
    given); with neither, the tap runs without a catalog. `args` are added (e.g. "--discover").
    With `check`, a non-zero exit fails the test with the end of stderr."""
    if streams is not None and catalog_dict is None:
        catalog_dict = catalog(config, streams)
    argv = [*cli_args(tmp_path, config, catalog_dict, state), *args]
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp_path, check=False
    )
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    run = TapRun(rc=proc.returncode, stdout=proc.stdout, stderr=proc.stderr)
    parse(proc.stdout.splitlines(), into=run)
    return run


def sync_in_process(
    config: dict,
    streams: Iterable[str],
    state: dict | None = None,
    catalog: dict | None = None,
) -> TapOutput:
    """Sync `streams` (selected by name, visitor_history included) of a fresh TapPendo in this
    process. With a catalog, its selection is used as given (`streams` is ignored)."""
    wanted = set(streams)
    buffer = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with redirect_stdout(buffer):
        tap = TapPendo(config=config, state=state or {}, catalog=catalog, validate_config=True)
        if catalog is None:
            unknown = wanted - set(tap.streams)
            assert not unknown, f"no such tap streams: {sorted(unknown)}"
            for name, stream in tap.streams.items():
                stream.selected = name in wanted
        tap.sync_all()
    buffer.seek(0)
    return parse(buffer.read().splitlines(), strict=True)


def stream_names(config: dict) -> set[str]:
    """Every stream the tap discovers (selected by default or not)."""
    tap = TapPendo(config=config, validate_config=False, setup_mapper=False)
    return set(tap.streams)
