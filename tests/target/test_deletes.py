"""Deletions end to end: records marked deleted go to Pendo's bulk delete (`on_delete: delete`)
or are skipped and counted (`ignore`, the default); the target runs against a real simulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from pendo_sim import Fault
from tests.helpers.target import account_ids, posts, record, run_target, schema, visitor_ids

DELETE_PATH = "/api/v1/bulkdelete/visitor"
PROPS = {
    "visitorId": {"type": "string"},
    "plan": {"type": ["string", "null"]},
    "_sdc_deleted_at": {"type": ["string", "null"], "format": "date-time"},
}
DELETED_AT = "2026-03-01T00:00:00Z"


def people(ids_updated: list[str], ids_deleted: list[str]) -> list[dict]:
    """A visitors stream: updates and deletions interleaved."""
    msgs: list[dict] = [schema("visitors", PROPS, ["visitorId"])]
    for n in range(max(len(ids_updated), len(ids_deleted))):
        if n < len(ids_updated):
            msgs.append(
                record(
                    "visitors",
                    {"visitorId": ids_updated[n], "plan": "gold", "_sdc_deleted_at": None},
                )
            )
        if n < len(ids_deleted):
            msgs.append(
                record(
                    "visitors",
                    {"visitorId": ids_deleted[n], "plan": None, "_sdc_deleted_at": DELETED_AT},
                )
            )
    return msgs


def deleting(tconfig: dict, **extra: object) -> dict:
    tconfig["streams"] = {"visitors": {"object": "visitor", "on_delete": "delete", **extra}}
    return tconfig


def delete_calls(sim) -> list[tuple[str, str, int]]:
    return [p for p in posts(sim) if p[1] == DELETE_PATH]


def assert_counts_add_up(row: dict) -> None:
    outcomes = (
        "updated",
        "created",
        "sent",
        "missing",
        "deleted",
        "delete_ignored",
        "dry_run",
        "dead_letter",
    )
    assert row["received"] == sum(row[o] for o in outcomes)
    assert row["unaccounted"] == 0


def test_mixed_updates_and_deletions(tsim, tconfig, tmp_path: Path) -> None:
    ids = visitor_ids(tsim, 10)
    updated, deleted = ids[:6], ids[6:]
    run = run_target(deleting(tconfig), people(updated, deleted), tmp_path)
    assert run.rc == 0, run.stderr
    row = run.summary()["visitors"]
    assert (row["updated"], row["deleted"], row["dead_letter"]) == (6, 4, 0)
    assert_counts_add_up(row)
    for vid in updated:
        assert tsim.store.metadata("visitor", vid)["custom"]["plan"] == "gold"
    for vid in deleted:
        assert "custom" not in tsim.store.metadata("visitor", vid)  # never written as an update
        assert tsim.store.current("visitor", vid)["pendo"]["donotprocess"] is True
    listed = {v["visitorId"] for v in tsim.dataset.visitors()}
    assert listed.isdisjoint(deleted) and set(updated) <= listed
    assert tsim.deleted_ids["visitor"] == deleted
    assert [p for _, p, _ in posts(tsim)] == ["/api/v1/metadata/visitor/custom/value", DELETE_PATH]


def test_update_then_delete_of_one_id_keeps_the_order(tsim, tconfig, tmp_path: Path) -> None:
    vid, other = visitor_ids(tsim, 2)
    msgs = [
        schema("visitors", PROPS, ["visitorId"]),
        record("visitors", {"visitorId": vid, "plan": "gold"}),
        record("visitors", {"visitorId": vid, "_sdc_deleted_at": DELETED_AT}),
        record("visitors", {"visitorId": other, "_sdc_deleted_at": DELETED_AT}),
        record("visitors", {"visitorId": other, "plan": "silver"}),
    ]
    run = run_target(deleting(tconfig), msgs, tmp_path)
    assert run.rc == 0, run.stderr
    assert (run.summary()["visitors"]["updated"], run.summary()["visitors"]["deleted"]) == (2, 2)
    # vid: written, then deleted; other: deleted, then written: three requests in that order.
    assert [p for _, p, _ in posts(tsim)] == [
        "/api/v1/metadata/visitor/custom/value",
        DELETE_PATH,
        "/api/v1/metadata/visitor/custom/value",
    ]
    assert tsim.deleted_ids["visitor"] == [vid, other]


def test_1200_deletions_take_three_paced_calls(tsim, tconfig, tmp_path: Path) -> None:
    # Pendo: at most 500 ids a call; more than one call a second is likely to fail. The simulator
    # answers 429 to calls less than half a second apart; the target paces at one a second.
    tsim.set_options(bulk_delete_min_interval_s=0.5)
    ghosts = [f"gone-{n}" for n in range(1200)]
    real = visitor_ids(tsim, 3)
    run = run_target(deleting(tconfig), people([], [*real, *ghosts]), tmp_path)
    assert run.rc == 0, run.stderr
    row = run.summary()["visitors"]
    assert row["deleted"] == 1203
    assert_counts_add_up(row)
    assert delete_calls(tsim) == [("POST", DELETE_PATH, 200)] * 3
    assert len(tsim.deleted_ids["visitor"]) == 1203
    assert len(tsim.bulk_delete_jobs) == 3
    assert all(tsim.store.current("visitor", v)["pendo"]["donotprocess"] is True for v in real)


def test_accounts_are_deleted_with_an_accounts_body(tsim, tconfig, tmp_path: Path) -> None:
    acc = account_ids(tsim, 2)
    tconfig["streams"] = {
        "orgs": {
            "object": "account",
            "id_field": "org",
            "on_delete": "delete",
            "deleted_field": "is_deleted",
        }
    }
    msgs = [schema("orgs", {"org": {"type": "string"}, "is_deleted": {"type": "boolean"}}, ["org"])]
    msgs += [
        record("orgs", {"org": acc[0], "is_deleted": True}),
        record("orgs", {"org": acc[1], "is_deleted": False}),
    ]
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 0, run.stderr
    row = run.summary()["orgs"]
    assert (row["deleted"], row["updated"]) == (1, 1)  # the flag column itself is never sent
    assert tsim.deleted_ids["account"] == [acc[0]]
    assert [p for _, p, _ in posts(tsim)] == [
        "/api/v1/metadata/account/custom/value",
        "/api/v1/bulkdelete/account",
    ]


def test_ignore_is_the_default_and_reports_deletions(tsim, tconfig, tmp_path: Path) -> None:
    ids = visitor_ids(tsim, 4)
    run = run_target(tconfig, people(ids[:2], ids[2:]), tmp_path)
    assert run.rc == 0, run.stderr
    row = run.summary()["visitors"]
    assert (row["updated"], row["delete_ignored"], row["deleted"]) == (2, 2, 0)
    assert_counts_add_up(row)
    assert delete_calls(tsim) == []
    for vid in ids[2:]:
        assert tsim.store.metadata("visitor", vid) == {}  # not written as an update either
    assert "delete_ignored" in run.stderr and "on_delete: delete" in run.stderr


def test_dry_run_sends_no_deletion(tsim, tconfig, tmp_path: Path) -> None:
    ids = visitor_ids(tsim, 4)
    run = run_target(deleting(tconfig) | {"dry_run": True}, people(ids[:2], ids[2:]), tmp_path)
    assert run.rc == 0, run.stderr
    row = run.summary()["visitors"]
    assert (row["dry_run"], row["deleted"]) == (4, 0)
    assert posts(tsim) == []
    assert tsim.deleted_ids["visitor"] == []
    assert "[dry run] would delete 2 visitor id(s)" in run.stderr


def test_a_5xx_is_retried(tsim, tconfig, tmp_path: Path) -> None:
    tsim.faults.add(Fault(path=DELETE_PATH, status=503, times=1))
    ids = visitor_ids(tsim, 3)
    run = run_target(deleting(tconfig), people([], ids), tmp_path)
    assert run.rc == 0, run.stderr
    assert run.summary()["visitors"]["deleted"] == 3
    assert [s for _, _, s in delete_calls(tsim)] == [503, 200]
    assert tsim.deleted_ids["visitor"] == ids


def test_a_400_dead_letters_the_calls_records_with_pendos_text(
    tsim, tconfig, tmp_path: Path
) -> None:
    tsim.faults.add(
        Fault(path=DELETE_PATH, status=400, body="visitor ids must be strings", times=1)
    )
    ids = visitor_ids(tsim, 5)
    run = run_target(deleting(tconfig), people(ids[:2], ids[2:]), tmp_path)
    assert run.rc == 1
    row = run.summary()["visitors"]
    assert (row["updated"], row["deleted"], row["dead_letter"]) == (2, 0, 3)
    assert_counts_add_up(row)
    dead = run.dead_letters
    assert sorted(d["id"] for d in dead) == sorted(ids[2:])
    assert all(
        d["api_error"] == "visitor ids must be strings" and "HTTP 400" in d["reason"] for d in dead
    )
    assert dead[0]["sent"] == {"visitors": [dead[0]["id"]]}
    assert [s for _, _, s in delete_calls(tsim)] == [400]  # not retried


def test_state_waits_for_the_deletions_before_it(tsim, tconfig, tmp_path: Path) -> None:
    ids = visitor_ids(tsim, 3)
    msgs = [*people([], ids), {"type": "STATE", "value": {"bookmarks": {"visitors": 3}}}]
    run = run_target(deleting(tconfig), msgs, tmp_path)
    assert run.rc == 0, run.stderr
    assert run.states == [{"bookmarks": {"visitors": 3}}]
    assert tsim.deleted_ids["visitor"] == ids


def test_delete_for_track_events_is_refused_at_start(tsim, tconfig, tmp_path: Path) -> None:
    tconfig["streams"] = {
        "clicks": {"object": "track_event", "event_name": "click", "on_delete": "delete"}
    }
    run = run_target(tconfig, [], tmp_path)
    assert run.rc == 2
    assert "`on_delete: delete` works for visitor and account streams only" in run.stderr
    assert "clicks" in run.stderr


def test_delete_for_parent_accounts_via_star_is_refused_at_start(
    tsim, tconfig, tmp_path: Path
) -> None:
    tconfig["streams"] = {"*": {"object": "parent_account", "on_delete": "delete"}}
    run = run_target(tconfig, [], tmp_path)
    assert run.rc == 2
    assert "parent_account" in run.stderr and "on_delete" in run.stderr


def test_deleted_track_events_are_skipped_by_default(tsim, tconfig, tmp_path: Path) -> None:
    vid = visitor_ids(tsim, 1)[0]
    props = {
        "visitorId": {"type": "string"},
        "event": {"type": "string"},
        "timestamp": {"type": "integer"},
        "_sdc_deleted_at": {"type": ["string", "null"]},
    }
    now_ms = tsim.dataset.now_ms
    msgs = [schema("track_events", props)]
    msgs += [
        record(
            "track_events",
            {"visitorId": vid, "event": "a", "timestamp": now_ms, "_sdc_deleted_at": None},
        ),
        record(
            "track_events",
            {"visitorId": vid, "event": "b", "timestamp": now_ms, "_sdc_deleted_at": DELETED_AT},
        ),
    ]
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 0, run.stderr
    row = run.summary()["track_events"]
    assert (row["sent"], row["delete_ignored"]) == (1, 1)
    assert [e["event"] for e in tsim.store.track_events] == ["a"]
    assert "_sdc_deleted_at" not in tsim.store.track_events[0].get("properties", {})


def test_phases_keep_each_ids_order_with_few_requests() -> None:
    from target_pendo.ledger import Item
    from target_pendo.sinks import _phases

    def item(seq: int, ident: str, delete: bool) -> Item:
        return Item(seq, "s", {}, id=ident, delete=delete)

    items = [
        item(1, "a", False),
        item(2, "b", True),
        item(3, "c", False),
        item(4, "a", True),
        item(5, "b", False),
        item(6, "d", True),
        item(7, "a", False),
    ]
    got = [(deleting, [i.seq for i in group]) for deleting, group in _phases(items)]
    assert got == [(False, [1, 3]), (True, [2, 4, 6]), (False, [5, 7])]


@pytest.mark.parametrize(
    "value, deleted",
    [
        (None, False),
        (False, False),
        ("", False),
        ("false", False),
        (0, False),
        ("2026-03-01T00:00:00Z", True),
        (True, True),
        ("true", True),
        (1, True),
    ],
)
def test_what_counts_as_deleted(value: object, deleted: bool) -> None:
    from target_pendo.streams_config import is_deletion

    assert is_deletion({"_sdc_deleted_at": value}, "_sdc_deleted_at") is deleted
    assert is_deletion({}, "_sdc_deleted_at") is False
