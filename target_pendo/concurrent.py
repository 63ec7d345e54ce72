"""Metadata write requests sent on a few threads, in input order for every id.

A batch is cut into requests that never hold the same id twice (`sinks._chunks_without_
repeated_ids`). Requests go out on up to `workers` threads; a request that holds an id also
held by an earlier request (of this batch or an earlier one) starts only once that one has its
outcome, so two writes of the same id reach Pendo in input order (the later value wins, as
sequentially). Requests touching different ids overlap freely.

`WritePipeline.submit` returns as soon as a batch's requests are queued (it waits only while
`max_queued` requests are unfinished), so the next batch is read while this one is written.
`after_each` runs on the write thread once a request has settled its records in the ledger
(the target's STATE gate checks whether a held STATE may now go out); `wait` returns once
every request has. The first error stops requests not yet started and is raised by the next
`submit` or `wait`, once the requests already running have finished, so no request is left
half-recorded.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from target_pendo.ledger import Item

Write = Callable[[list[Item]], None]


class _Stopped(Exception):
    """An earlier request failed; this one was not sent."""


class WritePipeline:
    """Write requests of successive batches on `workers` threads, in input order per id."""

    def __init__(
        self,
        write: Write,
        workers: int,
        *,
        max_queued: int | None = None,
        after_each: Callable[[], None] | None = None,
    ) -> None:
        self._write = write
        self._after_each = after_each
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="metadata-write")
        # Two rounds queued keep every thread busy while the next batch is read and converted.
        self._slots = threading.Semaphore(max_queued or 2 * workers)
        self._changed = threading.Condition()
        self._holder: dict[str | None, Future[None]] = {}
        self._unfinished = 0
        self._stop = threading.Event()
        self._failure: BaseException | None = None

    def submit(self, chunks: list[list[Item]]) -> None:
        """Queue one request per chunk; raises an earlier request's failure first."""
        self._raise_failure()
        for chunk in chunks:
            self._slots.acquire()
            with self._changed:
                after = {id(f): f for f in (self._holder.get(item.id) for item in chunk) if f}
                # FIFO: a task starts only after every task submitted before it has started,
                # so a task waiting on an earlier one never waits on one queued behind it.
                future = self.pool.submit(self._run, list(after.values()), chunk)
                for item in chunk:
                    self._holder[item.id] = future
                self._unfinished += 1
            future.add_done_callback(functools.partial(self._finished, chunk))

    def wait(self) -> None:
        """Return once every queued request has finished; raise the first failure."""
        with self._changed:
            self._changed.wait_for(lambda: self._unfinished == 0)
        self._raise_failure()

    def close(self) -> None:
        """Wait for every request, then stop the threads."""
        try:
            self.wait()
        finally:
            self.pool.shutdown(wait=True)

    def _run(self, after: list[Future[None]], chunk: list[Item]) -> None:
        for earlier in after:
            if not earlier.cancelled():
                earlier.exception()  # wait; its error is raised from its own future
        if self._stop.is_set():
            raise _Stopped
        try:
            self._write(chunk)
        except BaseException:
            self._stop.set()
            raise

    def _finished(self, chunk: list[Item], future: Future[None]) -> None:
        error = None if future.cancelled() else future.exception()
        with self._changed:
            for item in chunk:
                if self._holder.get(item.id) is future:
                    del self._holder[item.id]
            if error is not None and not isinstance(error, _Stopped) and self._failure is None:
                self._failure = error
            self._unfinished -= 1
            self._changed.notify_all()
        self._slots.release()
        if self._after_each is not None and error is None:
            self._after_each()

    def _raise_failure(self) -> None:
        with self._changed:
            failure = self._failure
        if failure is not None:
            raise failure
