"""Concurrent metadata writes (`max_concurrent_requests`): order per id, STATE gating."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

from target_pendo.concurrent import WritePipeline
from target_pendo.ledger import Item
from tests.helpers.target import VISITOR_PROPS, record, run_target, schema, visitor_ids
from tests.target.test_track_and_state import _Staged


def _chunks(ids: list[str], size: int, first_seq: int = 0) -> list[list[Item]]:
    from target_pendo.sinks import _chunks_without_repeated_ids

    items = [Item(seq=first_seq + n, stream="s", record={}, id=i) for n, i in enumerate(ids)]
    return _chunks_without_repeated_ids(items, size)


def test_writes_of_one_id_keep_input_order_while_others_overlap() -> None:
    rng = random.Random(5)
    ids = [f"v{rng.randrange(40)}" for _ in range(600)]
    lock = threading.Lock()
    seen: dict[str, list[int]] = {}
    active = peak = 0

    def write(chunk: list[Item]) -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(rng.random() / 500)  # interleaving only; nothing here is timed
        with lock:
            for item in chunk:
                seen.setdefault(item.id, []).append(item.seq)
            active -= 1

    pipeline = WritePipeline(write, workers=6, max_queued=8)
    for batch in range(0, len(ids), 100):  # ids repeat within and across batches
        pipeline.submit(_chunks(ids[batch : batch + 100], 10, first_seq=batch))
    pipeline.close()
    expected: dict[str, list[int]] = {}
    for n, i in enumerate(ids):
        expected.setdefault(i, []).append(n)
    assert seen == expected
    assert peak >= 2, "nothing overlapped"


def test_a_failed_request_stops_the_rest_and_is_raised() -> None:
    chunks = _chunks([f"v{n}" for n in range(100)], 5)
    sent: list[int] = []

    def write(chunk: list[Item]) -> None:
        if chunk[0].seq == 20:
            raise RuntimeError("boom")
        sent.append(chunk[0].seq)

    pipeline = WritePipeline(write, workers=4, max_queued=len(chunks))
    pipeline.submit(chunks)
    with pytest.raises(RuntimeError, match="boom"):
        pipeline.wait()
    assert 20 not in sent
    assert len(sent) < len(chunks) - 1  # requests not yet started were not sent
    with pytest.raises(RuntimeError, match="boom"):  # nor is anything submitted later
        pipeline.submit(_chunks(["v1000"], 5, first_seq=1000))
    assert 1000 not in sent
    pipeline.pool.shutdown()


def test_submit_returns_while_requests_run() -> None:
    release = threading.Event()
    written: list[int] = []

    def write(chunk: list[Item]) -> None:
        release.wait(timeout=30)
        written.extend(item.seq for item in chunk)

    pipeline = WritePipeline(write, workers=2, max_queued=4)
    pipeline.submit(_chunks([f"v{n}" for n in range(12)], 3))  # 4 requests: all may queue
    assert written == []  # submit returned while every request was still running
    release.set()
    pipeline.close()
    assert sorted(written) == list(range(12))


def test_concurrent_target_writes_last_value_per_id_and_gates_state(
    tsim, tconfig, tmp_path: Path
) -> None:
    ids = visitor_ids(tsim, 30)
    tconfig.update(batch_size=5, max_concurrent_requests=4)
    tsim.set_latency(latency_request_s=0.02)
    rng = random.Random(9)
    messages: list = [schema("visitors", VISITOR_PROPS, ["visitorId"])]
    last: dict[str, int] = {}
    for n in range(400):
        vid = rng.choice(ids)
        messages.append(record("visitors", {"visitorId": vid, "seats": n}))
        last[vid] = n
        if n % 97 == 96:
            messages.append({"type": "STATE", "value": {"n": n + 1}})
    messages.append({"type": "STATE", "value": {"n": 400}})
    run = run_target(tconfig, messages, tmp_path)
    assert run.rc == 0, run.stderr[-2000:]
    for vid, seats in last.items():
        assert tsim.store.metadata("visitor", vid)["custom"]["seats"] == seats
    assert run.states[-1] == {"n": 400}
    assert tsim.stats()["max_in_flight"] >= 2, "no writes overlapped"
    assert run.summary()["visitors"]["updated"] == 400


def test_state_waits_for_every_concurrent_request(tsim, tconfig, tmp_path: Path) -> None:
    # A batch is batch_size x max_concurrent_requests records, sent as requests of batch_size
    # on max_concurrent_requests threads.
    tconfig.update(batch_size=2, max_concurrent_requests=4)
    batch = 2 * 4
    ids = visitor_ids(tsim, batch + 4)
    tsim.set_latency(latency_request_s=0.2)
    staged = _Staged(tconfig, tmp_path)
    staged.send([schema("visitors", VISITOR_PROPS, ["visitorId"])])
    staged.send([record("visitors", {"visitorId": v, "plan": "c1"}) for v in ids[: batch - 1]])
    staged.send([{"type": "STATE", "value": {"n": batch - 1}}])
    staged.send([record("visitors", {"visitorId": ids[batch - 1], "plan": "c1"})])  # fills it
    assert staged.next_state() == {"n": batch - 1}
    # When the STATE appeared, every request of the batch had its answer.
    for v in ids[:batch]:
        assert tsim.store.metadata("visitor", v)["custom"]["plan"] == "c1"
    assert tsim.stats()["max_in_flight"] >= 2, "the batch's requests did not overlap"
    staged.send([record("visitors", {"visitorId": v, "plan": "c2"}) for v in ids[batch:]])
    staged.send([{"type": "STATE", "value": {"n": batch + 4}}])
    assert staged.close() == [{"n": batch + 4}]
    for v in ids[batch:]:
        assert tsim.store.metadata("visitor", v)["custom"]["plan"] == "c2"


@pytest.mark.parametrize("workers", [1, 4])
def test_a_changed_schema_keeps_the_order_of_writes_per_id(
    tsim, tconfig, tmp_path: Path, workers: int
) -> None:
    # The SDK starts a new sink when a stream's SCHEMA changes and holds the old one until the
    # next full drain; the old sink's records must still reach Pendo before the new sink's.
    ids = visitor_ids(tsim, 6)
    tconfig.update(batch_size=2, max_concurrent_requests=workers)
    wider = {**VISITOR_PROPS, "seats": {"type": ["integer", "string", "null"]}}
    messages: list = [schema("visitors", VISITOR_PROPS, ["visitorId"])]
    messages.append(record("visitors", {"visitorId": ids[0], "plan": "old"}))
    messages.append(schema("visitors", wider, ["visitorId"]))
    messages.append(record("visitors", {"visitorId": ids[0], "plan": "new"}))
    # enough later records to fill (and write) the new sink's batches before the input ends
    messages += [record("visitors", {"visitorId": v, "plan": "x"}) for v in ids[1:] * 3]
    run = run_target(tconfig, messages, tmp_path)
    assert run.rc == 0, run.stderr[-2000:]
    assert tsim.store.metadata("visitor", ids[0])["custom"]["plan"] == "new"
