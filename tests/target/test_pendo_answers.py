"""The target against every answer Pendo might give where its docs are silent (issue 12, and the
unconfirmed writes of issue 11): each simulator option that models another answer must end
with every record written or accounted for, exactly as with the simulator's default."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pendo_sim import Fault
from target_pendo.http import VisitorPacer
from target_pendo.metadata import Answer, error_text, item_id, read_answer
from tests.helpers.target import posts, record, run_target, schema, visitor_ids

METADATA_PATH = "/api/v1/metadata/visitor/custom/value"
DELETE_PATH = "/api/v1/bulkdelete/visitor"
PROPS = {
    "visitorId": {"type": "string"},
    "plan": {"type": ["string", "null"]},
    "renewaldate": {"type": ["string", "integer", "null"]},
}
MISSING_SHAPES = ("id", "id_object", "id_key")
ERROR_SHAPES = ("text", "text_no_id", "field_message", "id_object")


def metadata_posts(sim) -> list[tuple[str, str, int]]:
    return [p for p in posts(sim) if p[1].startswith(METADATA_PATH)]


def mixed_batch(sim) -> tuple[list[dict], dict[str, list[str]]]:
    """Eight records in one batch: four plain updates, two with a Date value given as epoch
    ms (refused by a simulator that takes only ISO dates, when the target sends ms) and two
    unknown ids."""
    ids = visitor_ids(sim, 6)
    groups = {"good": ids[:4], "dated": ids[4:], "ghost": ["ghost-a", "ghost-b"]}
    msgs = [schema("visitors", PROPS, ["visitorId"])]
    for vid in [ids[0], ids[4], "ghost-a", ids[1], ids[2], ids[5], "ghost-b", ids[3]]:
        rec = {"visitorId": vid, "plan": f"plan-{vid}"}
        if vid in groups["dated"]:
            rec["renewaldate"] = 1767323045000
        msgs.append(record("visitors", rec))
    return msgs, groups


def assert_mixed_outcome(sim, run, groups: dict[str, list[str]], *, create: bool) -> None:
    row = run.summary()["visitors"]
    assert row["updated"] == 4
    assert row["dead_letter"] == 2
    assert (row["missing"], row["created"]) == ((0, 2) if create else (2, 0))
    assert row["unaccounted"] == 0
    dead = {d["id"]: d for d in run.dead_letters}
    assert set(dead) == set(groups["dated"])
    for vid in groups["dated"]:
        assert "expects time" in dead[vid]["api_error"]  # Pendo's own words, whatever the shape
        assert sim.store.metadata("visitor", vid) == {}
    for vid in groups["good"]:
        assert sim.store.metadata("visitor", vid)["custom"]["plan"] == f"plan-{vid}"
    for vid in groups["ghost"]:
        known = sim.dataset.visitor_table.index_of(vid) is not None
        assert known is create
        if create:
            assert sim.store.metadata("visitor", vid)["custom"]["plan"] == f"plan-{vid}"
    assert run.rc == 1  # two records were not written


@pytest.mark.parametrize("missing_shape", MISSING_SHAPES)
@pytest.mark.parametrize("error_shape", ERROR_SHAPES)
def test_every_shape_of_missing_and_errors_ends_the_same(
    tsim, tconfig, tmp_path: Path, missing_shape: str, error_shape: str
) -> None:
    tsim.set_options(
        metadata_missing_items=missing_shape,
        metadata_error_items=error_shape,
        time_values="iso_only",
    )
    tconfig["time_format"] = "epoch_ms"
    msgs, groups = mixed_batch(tsim)
    run = run_target(tconfig, msgs, tmp_path)
    assert_mixed_outcome(tsim, run, groups, create=False)
    calls = metadata_posts(tsim)
    if error_shape in ("text", "id_object"):
        assert len(calls) == 1  # every item names its record: no re-send
    else:
        assert len(calls) > 3  # texts naming no record: the batch was bisected
    assert all("create=true" not in path for _, path, _ in calls)


@pytest.mark.parametrize("missing_shape", MISSING_SHAPES)
def test_create_mode_creates_missing_ids_of_every_shape(
    tsim, tconfig, tmp_path: Path, missing_shape: str
) -> None:
    """With `create`, the ids Pendo reports missing are re-sent with ?create=true: none is
    dead-lettered or skipped because its `missing` item was an object."""
    tsim.set_options(
        metadata_missing_items=missing_shape,
        metadata_error_items="field_message",
        time_values="iso_only",
    )
    tconfig["time_format"] = "epoch_ms"
    tconfig["streams"] = {"visitors": {"object": "visitor", "create": True}}
    msgs, groups = mixed_batch(tsim)
    run = run_target(tconfig, msgs, tmp_path)
    assert_mixed_outcome(tsim, run, groups, create=True)
    assert any("create=true" in path for _, path, _ in metadata_posts(tsim))


def test_error_isolation_bisect_still_trusts_ids_named_in_objects(
    tsim, tconfig, tmp_path: Path
) -> None:
    tsim.set_options(metadata_error_items="id_object", time_values="iso_only")
    tconfig.update(time_format="epoch_ms", error_isolation="bisect")
    msgs, groups = mixed_batch(tsim)
    run = run_target(tconfig, msgs, tmp_path)
    assert_mixed_outcome(tsim, run, groups, create=False)
    assert len(metadata_posts(tsim)) == 1


# -- unconfirmed writes ---------------------------------------------------------------------


def plain_updates(sim, n: int) -> tuple[list[dict], list[str]]:
    ids = visitor_ids(sim, n)
    msgs = [schema("visitors", PROPS, ["visitorId"])]
    msgs += [record("visitors", {"visitorId": v, "plan": f"u-{v}"}) for v in ids]
    return msgs, ids


@pytest.mark.parametrize("answer", ["html", "empty", "list", "no_counts", "bad_counts"])
def test_a_success_status_without_a_summary_is_never_counted_as_written(
    tsim, tconfig, tmp_path: Path, answer: str
) -> None:
    """The simulator stores the values but answers 200 with a body that confirms nothing: the
    batch is re-sent within the retry budget, then dead-lettered as unconfirmed."""
    tsim.set_options(metadata_answer=answer)
    msgs, ids = plain_updates(tsim, 5)
    msgs.append({"type": "STATE", "value": {"done": True}})
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 1
    row = run.summary()["visitors"]
    assert (row["updated"], row["dead_letter"], row["unaccounted"]) == (0, 5, 0)
    assert {d["id"] for d in run.dead_letters} == set(ids)
    assert all(d["reason"].startswith("unconfirmed") for d in run.dead_letters)
    assert len(metadata_posts(tsim)) == tconfig["max_retries"]  # the same batch, re-sent
    for vid in ids:  # what Pendo did, which the target could not know
        assert tsim.store.metadata("visitor", vid)["custom"]["plan"] == f"u-{vid}"
    assert run.states == [{"done": True}]  # the records are accounted for (dead-lettered)


@pytest.mark.parametrize(
    "body", ["<html><body>Moved</body></html>", "", "[]", '{"ok": true}', '{"total": 3}']
)
def test_an_unconfirmed_answer_that_passes_is_re_sent_and_counted(
    tsim, tconfig, tmp_path: Path, body: str
) -> None:
    tsim.faults.add(Fault(path=METADATA_PATH, kind="status", status=200, body=body, times=2))
    msgs, ids = plain_updates(tsim, 5)
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 0, run.stderr
    assert run.summary()["visitors"]["updated"] == 5
    assert [s for _, _, s in metadata_posts(tsim)] == [200, 200, 200]
    assert "unconfirmed" in run.stderr
    for vid in ids:
        assert tsim.store.metadata("visitor", vid)["custom"]["plan"] == f"u-{vid}"


def deletions(sim, n: int) -> tuple[list[dict], list[str]]:
    ids = visitor_ids(sim, n)
    props = {**PROPS, "_sdc_deleted_at": {"type": ["string", "null"]}}
    msgs = [schema("visitors", props, ["visitorId"])]
    msgs += [
        record("visitors", {"visitorId": v, "_sdc_deleted_at": "2026-03-01T00:00:00Z"}) for v in ids
    ]
    return msgs, ids


@pytest.mark.parametrize("answer", ["html", "empty", "list"])
def test_a_bulk_delete_without_a_job_id_is_unconfirmed(
    tsim, tconfig, tmp_path: Path, answer: str
) -> None:
    tsim.set_options(bulk_delete_answer=answer)
    tconfig["streams"] = {"visitors": {"object": "visitor", "on_delete": "delete"}}
    tconfig["max_retries"] = 2  # bulk deletes go out at most once a second
    msgs, ids = deletions(tsim, 3)
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 1
    row = run.summary()["visitors"]
    assert (row["deleted"], row["dead_letter"], row["unaccounted"]) == (0, 3, 0)
    assert all(d["reason"].startswith("unconfirmed") for d in run.dead_letters)
    assert len([p for p in posts(tsim) if p[1] == DELETE_PATH]) == 2


def test_a_bulk_delete_confirmed_on_the_re_send_counts(tsim, tconfig, tmp_path: Path) -> None:
    tsim.faults.add(Fault(path=DELETE_PATH, kind="status", status=200, body="<html/>", times=1))
    tconfig["streams"] = {"visitors": {"object": "visitor", "on_delete": "delete"}}
    msgs, ids = deletions(tsim, 3)
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 0, run.stderr
    assert run.summary()["visitors"]["deleted"] == 3
    assert sorted(tsim.deleted_ids["visitor"]) == sorted(ids)


# -- 408 ------------------------------------------------------------------------------------


def test_408_splits_the_batch_and_keeps_the_smaller_size(tsim, tconfig, tmp_path: Path) -> None:
    """The simulator times out calls of more than 5 records (1 simulated second each, a
    5.5-second limit): the first batch of 20 is split down to 5, and the second batch goes out
    5 at a time without another 408."""
    tsim.set_options(metadata_write_seconds_per_record=1.0, metadata_write_time_limit_s=5.5)
    tconfig["batch_size"] = 20
    tconfig["max_concurrent_requests"] = 1  # the exact order of answers below
    msgs, ids = plain_updates(tsim, 40)
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 0, run.stderr
    assert run.summary()["visitors"]["updated"] == 40
    statuses = [s for _, _, s in metadata_posts(tsim)]
    # 20 -> 408; 10 -> 408, 5 + 5; 10 -> 408, 5 + 5; then the second batch as 4 x 5.
    assert statuses == [408, 408, 200, 200, 408, 200, 200, 200, 200, 200, 200]
    assert "at most 5 records a request" in run.stderr
    for vid in ids:
        assert tsim.store.metadata("visitor", vid)["custom"]["plan"] == f"u-{vid}"


def test_408_on_a_single_record_is_re_sent_then_dead_lettered(
    tsim, tconfig, tmp_path: Path
) -> None:
    tsim.faults.add(Fault(path=METADATA_PATH, kind="status", status=408, times=None))
    msgs, ids = plain_updates(tsim, 1)
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 1
    assert [d["id"] for d in run.dead_letters] == ids
    assert "HTTP 408" in run.dead_letters[0]["reason"]
    assert len(metadata_posts(tsim)) == tconfig["max_retries"]


# -- dates ----------------------------------------------------------------------------------


def dated(sim) -> tuple[list[dict], list[str]]:
    """Date values in both input forms: an ISO string and epoch milliseconds."""
    ids = visitor_ids(sim, 2)
    msgs = [
        schema("visitors", PROPS, ["visitorId"]),
        record("visitors", {"visitorId": ids[0], "renewaldate": "2026-01-02T03:04:05Z"}),
        record("visitors", {"visitorId": ids[1], "renewaldate": 1767323045000}),
    ]
    return msgs, ids


@pytest.mark.parametrize("time_values", ["any", "iso_only"])
def test_dates_go_as_iso_by_default_and_land_either_way(
    tsim, tconfig, tmp_path: Path, time_values: str
) -> None:
    tsim.set_options(time_values=time_values)
    msgs, ids = dated(tsim)
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 0, run.stderr
    assert run.summary()["visitors"]["updated"] == 2
    sent = [w["values"] for w in tsim.store.metadata_writes]
    assert len(sent) == 2
    for vid in ids:
        assert tsim.store.metadata("visitor", vid)["custom"]["renewaldate"] == 1767323045000


def test_epoch_ms_option_against_a_pendo_that_takes_only_iso(tsim, tconfig, tmp_path: Path) -> None:
    """`time_format: epoch_ms` still sends numbers; where Pendo refuses them the records are
    dead-lettered with Pendo's text (and the same run with ISO dates writes them)."""
    tsim.set_options(time_values="iso_only")
    tconfig["time_format"] = "epoch_ms"
    msgs, ids = dated(tsim)
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 1
    assert {d["id"] for d in run.dead_letters} == set(ids)
    assert all("expects time" in d["api_error"] for d in run.dead_letters)
    tsim.set_options(time_values="any")
    tconfig["dead_letter_path"] = str(tmp_path / "dead-any.jsonl")
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 0, run.stderr
    for vid in ids:
        assert tsim.store.metadata("visitor", vid)["custom"]["renewaldate"] == 1767323045000


