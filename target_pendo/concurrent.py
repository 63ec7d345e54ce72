"""Metadata write requests of one batch sent concurrently, in order for every id.

A batch is cut into requests that never hold the same id twice (`sinks._chunks_without_
repeated_ids`). Requests go out on up to `workers` threads; a request that holds an id also
held by an earlier request starts only once that one has its outcome, so two writes of the
same id reach Pendo in input order (the later value wins, as sequentially). Requests touching
different ids overlap freely.

`send_chunks` returns only when every request has settled its records in the ledger, so the
target's STATE gating (a STATE goes out once every record before it has an outcome) holds
unchanged. The first error stops requests not yet started and is raised after the others
finish, so no request is left half-recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from target_pendo.ledger import Item


class _Stopped(Exception):
    """An earlier request failed; this one was not sent."""


def send_chunks(
    chunks: list[list[Item]], write: Callable[[list[Item]], None], workers: int
) -> None:
    """Send every chunk with `write` on up to `workers` threads, in input order per id."""
    if workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            write(chunk)
        return
    stop = threading.Event()

    def run(after: list[Future[None]], chunk: list[Item]) -> None:
        for earlier in after:
            earlier.exception()  # wait; its error is raised from its own future
        if stop.is_set():
            raise _Stopped
        try:
            write(chunk)
        except BaseException:
            stop.set()
            raise

    holder: dict[str | None, Future[None]] = {}
    futures: list[Future[None]] = []
    # FIFO: a task starts only after every task submitted before it has started, so a task
    # waiting on an earlier one never waits on one still queued behind it.
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="metadata-write") as pool:
        for chunk in chunks:
            after = list({id(f): f for f in (holder.get(item.id) for item in chunk) if f}.values())
            future = pool.submit(run, after, chunk)
            for item in chunk:
                holder[item.id] = future
            futures.append(future)
    for future in futures:
        error = future.exception()
        if error is not None and not isinstance(error, _Stopped):
            raise error
