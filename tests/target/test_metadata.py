"""Metadata writes end to end: the target as a subprocess against a real simulator."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from pendo_sim import Fault
from tests.helpers.target import (
    TARGET,
    VISITOR_PROPS,
    account_ids,
    lines_of,
    posts,
    read_jsonl,
    record,
    run_target,
    schema,
    visitor_ids,
)


def test_updates_existing_visitors_with_converted_values(tsim, tconfig, tmp_path: Path) -> None:
    ids = visitor_ids(tsim, 5)
    msgs = [schema("visitors", VISITOR_PROPS, ["visitorId"])]
    for n, vid in enumerate(ids):
        msgs.append(
            record(
                "visitors",
                {
                    "visitorId": vid,
                    "plan": f"plan-{n}",
                    "seats": n + 1,
                    "score": 1.5 + n,
                    "isbeta": "true" if n % 2 else "false",
                    "renewaldate": "2026-01-02T03:04:05Z",
                },
            )
        )
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 0, run.stderr
    for n, vid in enumerate(ids):
        custom = tsim.store.metadata("visitor", vid)["custom"]
        assert custom["plan"] == f"plan-{n}"
        assert custom["seats"] == n + 1
        assert custom["score"] == 1.5 + n
        assert custom["isbeta"] is bool(n % 2)  # "true"/"false" strings became booleans
        assert custom["renewaldate"] == 1767323045000  # sent as ISO 8601; the simulator keeps ms
    assert run.summary()["visitors"]["updated"] == 5
    writes = posts(tsim)
    assert writes == [("POST", "/api/v1/metadata/visitor/custom/value", 200)]  # one batch


def test_update_only_reports_missing_ids_and_creates_nothing(tsim, tconfig, tmp_path: Path) -> None:
    ids = visitor_ids(tsim, 2)
    msgs = [schema("visitors", VISITOR_PROPS, ["visitorId"])]
    msgs += [
        record("visitors", {"visitorId": v, "plan": "x"}) for v in [*ids, "ghost-1", "ghost-2"]
    ]
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 0, run.stderr
    row = run.summary()["visitors"]
    assert (row["updated"], row["missing"], row["created"]) == (2, 2, 0)
    assert "ghost-1" in run.stderr and "ghost-2" in run.stderr
    assert tsim.dataset.visitor_table.index_of("ghost-1") is None
    assert all("create=true" not in path for _, path, _ in posts(tsim))


def test_create_true_creates_unknown_ids_and_counts_them(tsim, tconfig, tmp_path: Path) -> None:
    ids = visitor_ids(tsim, 2)
    tconfig["streams"] = {
        "people": {
            "object": "visitor",
            "id_field": "uid",
            "create": True,
            "fields": {"tier": "plan"},
        }
    }
    msgs = [schema("people", {"uid": {"type": "string"}, "tier": {"type": "string"}}, ["uid"])]
    msgs += [record("people", {"uid": v, "tier": "gold"}) for v in [*ids, "new-1"]]
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 0, run.stderr
    row = run.summary()["people"]
    assert (row["updated"], row["created"], row["missing"]) == (2, 1, 0)
    assert tsim.store.metadata("visitor", "new-1")["custom"]["plan"] == "gold"
    # The update-only request first, then only the missing id with ?create=true.
    assert [p for _, p, _ in posts(tsim)] == [
        "/api/v1/metadata/visitor/custom/value",
        "/api/v1/metadata/visitor/custom/value?create=true",
    ]


def test_accounts_agent_group_and_inferred_stream(tsim, tconfig, tmp_path: Path) -> None:
    acc = account_ids(tsim, 2)
    tconfig["streams"] = {
        "accounts": {"object": "account", "group": "agent", "fields": ["industry", "employees"]}
    }
    msgs = [
        schema(
            "accounts",
            {
                "accountId": {"type": "string"},
                "industry": {"type": "string"},
                "employees": {"type": "number"},
            },
        )
    ]
    msgs += [
        record("accounts", {"accountId": a, "industry": "Retail", "employees": 12.0}) for a in acc
    ]
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 0, run.stderr
    for a in acc:  # ids with quotes and accents go through untouched
        agent = tsim.store.metadata("account", a)["agent"]
        assert agent["industry"] == "Retail"
        assert agent["employees"] == 12


def test_parent_account_kind_and_id_key_are_configurable(tsim, tconfig, tmp_path: Path) -> None:
    tconfig["streams"] = {
        "parents": {
            "object": "parent_account",
            "id_field": "pid",
            "create": True,
            "fields": {"seg": "segment"},
        }
    }
    tconfig["parent_account_kind"] = "parentAccount"
    tconfig["parent_account_id_key"] = "accountId"
    msgs = [schema("parents", {"pid": {"type": "string"}, "seg": {"type": "string"}})]
    msgs += [record("parents", {"pid": "parent-1", "seg": "smb"})]
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 0, run.stderr
    assert tsim.store.parent_accounts["parent-1"]["custom"]["segment"] == "smb"
    assert ("GET", "/api/v1/metadata/schema/parentAccount", 200) in tsim.request_log


def test_unknown_custom_field_fails_before_any_write(tsim, tconfig, tmp_path: Path) -> None:
    ids = visitor_ids(tsim, 2)
    msgs = [
        schema("visitors", {**VISITOR_PROPS, "favourite_colour": {"type": "string"}}, ["visitorId"])
    ]
    msgs += [
        record("visitors", {"visitorId": v, "plan": "x", "favourite_colour": "red"}) for v in ids
    ]
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc != 0
    assert "Pendo has no custom visitor field for favourite_colour" in run.stderr
    assert "ignore_unknown_fields" in run.stderr
    assert posts(tsim) == []
    assert run.states == []


def test_ignore_unknown_fields_drops_them(tsim, tconfig, tmp_path: Path) -> None:
    tconfig["streams"] = {"visitors": {"object": "visitor", "ignore_unknown_fields": True}}
    vid = visitor_ids(tsim, 1)[0]
    msgs = [
        schema(
            "visitors", {**VISITOR_PROPS, "favourite_colour": {"type": "string"}}, ["visitorId"]
        ),
        record("visitors", {"visitorId": vid, "plan": "kept", "favourite_colour": "red"}),
    ]
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 0, run.stderr
    assert tsim.store.metadata("visitor", vid)["custom"]["plan"] == "kept"


def _staged_run(
    tsim, tconfig, tmp_path: Path, first: list, then, rest: list
) -> tuple[int, str, str]:
    """Feed `first`, wait until the target has read the schema, call `then`, feed `rest`."""
    (tmp_path / "config.json").write_text(json.dumps(tconfig))
    proc = subprocess.Popen(
        [TARGET, "--config", str(tmp_path / "config.json")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    assert proc.stdin is not None
    proc.stdin.write(lines_of(first))
    proc.stdin.flush()
    deadline = time.time() + 20
    while not any(e[0] == "GET" and "/metadata/schema/" in e[1] for e in tsim.request_log):
        assert time.time() < deadline, "the target never read the metadata schema"
        time.sleep(0.02)
    then()
    out, err = proc.communicate(lines_of(rest), timeout=60)
    return proc.returncode, out, err


def test_one_bad_record_among_good_ones_is_isolated(tsim, tconfig, tmp_path: Path) -> None:
    """Pendo rejects one record (its field changed type after we read the schema): the
    others are written, the bad one is dead-lettered with Pendo's own error text."""
    ids = visitor_ids(tsim, 9)
    recs = [record("visitors", {"visitorId": v, "plan": f"p{n}"}) for n, v in enumerate(ids)]
    recs[4]["record"]["score"] = 2.5

    def change_type() -> None:
        tsim.dataset.schemas["visitor"]["custom"]["score"]["Type"] = "boolean"

    for isolation in ("auto", "bisect"):
        tsim.request_log.clear()
        tconfig["error_isolation"] = isolation
        tconfig["dead_letter_path"] = str(tmp_path / f"dead-{isolation}.jsonl")
        tsim.dataset.schemas["visitor"]["custom"]["score"]["Type"] = "float"
        rc, _, err = _staged_run(
            tsim,
            tconfig,
            tmp_path,
            [schema("visitors", VISITOR_PROPS, ["visitorId"])],
            change_type,
            recs,
        )
        assert rc == 1, err
        dead = read_jsonl(Path(tconfig["dead_letter_path"]))
        assert len(dead) == 1
        assert dead[0]["record"]["visitorId"] == ids[4]
        assert dead[0]["stream"] == "visitors"
        assert "expects boolean" in dead[0]["api_error"]  # the API's own words
        for n, v in enumerate(ids):
            if n != 4:
                assert tsim.store.metadata("visitor", v)["custom"]["plan"] == f"p{n}"
        n_posts = len(posts(tsim))
        if isolation == "auto":
            assert n_posts == 1  # the error text names the id: no re-sends needed
        else:
            assert n_posts > 3  # halves re-sent until the bad record stood alone


