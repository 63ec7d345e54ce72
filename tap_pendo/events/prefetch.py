"""Aggregation windows fetched ahead in worker threads, handed back strictly in window order.

A stream plans its windows (`Window`s from its cursor to now) exactly as it reads them. Up to
`workers` of the next planned windows are requested at once, each by a worker thread with its
own HTTP session. A worker copies the response body, undecoded JSON bytes, into a
`SpooledTemporaryFile`: in memory up to `spool_bytes`, on disk beyond (the file is unlinked
at creation, so a killed tap leaves nothing behind). It parses nothing: the stream parses the
spooled body when the window's turn comes, with the same parser as a direct read, so the
rows, their order, `startTime` and every error path are those of a sequential run.

The stream stays in charge of order and state: it asks `take(window)` for the window it is
about to read, gets a ready `SpooledAggregation` (or None: read it directly as before), emits
its rows, writes its bookmark, and only then does the next window's turn come. At most
`workers` windows are outstanding (in flight or spooled, waiting for their turn), so memory
and disk stay bounded however far the backfill goes.

Reading ahead starts after a window read directly showed Pendo to be the slow side: its wait
before answering was at least a quarter of that whole read (and 20 ms), or two windows
without rows in a row waited 20 ms; until then every window is read directly and judged.
When Pendo answers at once and the time goes into handling rows, windows fetched ahead would
only take CPU from the rows (and from a simulator on the same host).

What a worker cannot finish is left to the stream's own logic, unchanged:
* Pendo answered an error (after the client's retries): `SpooledAggregation` raises that
  same error before any row, so a refused window is split and retried as before;
* the body broke while spooling: the window is read again directly;
* the spooled body is broken JSON: raised as the direct read would, mid-rows; the stream's
  re-read path (skip the rowKeys already emitted) takes over.
"""

from __future__ import annotations

import collections
import contextlib
import queue
import tempfile
import threading
import typing as t
from dataclasses import dataclass

from typing_extensions import override

from pendo_http.client import AGGREGATION_PATH, TRANSIENT_EXCEPTIONS, PendoClient
from pendo_http.errors import PendoError
from tap_pendo.events.aggregate import Aggregation
from tap_pendo.events.windows import DST_SLACK_MS, Window, plan_windows

COPY_CHUNK = 1 << 16


@dataclass
class _Fetched:
    spool: t.IO[bytes] | None = None
    error: PendoError | None = None  # Pendo's answer was an error: raise it as a direct read
    broken: bool = False  # the body broke while spooling: read the window directly


class _Job:
    def __init__(self, window: Window, aggregation: Aggregation, planned_start: int) -> None:
        self.window = window
        self.aggregation = aggregation
        self.planned_start = planned_start  # before any re-centring
        self.done = threading.Event()
        self.result = _Fetched()
        self.cancelled = False


class SpooledAggregation(Aggregation):
    """An `Aggregation` whose body was fetched ahead; iterating waits for it if needed."""

    def __init__(self, job: _Job) -> None:
        base = job.aggregation
        super().__init__(base.client, base.pipeline, what=base.what)
        self._job = job

    @override
    def __iter__(self) -> t.Iterator[dict[str, t.Any]]:
        self._job.done.wait()
        fetched = self._job.result
        if fetched.error is not None:
            raise fetched.error
        if fetched.broken or fetched.spool is None:
            yield from super().__iter__()
            return
        self.sent = True
        spool = fetched.spool
        spool.seek(0)
        try:
            yield from self.parse(spool)
        finally:
            spool.close()


