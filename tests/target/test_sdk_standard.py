"""The singer-sdk standard target inputs (a curated set), each with its outcome asserted.

The SDK's standard target tests only call `sync_all()` and pass unless it raises; target-pendo
dead-letters bad records instead of raising, so they could not fail (a target dead-lettering
every record passed them). Here every one of the SDK's own `.singer` files in the curated set
runs through the real target-pendo CLI against a fresh simulator, and the test checks what
happened: the exit status, the STATE passed through, the per-stream summary, the dead-letter
file, that every record's id exists in Pendo, and the written values: each file's columns are
mapped onto the simulator's visitor custom fields (plan: text, seats: integer, score: float,
isbeta: boolean) and the last value per id must be what Pendo holds.

Left out, with the reason:
- invalid_schema, record_before_schema, record_missing_key_property: the SDK expects the run to
  raise; target-pendo dead-letters the line and exits 1 at the end (test_metadata.py's
  test_counts_add_up_and_exit_status covers that behaviour).
- multiple_state_messages: it expects one SDK draining cadence; this target emits a STATE once
  every record before it is confirmed (test_track_and_state.py covers it).
- schema_no_properties: no id column at all, which a metadata stream cannot write.
- no_primary_keys_append, user_location_*: need `load_method` append/upsert semantics Pendo's
  metadata API does not have (a value is set, never appended).
"""

from __future__ import annotations

import importlib.resources
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.testing import target_test_streams

from pendo_sim import DatasetConfig, Simulator
from tests.helpers.target import TARGET, run_target


@dataclass
class Case:
    """One SDK input file: how its stream maps to visitors, and what must come out."""

    streams: dict[str, dict[str, Any]]  # the target's `streams` setting
    rc: int = 0
    dead_letters: int = 0
    written: set[str] = field(default_factory=set)  # Pendo fields whose values are checked


def _visitor(id_field: str | None = None, **fields: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"object": "visitor", "create": True, "ignore_unknown_fields": True}
    if id_field:
        spec["id_field"] = id_field
    if fields:
        spec["fields"] = fields
    return spec


CASES: dict[str, Case] = {
    "array_data": Case({"test_array_data": _visitor()}),  # arrays: no Pendo type; ids only
    "camelcase": Case({"TestCamelcase": _visitor("Id", clientName="plan")}, written={"plan"}),
    # Two SCHEMA messages and no record: nothing is written, the run still succeeds.
    "camelcase_complex_schema": Case({"ForecastingTypeToCategory": _visitor("Id")}),
    "duplicate_records": Case(
        {"test_duplicate_records": _visitor(metric="seats")}, written={"seats"}
    ),
    "encoded_string_data": Case(
        {
            "test_strings": _visitor(info="plan"),
            "test_strings_in_objects": _visitor(),
            "test_strings_in_arrays": _visitor(),
        },
        written={"plan"},
    ),
    "no_primary_keys": Case({"test_no_pk": _visitor(metric="seats")}, written={"seats"}),
    "optional_attributes": Case(
        {"test_optional_attributes": _visitor(optional="plan")}, written={"plan"}
    ),
    "pk_updates": Case({"example_stream": _visitor("id", name="plan")}, written={"plan"}),
    "record_missing_fields": Case(
        {"record_missing_fields": _visitor(optional="plan")}, written={"plan"}
    ),
    "record_missing_required_property": Case(
        {"test_record_missing_required_property": _visitor()}, rc=1, dead_letters=1
    ),
    "schema_updates": Case(
        {"test_schema_updates": _visitor(a1="score", a2="plan", a3="isbeta")},
        written={"score", "plan", "isbeta"},
    ),
    "special_chars_in_attributes": Case(
        {"test:SpecialChars!in?attributes": _visitor("_id", **{"d.agent:type": "plan"})},
        written={"plan"},
    ),
}