def test_refused_batch_is_split_and_written(tsim, tconfig, tmp_path: Path) -> None:
    ids = visitor_ids(tsim, 8)
    tsim.faults.add(
        Fault(
            path="/api/v1/metadata/visitor/custom/value",
            kind="status",
            status=400,
            times=1,
            body="bad batch",
        )
    )
    msgs = [schema("visitors", VISITOR_PROPS, ["visitorId"])]
    msgs += [record("visitors", {"visitorId": v, "plan": "split"}) for v in ids]
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 0, run.stderr
    assert run.summary()["visitors"]["updated"] == 8
    assert [s for _, _, s in posts(tsim)] == [400, 200, 200]


def test_counts_add_up_and_exit_status(tsim, tconfig, tmp_path: Path) -> None:
    """Updated + missing + dead-lettered = received; bad lines are accounted; exit 1."""
    ids = visitor_ids(tsim, 4)
    msgs = [
        record("visitors", {"visitorId": "before-schema"}),  # RECORD before SCHEMA
        schema("visitors", VISITOR_PROPS, ["visitorId"]),
        record("visitors", {"visitorId": ids[0], "plan": "a"}),
        record("visitors", {"visitorId": ids[1], "seats": "many"}),  # cannot become an integer
        "this is not json",
        record("visitors", {"visitorId": "ghost", "plan": "b"}),
        record("visitors", {"plan": "no id"}),  # missing key property
        record("visitors", {"visitorId": ids[2], "isbeta": "perhaps"}),
        record("visitors", {"visitorId": ids[3], "plan": "d"}),
        {"type": "STATE", "value": {"bookmark": 1}},
    ]
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 1
    row = run.summary()["visitors"]
    assert row["updated"] == 2 and row["missing"] == 1
    assert (
        row["received"] == row["updated"] + row["missing"] + row["dead_letter"]
        and row["unaccounted"] == 0
    )
    reasons = {
        d["record"].get("visitorId", d["record"].get("raw", d["record"].get("plan"))): d
        for d in run.dead_letters
    }
    # Not the stream's SCHEMA (validate_records) and not convertible to the Pendo type:
    assert "SCHEMA" in reasons[ids[1]]["reason"] and reasons[ids[1]]["field"] == "seats"
    assert "isbeta" in reasons[ids[2]]["reason"] and "boolean" in reasons[ids[2]]["reason"]
    assert reasons[ids[2]]["field"] == "isbeta"
    assert "before" in reasons["before-schema"]["reason"].lower()
    assert any("not valid JSON" in d["reason"] for d in run.dead_letters)
    assert any(
        "key" in d["reason"].lower() and d["record"].get("plan") == "no id"
        for d in run.dead_letters
    )
    assert "Traceback" not in run.stderr
    assert run.states == [{"bookmark": 1}]  # everything before it has an outcome
    assert "dead_letter" in run.stderr and "TOTAL" in run.stderr  # the human table