# -- reading answers (units) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("v-1", "v-1"),
        (42, "42"),
        ({"visitorId": "v-1"}, "v-1"),
        ({"accountId": "acme"}, "acme"),
        ({"id": "v-1", "message": "x"}, "v-1"),
        ({"field": "plan", "message": "bad"}, None),
        (True, None),
        (None, None),
        ({"visitorId": ""}, None),
    ],
)
def test_item_id_reads_every_plausible_shape(entry: object, expected: str | None) -> None:
    assert item_id(entry, "visitorId") == expected


def test_error_text_keeps_field_and_message() -> None:
    assert error_text({"field": "plan", "message": "expects string"}) == (
        "field plan: expects string"
    )
    assert error_text("visitor 'v-1': bad") == "visitor 'v-1': bad"
    assert json.loads(error_text({"code": 7})) == {"code": 7}


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("<html></html>", "not JSON"),
        (None, "empty"),
        ([], "a JSON list"),
        ({"missing": []}, "no `total`/`updated`"),
        ({"total": 3, "updated": 2, "failed": 0}, "do not add up"),
        ({"total": 2, "updated": 2, "failed": 0}, "not the number of records sent"),
        ({"total": "3", "updated": 3}, "no `total`/`updated`"),
        ({"total": 3, "updated": True, "failed": 2}, "no `total`/`updated`"),
        ({"total": 3, "updated": 4}, "do not add up"),
        (True, "a JSON bool"),
    ],
)
def test_answers_that_confirm_nothing(answer: object, problem: str) -> None:
    read = read_answer(answer, 3)
    assert isinstance(read, str) and problem in read


