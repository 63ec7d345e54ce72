"""The STATE gate: a STATE goes out once every record before it has an outcome, from any thread."""

from __future__ import annotations

import threading
from pathlib import Path

from target_pendo.ledger import DeadLetterFile, Ledger
from target_pendo.state_gate import StateGate


def gate_and_ledger(tmp_path: Path) -> tuple[StateGate, Ledger, list]:
    ledger = Ledger(DeadLetterFile(tmp_path / "dead.jsonl"))
    written: list = []
    return StateGate(ledger, written.append), ledger, written


def test_a_state_waits_for_every_record_before_it_not_after(tmp_path: Path) -> None:
    gate, ledger, written = gate_and_ledger(tmp_path)
    first, second = ledger.receive("s", {}), ledger.receive("s", {})
    gate.receive({"n": 2})
    later = ledger.receive("s", {})  # after the STATE: must not hold it back
    ledger.settle(second, "updated")
    gate.emit_ready()
    assert written == []  # the first record has no outcome yet
    ledger.reject(first, "bad value")
    gate.emit_ready()
    assert written == [{"n": 2}]
    assert later.outcome is None


def test_of_states_ready_together_only_the_newest_goes_out(tmp_path: Path) -> None:
    gate, ledger, written = gate_and_ledger(tmp_path)
    items = []
    for n in range(3):
        items.append(ledger.receive("s", {}))
        gate.receive({"n": n + 1})
    items.append(ledger.receive("s", {}))
    gate.receive({"n": 4})
    for item in items[:3]:
        ledger.settle(item, "updated")
    gate.emit_ready()
    assert written == [{"n": 3}]
    assert gate.holding  # {"n": 4} waits for the fourth record
    ledger.settle(items[3], "updated")
    gate.emit_ready()
    gate.emit_ready()
    assert written == [{"n": 3}, {"n": 4}]


def test_a_state_is_kept_as_received(tmp_path: Path) -> None:
    gate, ledger, written = gate_and_ledger(tmp_path)
    item = ledger.receive("s", {})
    state = {"bookmarks": {"s": 1}}
    gate.receive(state)
    state["bookmarks"]["s"] = 99  # the caller's object changes later
    ledger.settle(item, "updated")
    gate.emit_ready()
    assert written == [{"bookmarks": {"s": 1}}]


def test_a_closed_gate_writes_nothing(tmp_path: Path) -> None:
    gate, ledger, written = gate_and_ledger(tmp_path)
    item = ledger.receive("s", {})
    gate.receive({"n": 1})
    gate.close()
    ledger.settle(item, "updated")
    gate.emit_ready()
    assert written == []


def test_records_settled_on_many_threads_release_each_state_once(tmp_path: Path) -> None:
    gate, ledger, written = gate_and_ledger(tmp_path)
    items = [ledger.receive("s", {}) for _ in range(400)]
    gate.receive({"n": 400})

    def settle(part: list) -> None:
        for item in part:
            ledger.settle(item, "updated")
            gate.emit_ready()

    threads = [threading.Thread(target=settle, args=(items[k::8],)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert written == [{"n": 400}]
