"""Claims the README makes that had no test of their own (issue 16, item 6), one test each.

target-pendo: a refused key (401 as well as 403) stops the run; 413 and 422 batches are
bisected; equal secrets exit with status 2; bulk-delete retries are paced and can run out;
parent-account deletions are ignored; properties JSON over 512 bytes warns; the dead-letter
`line` is the input line number; `load_method: overwrite` is refused.
tap-pendo: ACTIVATE_VERSION for the full-table streams; the README's stream-maps example.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from decimal import Decimal
from pathlib import Path

import pytest

from pendo_sim import DatasetConfig, Fault, Simulator
from target_pendo.convert import ConversionError, convert_metadata_value, to_boolean
from tests.helpers.tap import sync_in_process, tap_config
from tests.helpers.target import (
    VISITOR_PROPS,
    posts,
    record,
    run_target,
    schema,
    visitor_ids,
)

ROOT = Path(__file__).resolve().parents[2]
METADATA_PATH = "/api/v1/metadata/visitor/custom/value"
DELETE_PATH = "/api/v1/bulkdelete/visitor"
DELETED_AT = "2026-03-01T00:00:00Z"


def _visitors(ids: list[str], plan: str, state_every: int | None = None) -> list:
    msgs: list = [schema("visitors", VISITOR_PROPS, ["visitorId"])]
    for n, vid in enumerate(ids, 1):
        msgs.append(record("visitors", {"visitorId": vid, "plan": plan}))
        if state_every and n % state_every == 0:
            msgs.append({"type": "STATE", "value": {"records": n}})
    return msgs


# -- metadata writes -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_stops_the_run(status: int, tsim, tconfig, tmp_path: Path) -> None:
    """The first batch lands; the key is then refused: no retry, no further write, the rest
    dead-lettered, and no STATE after the refusal."""
    ids = visitor_ids(tsim, 6)
    tsim.faults.add(Fault(path=METADATA_PATH, status=status, skip=1, times=None))
    tconfig["batch_size_rows"] = 2
    tconfig["max_concurrent_requests"] = 1  # one request per batch of 2, one after another
    run = run_target(tconfig, _visitors(ids, "refused", state_every=2), tmp_path)
    assert run.rc == 1, run.stderr[-2000:]
    statuses = [s for _, path, s in posts(tsim) if path == METADATA_PATH]
    assert statuses == [200, status]  # stopped at the first refusal, not retried
    # The run stops reading its input: what it had received and not written is dead-lettered.
    row = run.summary()["visitors"]
    assert row["updated"] == 2 and row["unaccounted"] == 0
    assert 2 <= row["dead_letter"] == row["received"] - 2
    dead_ids = {d["record"]["visitorId"] for d in run.dead_letters}
    assert len(dead_ids) == row["dead_letter"] and dead_ids <= set(ids[2:])
    assert run.states == [{"records": 2}]  # nothing after the refusal
    for vid in ids[:2]:
        assert tsim.store.metadata("visitor", vid)["custom"]["plan"] == "refused"
    for vid in ids[2:]:
        assert tsim.store.metadata("visitor", vid) == {}
    assert str(status) in run.stderr and "integration_key" in run.stderr


@pytest.mark.parametrize("status", [413, 422])
def test_a_413_or_422_batch_is_bisected(status: int, tsim, tconfig, tmp_path: Path) -> None:
    ids = visitor_ids(tsim, 8)
    tsim.faults.add(Fault(path=METADATA_PATH, status=status, times=1, body="too big"))
    run = run_target(tconfig, _visitors(ids, "halves"), tmp_path)
    assert run.rc == 0, run.stderr[-2000:]
    assert run.summary()["visitors"]["updated"] == 8
    assert [s for _, _, s in posts(tsim)] == [status, 200, 200]  # the batch in two halves
    assert tsim.store.metadata_writes[-2]["id"] != tsim.store.metadata_writes[-1]["id"]
    assert all(tsim.store.metadata("visitor", v)["custom"]["plan"] == "halves" for v in ids)


def test_equal_secrets_exit_with_status_2(tsim, tconfig, tmp_path: Path) -> None:
    tconfig["track_event_secret"] = tconfig["integration_key"]
    run = run_target(tconfig, _visitors(visitor_ids(tsim, 1), "x"), tmp_path)
    assert run.rc == 2
    assert "not interchangeable" in run.stderr
    assert tconfig["integration_key"] not in run.stderr
    assert tsim.request_log == []


def test_load_method_overwrite_is_refused_at_start(tsim, tconfig, tmp_path: Path) -> None:
    tconfig["load_method"] = "overwrite"
    run = run_target(tconfig, _visitors(visitor_ids(tsim, 2), "x"), tmp_path)
    assert run.rc == 2
    assert "overwrite" in run.stderr and "not supported" in run.stderr
    assert posts(tsim) == []


# -- deletions -------------------------------------------------------------------------------


def _deletions(ids: list[str], stream: str = "visitors", id_field: str = "visitorId") -> list:
    props = {
        id_field: {"type": "string"},
        "_sdc_deleted_at": {"type": ["string", "null"], "format": "date-time"},
    }
    return [schema(stream, props, [id_field])] + [
        record(stream, {id_field: i, "_sdc_deleted_at": DELETED_AT}) for i in ids
    ]


def test_a_bulk_delete_retry_is_paced(tsim, tconfig, tmp_path: Path) -> None:
    """The simulator refuses (429) a bulk delete within 1.9 s of the last one it accepted.
    The target sends the second chunk a second after the first, gets the 429, and its retry
    comes at least a second later again: accepted. An unpaced retry (backoff 0.01 s) would be
    refused until its tries ran out."""
    tsim.set_options(bulk_delete_min_interval_s=1.9)
    tconfig["streams"] = {"visitors": {"object": "visitor", "on_delete": "delete"}}
    ghosts = [f"gone-{n}" for n in range(600)]  # two calls: 500 + 100 ids
    run = run_target(tconfig, _deletions(ghosts), tmp_path)
    assert run.rc == 0, run.stderr[-2000:]
    assert [s for _, p, s in posts(tsim) if p == DELETE_PATH] == [200, 429, 200]
    assert run.summary()["visitors"]["deleted"] == 600
    assert tsim.deleted_ids["visitor"] == ghosts


def test_bulk_delete_retries_run_out(tsim, tconfig, tmp_path: Path) -> None:
    tconfig["streams"] = {"visitors": {"object": "visitor", "on_delete": "delete"}}
    tconfig["max_retries"] = 3
    tsim.faults.add(Fault(path=DELETE_PATH, status=503, times=None, body="try later"))
    ids = visitor_ids(tsim, 3)
    run = run_target(tconfig, _deletions(ids), tmp_path)
    assert run.rc == 1
    assert [s for _, p, s in posts(tsim) if p == DELETE_PATH] == [503] * 3  # max_retries tries
    row = run.summary()["visitors"]
    assert (row["deleted"], row["dead_letter"]) == (0, 3)
    assert sorted(d["id"] for d in run.dead_letters) == sorted(ids)
    for letter in run.dead_letters:
        assert "tries" in letter["reason"]
        assert "HTTP 503" in letter["api_error"] and "try later" in letter["api_error"]
    assert tsim.deleted_ids["visitor"] == []


def test_parent_account_deletions_are_ignored(tsim, tconfig, tmp_path: Path) -> None:
    run = run_target(
        tconfig, _deletions(["parent-0", "parent-1"], "parent_accounts", "accountId"), tmp_path
    )
    assert run.rc == 0, run.stderr[-2000:]
    row = run.summary()["parent_accounts"]
    assert (row["received"], row["delete_ignored"], row["dead_letter"]) == (2, 2, 0)
    assert posts(tsim) == []  # no bulk delete, no write
    assert "delet" in run.stderr  # one warning says the deletions were ignored


# -- track events and bad lines --------------------------------------------------------------


def test_properties_over_512_bytes_warn(tsim, tconfig, tmp_path: Path) -> None:
    props = {
        "visitorId": {"type": "string"},
        "event": {"type": "string"},
        "timestamp": {"type": "integer"},
        "properties": {"type": "object"},
    }
    now = int(time.time() * 1000)
    small = {"note": "x" * 400}  # 413 bytes of JSON
    large = {"note": "x" * 600}
    msgs = [schema("track_events", props)] + [
        record("track_events", {"visitorId": "v1", "event": "e", "timestamp": now, "properties": p})
        for p in (small, large)
    ]
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 0, run.stderr[-2000:]
    row = run.summary()["track_events"]
    assert row["sent"] == 2
    assert row["warnings"] == {"large_properties": 1}  # the large one only
    assert re.search(r"properties are 6\d\d bytes of JSON", run.stderr)
    assert len(tsim.store.oversized_track_properties) == 1  # and Pendo flagged it too


def test_the_dead_letter_line_is_the_input_line_number(tsim, tconfig, tmp_path: Path) -> None:
    ids = visitor_ids(tsim, 2)
    msgs = [
        schema("visitors", VISITOR_PROPS, ["visitorId"]),  # line 1
        record("visitors", {"visitorId": ids[0], "plan": "a"}),  # line 2
        "not json at all",  # line 3
        record("visitors", {"visitorId": ids[1], "plan": "b"}),  # line 4
        '{"type": "RECORD", "stream": "visitors", "record": [1, 2]}',  # line 5
    ]
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 1
    lines = sorted(d["line"] for d in run.dead_letters if "line" in d)
    assert lines == [3, 5]
    assert run.summary()["visitors"]["updated"] == 2


# -- tap-pendo -------------------------------------------------------------------------------


def test_activate_version_for_the_full_table_streams(sim: Simulator) -> None:
    config = tap_config(sim, emit_activate_version_messages=True)
    out = sync_in_process(config, {"reports", "metadata_fields", "pages"})
    activated = [m for m in out.messages if m["type"] == "ACTIVATE_VERSION"]
    assert {m["stream"] for m in activated} == {"reports", "metadata_fields"}
    for m in activated:  # the version stamped on that stream's records
        versions = {
            r.get("version")
            for r in out.messages
            if r["type"] == "RECORD" and r["stream"] == m["stream"]
        }
        assert versions == {m["version"]}


def test_the_readme_stream_maps_example_renames_the_key(tmp_path: Path) -> None:
    readme = (ROOT / "docs" / "migrating-from-singer-io.md").read_text()
    found = re.search(r'```json\n("stream_maps": \{"accounts".*?)\n```', readme, re.S)
    assert found, "the stream-maps example in docs/migrating-from-singer-io.md moved"
    stream_maps = json.loads("{" + found.group(1) + "}")["stream_maps"]
    with Simulator(DatasetConfig(seed=7, visitors=40, accounts=12)) as sim:
        out = sync_in_process(tap_config(sim, stream_maps=stream_maps), {"accounts"})
        assert out.key_properties["accounts"] == ["account_id"]
        rows = out.records["accounts"]
        assert len(rows) == len(sim.dataset.accounts())
        assert all("accountId" not in r for r in rows)
        assert {r["account_id"] for r in rows} == {a["accountId"] for a in sim.dataset.accounts()}


# -- conversions the README lists ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, True), (0, False), (Decimal(1), True), (Decimal(0), False), (1.0, True), (0.0, False)],
)
def test_zero_and_one_become_booleans(value: object, expected: bool) -> None:
    """README: `0`/`1` -> boolean (found by mutation testing: `bool(None)` for numbers
    survived every test)."""
    assert to_boolean(value) is expected


@pytest.mark.parametrize("value", [2, -1, Decimal("0.5"), 0.5])
def test_other_numbers_are_not_booleans(value: object) -> None:
    with pytest.raises(ConversionError):
        to_boolean(value)


@pytest.mark.parametrize(
    "value",
    [
        "2023-11-14T22:13:20Z",
        "2023-11-14T17:13:20-05:00",
        dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.timezone.utc),
        1_700_000_000,  # epoch seconds
        1_700_000_000_000,  # epoch ms
    ],
)
def test_time_values_are_sent_as_epoch_milliseconds_by_default(value: object) -> None:
    """README: time fields go to Pendo as epoch milliseconds unless `time_format: iso`
    (found by mutation testing: the default was never checked)."""
    assert convert_metadata_value(value, "time") == 1_700_000_000_000
    assert convert_metadata_value(value, "time", time_format="iso") == "2023-11-14T22:13:20.000Z"


@pytest.mark.parametrize("pendo_type", ["", "somethingnew"])
def test_a_datetime_for_an_untyped_field_is_sent_as_a_time_too(pendo_type: str) -> None:
    """A field whose Pendo type is unset (or unknown) still gets times in `time_format`
    (found by mutation testing: that branch's format was never checked)."""
    moment = dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.timezone.utc)
    assert convert_metadata_value(moment, pendo_type) == 1_700_000_000_000
    assert convert_metadata_value(moment, pendo_type, time_format="iso") == (
        "2023-11-14T22:13:20.000Z"
    )