def test_a_documented_answer_is_read() -> None:
    read = read_answer(
        {"total": 3, "updated": 1, "failed": 2, "missing": [{"id": "x"}], "errors": ["e"]}, 3
    )
    assert read == Answer(updated=1, failed=2, missing=[{"id": "x"}], errors=["e"])
    assert read_answer({"total": 3, "updated": 3}, 3) == Answer(3, 0, [], [])


# -- track events per visitor ---------------------------------------------------------------

TRACK_PROPS = {
    "visitorId": {"type": "string"},
    "event": {"type": "string"},
    "timestamp": {"type": "integer"},
    "properties": {"type": "object"},
}


def track_burst(visitors: list[str], per_visitor: int) -> list[dict]:
    """Each visitor's events one after the other in the input: v1, v1, v1, v2, v2, v2, ..."""
    now_ms = int(time.time() * 1000)
    msgs = [schema("track_events", TRACK_PROPS)]
    seq = 0
    for vid in visitors:
        for _ in range(per_visitor):
            seq += 1
            msgs.append(
                record(
                    "track_events",
                    {
                        "visitorId": vid,
                        "event": "paced",
                        "timestamp": now_ms - seq,
                        "properties": {"seq": seq},
                    },
                )
            )
    return msgs


def test_track_events_are_paced_per_visitor_while_others_flow(
    tsim, tconfig, tmp_path: Path
) -> None:
    """A Pendo that silently drops a visitor's second event within a second keeps every
    event, and the other visitors' first events are not held behind one visitor's queue."""
    tsim.set_options(track_min_interval_per_visitor_s=1.0)
    visitors = ["pace-a", "pace-b", "pace-c"]
    run = run_target(tconfig, track_burst(visitors, 3), tmp_path)
    assert run.rc == 0, run.stderr
    assert run.summary()["track_events"]["sent"] == 9
    assert tsim.store.throttled_track_events == []
    kept = tsim.store.track_events
    assert sorted(e["properties"]["seq"] for e in kept) == list(range(1, 10))
    order = [e["visitorId"] for e in kept]
    assert set(order[:3]) == set(visitors)  # every visitor's first event before any second
    for vid in visitors:  # and each visitor's events in input order
        seqs = [e["properties"]["seq"] for e in kept if e["visitorId"] == vid]
        assert seqs == sorted(seqs)


def test_without_pacing_the_per_visitor_limit_drops_events(tsim, tconfig, tmp_path: Path) -> None:
    """The control: pacing off, the simulator's limit drops events with a 200 (so the target
    counts them as sent): what the pacing protects against."""
    tsim.set_options(track_min_interval_per_visitor_s=1.0)
    tconfig["track_events_per_visitor_per_second"] = 0
    run = run_target(tconfig, track_burst(["burst-a"], 3), tmp_path)
    assert run.rc == 0, run.stderr
    assert run.summary()["track_events"]["sent"] == 3
    assert len(tsim.store.throttled_track_events) >= 1


def test_visitor_pacer_spaces_one_visitor_only() -> None:
    clock = [100.0]
    pacer = VisitorPacer(2.0, clock=lambda: clock[0])
    assert pacer.ready_at("a") == 0.0
    pacer.done("a")
    assert pacer.ready_at("a") == 100.5
    assert pacer.ready_at("b") == 0.0
    clock[0] = 101.0
    pacer.done("a")
    assert pacer.ready_at("a") == 101.5
    off = VisitorPacer(0)
    off.done("a")
    assert off.ready_at("a") == 0.0