class WindowPrefetch:
    """Fetches the next planned windows of one stream; `take` hands them out in order."""

    def __init__(
        self,
        client: PendoClient,
        planner: Planner,
        *,
        workers: int,
        spool_bytes: int,
        slots: threading.Semaphore | None = None,
    ) -> None:
        self._client = client
        self._planner = planner
        self._spool_bytes = spool_bytes
        self._slots = slots
        self._pending: collections.deque[_Job] = collections.deque()
        self._todo: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"prefetch-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()
        self._workers = workers
        # The plan's start is an estimate (up to half a period off) until the stream has read
        # its first window and re-centred on Pendo's answer: that window is read directly and
        # the plan starts at the next window the stream asks for (`_sync`).
        self._first: Window | None = None
        self._first_read: Aggregation | None = None
        self._slow_empty = 0
        self._synced = False

    # -- the stream's side -------------------------------------------------------------------

    def take(self, window: Window) -> SpooledAggregation | None:
        """The prefetched read of `window` if it is the next planned one, else None.

        Planned windows that end before `window` starts are dropped (the stream moved past
        them); a window that does not match (a split part, a re-read) gets None and leaves
        the plan as it is.
        """
        if not self._synced and not self._sync(window):
            return None
        while self._pending and self._pending[0].window.end <= window.start:
            self._drop(self._pending.popleft())
        if not self._pending or not _same_periods(self._pending[0].window, window):
            self._fill()
            return None
        job = self._pending.popleft()
        self._planner.learn(window.start - job.planned_start)
        self._fill()
        return SpooledAggregation(job)

    def observe(self, aggregation: Aggregation) -> None:
        """A direct read of a window: its timings decide whether to read ahead."""
        if self._first_read is None:
            self._first_read = aggregation

    def _verdict(self) -> bool | None:
        """Whether to read ahead, judged by the last window read directly: True when Pendo's
        wait before answering was at least a quarter of the whole read (and 20 ms), False when
        rows took the time (reading ahead would only compete for CPU, with a simulator on the
        same host too). A window without rows says little: two slow ones in a row say yes.
        """
        read = self._first_read
        if read is None or read.wait_s is None or read.total_s is None:
            return None
        slow = read.wait_s >= SLOW_SERVER_SECONDS
        if read.body_bytes < NO_ROWS_BYTES:
            self._slow_empty = self._slow_empty + 1 if slow else 0
            return True if self._slow_empty >= 2 else None
        self._slow_empty = 0
        return slow and read.wait_s >= SLOW_SERVER_FRACTION * read.total_s

    def _sync(self, window: Window) -> bool:
        first = self._first
        if first is None:
            self._first = window
            return False
        if window.period != first.period or window.start < first.end - first.period_ms // 2:
            return False  # a part or a re-read of the window read directly
        if not self._verdict():
            # Read this window directly too, and judge again by it.
            self._first, self._first_read = window, None
            return False
        self._synced = True
        self._planner.restart(window.start)
        self._fill()
        return True

    def close(self) -> None:
        """Stop: nothing more is requested; spooled and in-flight bodies are discarded."""
        self._closed = True
        while self._pending:
            self._drop(self._pending.popleft())
        for _ in self._threads:
            self._todo.put(None)

    def __enter__(self) -> WindowPrefetch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fill(self) -> None:
        while not self._closed and len(self._pending) < self._workers:
            planned = self._planner.next()
            if planned is None:
                return
            job = _Job(*planned)
            self._pending.append(job)
            self._todo.put(job)

    @staticmethod
    def _drop(job: _Job) -> None:
        job.cancelled = True
        if job.done.is_set() and job.result.spool is not None:
            job.result.spool.close()

    # -- the workers' side -------------------------------------------------------------------

    def _work(self) -> None:
        client = self._client.fork()
        try:
            while True:
                job = self._todo.get()
                if job is None:
                    return
                if job.cancelled:
                    job.done.set()
                    continue
                if self._slots is not None:
                    with self._slots:
                        self._fetch(client, job)
                else:
                    self._fetch(client, job)
        finally:
            client.session.close()

    def _fetch(self, client: PendoClient, job: _Job) -> None:
        aggregation = job.aggregation
        spool: t.IO[bytes] | None = None
        try:
            response = client.send(
                "POST",
                AGGREGATION_PATH,
                what=aggregation.what,
                body=aggregation.request_body(),
                stream=True,
                aggregation=True,
            )
        except PendoError as error:
            job.result = _Fetched(error=error)
            job.done.set()
            return
        except Exception:
            job.result = _Fetched(broken=True)
            job.done.set()
            return
        try:
            spool = tempfile.SpooledTemporaryFile(max_size=self._spool_bytes)  # noqa: SIM115
            for chunk in response.iter_content(COPY_CHUNK):
                if job.cancelled:
                    break
                spool.write(chunk)
            job.result = _Fetched(spool=spool)
        except (*TRANSIENT_EXCEPTIONS, OSError):  # type: ignore[misc]  # mypy cannot unpack a typed tuple here
            if spool is not None:
                spool.close()
            job.result = _Fetched(broken=True)
        finally:
            response.close()
            if job.cancelled and job.result.spool is not None:
                job.result.spool.close()
            job.done.set()


