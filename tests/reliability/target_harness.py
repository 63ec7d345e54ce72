"""Helpers for the target's reliability tests: a workload, the target as a subprocess,
and snapshots of what the simulator holds after a run."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pendo_sim import Simulator
from tests.helpers.target import Run, record, schema, target_config

TRACK_SECRET = "track-secret-reliability"
# Recent enough that Pendo (and the simulator) process them: one hour before the module loads.
EVENT_TIME_MS = int(time.time() * 1000) - 3_600_000

VISITOR_PROPS = {
    "visitorId": {"type": "string"},
    "plan": {"type": ["string", "null"]},
    "seats": {"type": ["integer", "null"]},
    "score": {"type": ["number", "null"]},
    "isbeta": {"type": ["boolean", "null"]},
}
ACCOUNT_PROPS = {
    "accountId": {"type": "string"},
    "tier": {"type": ["string", "null"]},
    "seats": {"type": ["integer", "null"]},
    "arr": {"type": ["number", "null"]},
}
TRACK_PROPS = {
    "visitorId": {"type": "string"},
    "accountId": {"type": ["string", "null"]},
    "event": {"type": "string"},
    "timestamp": {"type": "integer"},
    "properties": {"type": "object"},
}
SCHEMAS = [
    schema("visitors", VISITOR_PROPS, ["visitorId"]),
    schema("accounts", ACCOUNT_PROPS, ["accountId"]),
    schema("track_events", TRACK_PROPS),
]


def workload_config(sim: Simulator, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """`target_config` with the workload's settings: its track secret, more retries, batches of 20."""
    return target_config(
        sim,
        tmp_path,
        **{"track_event_secret": TRACK_SECRET, "max_retries": 6, "batch_size": 20, **overrides},
    )


def workload(
    sim: Simulator,
    *,
    rounds: int = 1,
    visitors: int = 120,
    accounts: int = 30,
    events: int = 60,
    state_every: int | None = None,
) -> list[dict[str, Any]]:
    """SCHEMA messages, then visitor, account and track-event records interleaved.

    Within a round each id appears once. With `rounds` > 1 every id is updated once per
    round with new values, so the final state is the last round's (a re-sent old value
    that landed late would show).
    Each track event carries a distinct `seq` property, so a duplicate can be counted.
    With `state_every`, a STATE `{"records": n}` follows every n-th record.
    """
    vids = [v["visitorId"] for v in sim.dataset.visitors()][:visitors]
    aids = [a["accountId"] for a in sim.dataset.accounts()][:accounts]
    body: list[dict[str, Any]] = []
    seq = 0
    for rnd in range(rounds):
        for i, vid in enumerate(vids):
            body.append(
                record(
                    "visitors",
                    {
                        "visitorId": vid,
                        "plan": f"plan-{rnd}-{i % 7}",
                        "seats": rnd * 1000 + i,
                        "score": round(i / 3 + rnd, 3),
                        "isbeta": (i + rnd) % 2 == 0,
                    },
                )
            )
            if aids and i % max(1, visitors // max(1, accounts)) == 0:
                aid = aids[(i // max(1, visitors // max(1, accounts)) + rnd) % len(aids)]
                body.append(
                    record(
                        "accounts",
                        {"accountId": aid, "tier": f"t{rnd}-{i}", "seats": i, "arr": i * 10.5},
                    )
                )
            if events and i % max(1, visitors // max(1, events)) == 0:
                seq += 1
                body.append(
                    record(
                        "track_events",
                        {
                            "visitorId": vid,
                            "accountId": aids[i % len(aids)] if aids else None,
                            "event": f"reliability_{seq % 5}",
                            "timestamp": EVENT_TIME_MS + seq,
                            "properties": {"seq": seq, "round": rnd},
                        },
                    )
                )
    messages: list[dict[str, Any]] = list(SCHEMAS)
    for n, message in enumerate(body, start=1):
        messages.append(message)
        if state_every and n % state_every == 0:
            messages.append({"type": "STATE", "value": {"records": n}})
    if state_every:
        messages.append({"type": "STATE", "value": {"records": len(body), "done": True}})
    return messages


def record_count(messages: Iterable[Any]) -> int:
    return sum(1 for m in messages if isinstance(m, dict) and m.get("type") == "RECORD")


def written_ids(messages: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {"visitor": set(), "account": set()}
    for m in messages:
        if m.get("type") == "RECORD" and m["stream"] in ("visitors", "accounts"):
            kind = m["stream"][:-1]
            ids[kind].add(m["record"][f"{kind}Id"])
    return ids


def metadata_snapshot(sim: Simulator, ids: dict[str, set[str]]) -> dict[tuple[str, str], dict]:
    """What writes set on each entity, without the `auto` group (lastupdated is the wall clock)."""
    snap = {}
    for kind, kind_ids in ids.items():
        for ident in sorted(kind_ids):
            snap[(kind, ident)] = {
                g: v for g, v in sim.store.metadata(kind, ident).items() if g != "auto"
            }
    return snap


def track_events(sim: Simulator) -> Counter[str]:
    """The accepted track events as a multiset of canonical JSON texts."""
    with sim.store.lock:
        return Counter(json.dumps(e, sort_keys=True) for e in sim.store.track_events)


def summary_totals(result: Run) -> Counter[str]:
    totals: Counter[str] = Counter()
    for row in result.summary().values():
        for key in (
            "received",
            "updated",
            "created",
            "sent",
            "missing",
            "dry_run",
            "dead_letter",
            "unaccounted",
        ):
            totals[key] += row[key]
    return totals


def writes(sim: Simulator) -> list[tuple[str, str, int]]:
    return [entry for entry in list(sim.request_log) if entry[0] == "POST"]


def http_calls(result: Run) -> int:
    """Requests the target made (retries included), from its closing `HTTP: N requests` line."""
    for line in result.stderr.splitlines():
        if "| HTTP: " in line:
            return int(line.split("| HTTP: ", 1)[1].split(" ", 1)[0])
    msg = "the target logged no `HTTP: N requests` line"
    raise AssertionError(msg)


def wait_for_requests(sim: Simulator, count: int, timeout_s: float = 15) -> None:
    """Wait (bounded) until the simulator has logged `count` requests: a request the client
    gave up on (slow fault) is still processed, and logged, after the target has exited."""
    deadline = time.monotonic() + timeout_s
    while len(sim.request_log) < count and time.monotonic() < deadline:
        time.sleep(0.05)