def _messages(name: str) -> list[dict[str, Any]]:
    text = (importlib.resources.files(target_test_streams) / f"{name}.singer").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _path(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _expected(case: Case, messages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """visitor id -> {Pendo field: last value sent} for the mapped fields (None = not sent)."""
    out: dict[str, dict[str, Any]] = {}
    for m in messages:
        if m["type"] != "RECORD":
            continue
        spec = case.streams[m["stream"]]
        rec = m["record"]
        id_field = spec.get("id_field") or "id"
        if rec.get(id_field) is None:
            continue  # dead-lettered
        values = out.setdefault(str(rec[id_field]), {})
        for source, target in (spec.get("fields") or {}).items():
            value = _path(rec, source)
            if value is not None:
                values[target] = value
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_sdk_standard_input_lands_in_pendo(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    messages = _messages(name)
    with Simulator(DatasetConfig(seed=7, visitors=40, accounts=5)) as sim:
        config = {
            "integration_key": sim.integration_key,
            "api_url": sim.url,
            "dead_letter_path": str(tmp_path / "dead.jsonl"),
            "retry_backoff_seconds": 0.01,
            "streams": case.streams,
        }
        result = run_target(config, messages, tmp_path)
        assert result.rc == case.rc, result.stderr[-2000:]
        assert "Traceback" not in result.stderr

        # The input's last STATE comes out once everything before it is written (an empty
        # STATE, as record_missing_fields ends with, is nothing to pass on).
        states = [m["value"] for m in messages if m["type"] == "STATE" and m["value"]]
        if states and case.rc == 0:
            assert result.states and result.states[-1] == states[-1]

        # Every record is accounted for, per stream.
        records: dict[str, int] = {}
        for m in messages:
            if m["type"] == "RECORD":
                records[m["stream"]] = records.get(m["stream"], 0) + 1
        summary = result.summary()
        assert {s: row["received"] for s, row in summary.items()} == records
        for row in summary.values():
            assert row["unaccounted"] == row["missing"] == 0
            assert row["updated"] + row["created"] + row["dead_letter"] == row["received"]
        assert sum(row["dead_letter"] for row in summary.values()) == case.dead_letters
        assert len(result.dead_letters) == case.dead_letters

        # Every id exists in Pendo, holding exactly the last value sent for each mapped field.
        expected = _expected(case, messages)
        for vid, values in expected.items():
            assert sim.dataset.visitor_table.index_of(vid) is not None, vid
            custom = sim.store.metadata("visitor", vid).get("custom", {})
            got = {k: custom.get(k) for k in case.written}
            want = {k: values.get(k) for k in case.written}
            assert got == want, vid
        if case.written:
            assert any(values for values in expected.values())  # some value was really checked
        if case.dead_letters:
            assert not sim.store.metadata_writes  # the bad record was not written


def test_dead_letter_says_which_line_and_why(tmp_path: Path) -> None:
    """record_missing_required_property: the dead-letter line names the missing property."""
    with Simulator(DatasetConfig(seed=7, visitors=40, accounts=5)) as sim:
        config = {
            "integration_key": sim.integration_key,
            "api_url": sim.url,
            "dead_letter_path": str(tmp_path / "dead.jsonl"),
            "streams": CASES["record_missing_required_property"].streams,
        }
        result = run_target(config, _messages("record_missing_required_property"), tmp_path)
    (letter,) = result.dead_letters
    assert "'id' is a required property" in letter["reason"]
    assert letter["record"] == {"metric": 3215}


def test_cli_prints_version_and_about(tmp_path: Path) -> None:
    """What the SDK's TargetCliPrintsTest only called: --version and --about print the right
    package, and --about's settings include this target's own."""
    version = subprocess.run(
        [TARGET, "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "target-pendo" in version.stdout and "0.1.0" in version.stdout
    about = subprocess.run(
        [TARGET, "--about", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    info = json.loads(about.stdout)
    assert info["name"] == "target-pendo"
    settings = set(info["settings"]["properties"])
    assert {"integration_key", "streams", "dead_letter_path"} <= settings