def test_dry_run_writes_nothing(tsim, tconfig, tmp_path: Path) -> None:
    tconfig["dry_run"] = True
    ids = visitor_ids(tsim, 3)
    before = {v: tsim.store.metadata("visitor", v).get("custom", {}).get("plan") for v in ids}
    msgs = [schema("visitors", VISITOR_PROPS, ["visitorId"])]
    msgs += [record("visitors", {"visitorId": v, "plan": "dry"}) for v in ids]
    msgs += [
        schema(
            "track_events",
            {
                "visitorId": {"type": "string"},
                "event": {"type": "string"},
                "timestamp": {"type": "integer"},
            },
        ),
        record(
            "track_events",
            {"visitorId": ids[0], "event": "e", "timestamp": int(time.time() * 1000)},
        ),
    ]
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 0, run.stderr
    assert posts(tsim) == []  # no HTTP writes at all; the schema read is a GET
    assert {
        v: tsim.store.metadata("visitor", v).get("custom", {}).get("plan") for v in ids
    } == before
    assert tsim.store.track_events == []
    assert run.summary()["visitors"]["dry_run"] == 3
    assert run.summary()["track_events"]["dry_run"] == 1
    assert "would send" in run.stderr


def test_429_recovery(tsim, tconfig, tmp_path: Path) -> None:
    ids = visitor_ids(tsim, 3)
    tsim.faults.add(
        Fault(path="/api/v1/metadata/visitor/custom/value", kind="status", status=429, times=2)
    )
    msgs = [schema("visitors", VISITOR_PROPS, ["visitorId"])] + [
        record("visitors", {"visitorId": v, "plan": "r"}) for v in ids
    ]
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 0, run.stderr
    assert [s for _, _, s in posts(tsim)] == [429, 429, 200]
    assert run.summary()["visitors"]["updated"] == 3


