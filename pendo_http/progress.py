"""Progress lines for long runs, the same for both plugins: a count and a rate at a steady
interval (`progress_interval_seconds`, 0 turns them off).

The tap counts records as it emits them (`Progress`: one integer add per record; the
monotonic clock is read only every `CHECK_EVERY` records, so the per-record cost stays out of
measurement). The target's streams can go minutes between records and still be working
(track events paced by the rate limit, requests in flight), so its lines come from a timer
thread (`PeriodicReporter`) that reads counts kept elsewhere.
"""

from __future__ import annotations

import logging
import threading
import time

DEFAULT_INTERVAL_SECONDS = 30
CHECK_EVERY = 1000


class Rate:
    """Records per second between two readings of a growing count."""

    def __init__(self, now: float, count: int = 0) -> None:
        self._time = now
        self._count = count

    def since_last(self, count: int, now: float) -> float:
        """The rate since the previous reading; this reading becomes the previous one."""
        elapsed = now - self._time
        rate = (count - self._count) / elapsed if elapsed > 0 else 0.0
        self._time, self._count = now, count
        return rate


class Progress:
    """Counts a stream's records and logs its count and rate every `interval` seconds."""

    def __init__(
        self, stream: str, logger: logging.Logger, interval: float, check_every: int = CHECK_EVERY
    ) -> None:
        self.stream = stream
        self.logger = logger
        self.interval = interval
        self.check_every = check_every if interval > 0 else 1 << 62  # 0 turns the lines off
        self.count = 0
        self.started = self._last_time = time.monotonic()
        self._rate = Rate(self.started)
        self._next_check = self.check_every

    def tick(self) -> None:
        """One record emitted."""
        self.count += 1
        if self.count >= self._next_check:
            self._check()

    def _check(self) -> None:
        self._next_check = self.count + self.check_every
        now = time.monotonic()
        if now - self._last_time < self.interval:
            return
        self._last_time = now
        rate = self._rate.since_last(self.count, now)
        self.logger.info("%s: %d records, %.0f rec/s", self.stream, self.count, rate)

    def finish(self) -> None:
        """The stream's total and its average rate, once it is done."""
        if self.interval <= 0:
            return
        elapsed = time.monotonic() - self.started
        rate = self.count / elapsed if elapsed > 0 else 0.0
        self.logger.info(
            "%s: done, %d records in %.1f s, %.0f rec/s", self.stream, self.count, elapsed, rate
        )


class PeriodicReporter:
    """Calls `report()` every `interval` seconds on a daemon thread, from `start()` to `stop()`."""

    thread_name = "progress"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def report(self) -> None:
        """Log the progress lines (subclasses)."""
        raise NotImplementedError

    def start(self) -> None:
        if self.interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.report()
