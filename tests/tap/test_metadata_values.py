"""Metadata `time` values read back as epoch ms, whether Pendo returns epoch ms or ISO text
(issue 12, item 9): the conversion alone, then the tap against the simulator's
`time_values_read` "ms" and "iso"."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from pendo_sim import DatasetConfig, Simulator
from tap_pendo.metadata_values import (
    NotADate,
    TimeField,
    TimeValueReader,
    time_fields,
    to_epoch_ms,
)
from tests.helpers.tap import run_tap, sync_in_process, tap_config

MS = 1767323045678  # 2026-01-02T03:04:05.678Z
WRITTEN = {"visitor-13": "2026-01-02T03:04:05.678Z", "visitor-14": 1767312000000}

# -- the conversion -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-02T03:04:05.678Z", MS),
        ("2026-01-02T03:04:05Z", MS - 678),
        ("2026-01-02T03:04:05.678+00:00", MS),
        ("2026-01-02T04:04:05.678+01:00", MS),
        ("2026-01-01T22:04:05.678-05:00", MS),
        ("2026-01-02T03:04:05.678123Z", MS),  # sub-millisecond digits are floored
        ("2026-01-02T03:04:05.678", MS),  # naive: UTC
        ("2026-01-02", MS - (3 * 3600 + 4 * 60 + 5) * 1000 - 678),  # bare date: midnight UTC
        (" 2026-01-02T03:04:05.678Z ", MS),
        ("1767323045678", MS),
        (str(-86_400_000), -86_400_000),
        (MS, MS),
        (0, 0),
        (float(MS), MS),
        (None, None),
    ],
)
def test_to_epoch_ms_reads_every_form(value: object, expected: int | None) -> None:
    result = to_epoch_ms(value)
    assert result == expected
    assert result is None or type(result) is int


def test_an_int_passes_unchanged() -> None:
    value = 10**15 + 1
    assert to_epoch_ms(value) is value


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (True, "a boolean"),  # an int in Python, never epoch 1
        (False, "a boolean"),
        ("not a date", "a string of 10 characters"),
        ("", "a string of 0 characters"),
        ("2026-13-45", "a string of 10 characters"),
        ({"ms": 1}, "a value of type dict"),
        ([MS], "a value of type list"),
        (float("nan"), "a value of type float"),
    ],
)
def test_values_that_are_not_dates(value: object, kind: str) -> None:
    with pytest.raises(NotADate) as caught:
        to_epoch_ms(value)
    assert str(caught.value) == kind


def test_time_fields_from_the_metadata_schema() -> None:
    groups = {
        "agent": {"signup": {"Type": "time"}, "name": {"Type": "string"}},
        "custom": {
            "born": {"Type": "date"},
            "renewals": {"Type": "list", "ElementType": "time"},
            "tags": {"Type": "list", "ElementType": "string"},
            "odd": "not a descriptor",
        },
        "broken": None,
    }
    assert time_fields(groups) == (
        TimeField("agent", "signup"),
        TimeField("custom", "born"),
        TimeField("custom", "renewals", is_list=True),
    )
    assert time_fields(None) == ()


def test_reader_converts_nulls_and_warns_once_per_field(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.metadata_values")
    fields = (
        TimeField("custom", "due"),
        TimeField("custom", "renewals", is_list=True),
        TimeField("auto", "lastupdated"),
    )
    reader = TimeValueReader("visitors", "visitorId", fields, logger)
    records = [
        {
            "visitorId": "v1",
            "metadata": {
                "custom": {"due": "2026-01-02T03:04:05.678Z", "renewals": ["2026-01-02", MS]},
                "auto": {"lastupdated": MS},
            },
        },
        {"visitorId": "v2", "metadata": {"custom": {"due": "secret-ish text", "renewals": None}}},
        {"visitorId": "v3", "metadata": {"custom": {"due": True, "renewals": ["soon", MS]}}},
        {"visitorId": "v4", "metadata": None},
        {"visitorId": "v5"},
    ]
    with caplog.at_level(logging.WARNING, logger="tests.metadata_values"):
        out = [reader.convert(r) for r in records]
    assert out == records  # converted in place, every record kept
    assert records[0]["metadata"]["custom"] == {
        "due": MS,
        "renewals": [MS - (3 * 3600 + 4 * 60 + 5) * 1000 - 678, MS],
    }
    assert records[0]["metadata"]["auto"]["lastupdated"] == MS
    assert records[1]["metadata"]["custom"] == {"due": None, "renewals": None}
    assert records[2]["metadata"]["custom"] == {"due": None, "renewals": [None, MS]}
    assert reader.nulled == 3
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2  # one per stream and field, not one per value
    assert "visitors: metadata.custom.due of visitorId 'v2' is not a date" in warnings[0]
    assert "(a string of 15 characters)" in warnings[0]
    assert "visitors: metadata.custom.renewals of visitorId 'v3'" in warnings[1]
    assert not any("secret-ish" in w or "soon" in w for w in warnings)  # never the value
    assert reader.summary() == (
        "visitors: 3 metadata time values were not dates and were emitted as null "
        "(metadata.custom.due, metadata.custom.renewals)"
    )
    assert TimeValueReader("accounts", "accountId", fields, logger).summary() is None


# -- the tap against the simulator ------------------------------------------------------------


@pytest.fixture(scope="module")
def tsim() -> Iterator[Simulator]:
    """A small dataset; visitor-13's renewal date written as ISO text, visitor-14's as ms."""
    with Simulator(DatasetConfig(seed=5, visitors=40, accounts=12, anonymous_visitors=3)) as sim:
        body = [{"visitorId": v, "values": {"renewaldate": d}} for v, d in WRITTEN.items()]
        answer = requests.post(
            sim.url + "/api/v1/metadata/visitor/custom/value",
            json=body,
            headers={"x-pendo-integration-key": sim.integration_key},
            timeout=30,
        )
        assert answer.json()["updated"] == 2
        yield sim


def _time_values(sim: Simulator, kind: str, records: list[dict]) -> dict[tuple, object]:
    """(id, group, field) -> value of every `time` field of the kind present in `records`."""
    id_field = "visitorId" if kind == "visitor" else "accountId"
    fields = time_fields(sim.dataset.schemas[kind])
    out = {}
    for record in records:
        metadata = record["metadata"]
        for f in fields:
            group = metadata.get(f.group) or {}
            if f.name in group:
                out[(record[id_field], f.group, f.name)] = group[f.name]
    return out


def _raw_renewal(sim: Simulator, visitor: str) -> object:
    pipeline = [{"source": {"visitors": None}}, {"filter": f'visitorId == "{visitor}"'}]
    body = {"response": {"mimeType": "application/json"}, "request": {"pipeline": pipeline}}
    answer = requests.post(
        sim.url + "/api/v1/aggregation",
        json=body,
        headers={"x-pendo-integration-key": sim.integration_key},
        timeout=30,
    )
    return answer.json()["results"][0]["metadata"]["custom"]["renewaldate"]


@pytest.mark.parametrize("mode", ["ms", "iso"])
def test_time_fields_are_the_stored_epoch_ms_whatever_pendo_returns(
    tsim: Simulator, mode: str
) -> None:
    tsim.set_options(time_values_read=mode)
    try:
        raw = _raw_renewal(tsim, "visitor-13")
        assert raw == (MS if mode == "ms" else "2026-01-02T03:04:05.678Z")
        out = sync_in_process(tap_config(tsim, page_size=7), ["visitors", "accounts"])
    finally:
        tsim.set_options(time_values_read="ms")
    truth = {
        "visitor": tsim.dataset.visitors(identified_only=True),
        "account": tsim.dataset.accounts(),
    }
    for kind, stream in (("visitor", "visitors"), ("account", "accounts")):
        emitted = _time_values(tsim, kind, out.records[stream])
        expected = _time_values(tsim, kind, truth[kind])
        assert emitted == expected
        assert len(emitted) > 2 * len(truth[kind])
        assert all(v is None or type(v) is int for v in emitted.values())
        # Values outside `auto` are what `iso` changes: the check covers some.
        assert any(group == "custom" for _, group, _ in emitted)
    visitors = {r["visitorId"]: r for r in out.records["visitors"]}
    assert visitors["visitor-13"]["metadata"]["custom"]["renewaldate"] == MS
    assert visitors["visitor-14"]["metadata"]["custom"]["renewaldate"] == WRITTEN["visitor-14"]


def test_ms_and_iso_reads_emit_identical_records(tsim: Simulator) -> None:
    outputs = {}
    for mode in ("ms", "iso"):
        tsim.set_options(time_values_read=mode)
        try:
            outputs[mode] = sync_in_process(tap_config(tsim), ["visitors", "accounts"])
        finally:
            tsim.set_options(time_values_read="ms")
    for stream in ("visitors", "accounts"):
        assert outputs["ms"].records[stream] == outputs["iso"].records[stream]
        assert outputs["ms"].records[stream]


def test_a_value_that_is_not_a_date_is_nulled_and_logged_once(tmp_path: Path) -> None:
    with Simulator(DatasetConfig(seed=5, visitors=30, accounts=6, anonymous_visitors=0)) as sim:
        table = sim.dataset.visitor_table
        # Pendo answering text that is no date (the simulator's writes refuse it, so it is put
        # into the table directly).
        for visitor in ("visitor-5", "visitor-6"):
            j = table.index_of(visitor)
            assert j is not None
            table.set_values(j, "custom", {"renewaldate": "next tuesday"}, sim.dataset.now_ms)
        run = run_tap(tmp_path, tap_config(sim), ["visitors"], check=True)
    visitors = {r["visitorId"]: r for r in run.records["visitors"]}
    assert len(visitors) == 30  # the records are kept
    for visitor in ("visitor-5", "visitor-6"):
        assert visitors[visitor]["metadata"]["custom"]["renewaldate"] is None
    signups = [r["metadata"].get("agent", {}).get("signupdate") for r in visitors.values()]
    assert any(type(s) is int for s in signups)
    warnings = [line for line in run.stderr.splitlines() if "is not a date" in line]
    assert len(warnings) == 1, run.stderr[-3000:]
    assert "visitors: metadata.custom.renewaldate of visitorId 'visitor-" in warnings[0]
    assert "(a string of 12 characters)" in warnings[0]
    assert "next tuesday" not in run.stderr
    assert (
        "visitors: 2 metadata time values were not dates and were emitted as null "
        "(metadata.custom.renewaldate)" in run.stderr
    )