def test_persistent_5xx_dead_letters_and_exits_non_zero(tsim, tconfig, tmp_path: Path) -> None:
    ids = visitor_ids(tsim, 3)
    tsim.faults.add(
        Fault(path="/api/v1/metadata/visitor/custom/value", kind="status", status=503, times=None)
    )
    msgs = [schema("visitors", VISITOR_PROPS, ["visitorId"])] + [
        record("visitors", {"visitorId": v, "plan": "r"}) for v in ids
    ]
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 1
    assert len(posts(tsim)) == tconfig["max_retries"]
    assert len(run.dead_letters) == 3
    assert all(
        "not written after 4 tries" in d["reason"] and "503" in d["api_error"]
        for d in run.dead_letters
    )


def test_other_4xx_is_not_retried(tsim, tconfig, tmp_path: Path) -> None:
    vid = visitor_ids(tsim, 1)[0]
    tsim.faults.add(
        Fault(
            path="/api/v1/metadata/visitor/custom/value",
            kind="status",
            status=409,
            times=None,
            body="conflict",
        )
    )
    msgs = [
        schema("visitors", VISITOR_PROPS, ["visitorId"]),
        record("visitors", {"visitorId": vid, "plan": "r"}),
    ]
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 1
    assert len(posts(tsim)) == 1
    assert run.dead_letters[0]["api_error"] == "conflict"


def test_read_only_key_stops_with_a_clear_message(tsim, tconfig, tmp_path: Path) -> None:
    tconfig["integration_key"] = tsim.read_only_key
    ids = visitor_ids(tsim, 2)
    msgs = [schema("visitors", VISITOR_PROPS, ["visitorId"])] + [
        record("visitors", {"visitorId": v, "plan": "r"}) for v in ids
    ]
    msgs.append({"type": "STATE", "value": {"after": True}})
    run = run_target(tconfig, msgs, tmp_path)
    assert run.rc == 1
    assert "write access" in run.stderr
    assert tsim.read_only_key not in run.stderr  # secrets are redacted
    assert len(run.dead_letters) == 2  # nothing lost
    assert run.states == []  # and no STATE past unwritten records
    assert "Traceback" not in run.stderr


def test_uninferrable_stream_stops_at_its_schema(tsim, tconfig, tmp_path: Path) -> None:
    run = run_target(
        tconfig,
        [schema("orders", {"id": {"type": "string"}}), record("orders", {"id": "1"})],
        tmp_path,
    )
    assert run.rc == 1
    assert "does not know what to write for stream `orders`" in run.stderr
    assert '"object": "visitor"' in run.stderr
    assert "Traceback" not in run.stderr