def _same_periods(planned: Window, window: Window) -> bool:
    """True when both windows select the same periods. The stream's estimate of a period start
    is within a DST hour of the real one, so `first` (mid-period) is within an hour of the
    real mid-period; a planned start within half a period less two hours of it is too.
    """
    slack = 2 * DST_SLACK_MS if window.period == "dayRange" else 0
    return (
        planned.period == window.period
        and planned.count == window.count
        and abs(planned.start - window.start) < planned.period_ms // 2 - slack
    )


SPOOL_MEMORY_BYTES = 16 << 20  # all of a stream's waiting windows together; beyond: disk
# Read ahead only when Pendo's time before answering the first window was at least this
# share of the whole read (answer + rows): when Pendo is slow, not when the tap is.
SLOW_SERVER_FRACTION = 0.25
SLOW_SERVER_SECONDS = 0.02  # and at least this long
NO_ROWS_BYTES = 256  # a body this small holds no rows


class PrefetchWindows:
    """Mixin for `WindowedEventStream`: `_prefetching(cursor, now)` around the window loop,
    `_aggregation(window, what)` for each read.
    """

    _prefetch: WindowPrefetch | None = None

    @contextlib.contextmanager
    def _prefetching(self, cursor: int, now: int) -> t.Iterator[None]:
        tap = self._tap  # type: ignore[attr-defined]
        workers = tap.max_concurrent_requests
        if workers <= 1:
            yield
            return
        self._prefetch = WindowPrefetch(
            self.client,  # type: ignore[attr-defined]
            Planner(self, cursor, now),
            workers=workers,
            spool_bytes=SPOOL_MEMORY_BYTES // workers,
            slots=tap.request_slots,
        )
        try:
            yield
        finally:
            self._prefetch.close()
            self._prefetch = None

    def _aggregation(
        self, window: Window, what: str, *, max_tries: int | None = None
    ) -> Aggregation:
        if self._prefetch is not None:
            ahead = self._prefetch.take(window)
            if ahead is not None:
                return ahead
        direct = Aggregation(
            self.client,  # type: ignore[attr-defined]
            self.pipeline(window),  # type: ignore[attr-defined]
            what=what,
            max_tries=max_tries,
        )
        if self._prefetch is not None:
            self._prefetch.observe(direct)
        return direct


class Planner:
    """The windows `get_records` will read from `cursor`, planned as it plans them; `learn`
    moves the rest of the plan by the re-centring the stream applied to a window.
    """

    def __init__(self, stream: t.Any, cursor: int, now: int) -> None:
        self._stream = stream
        self._cursor = cursor
        self._now = now
        self._offset = 0
        self._done = False

    def learn(self, offset: int) -> None:
        """The stream read a planned window `offset` ms from where it was first planned."""
        self._offset = offset

    def restart(self, cursor: int) -> None:
        self._cursor = cursor
        self._offset = 0

    def next(self) -> tuple[Window, Aggregation, int] | None:
        stream = self._stream
        start = self._cursor + self._offset
        if self._done or start > self._now:
            return None
        count, complete = plan_windows(start, self._now, stream.period, stream.periods_per_window)
        window = Window(stream.period, start, count)
        self._done = complete < count
        planned_start = self._cursor
        self._cursor += count * window.period_ms
        what = f"{stream.source} aggregation ({window.label()})"
        return window, Aggregation(stream.client, stream.pipeline(window), what=what), planned_start
