"""Progress lines for long runs: `visitors: 120000 records, 8010 rec/s` at a steady interval.

Counting is one integer add per record; the monotonic clock is read only every
`CHECK_EVERY` records, so the per-record cost stays out of measurement.
"""

from __future__ import annotations

import logging
import time

DEFAULT_INTERVAL_SECONDS = 30.0
CHECK_EVERY = 1000


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
        self._last_count = 0
        self._next_check = self.check_every

    def tick(self) -> None:
        """One record emitted."""
        self.count += 1
        if self.count >= self._next_check:
            self._check()

    def _check(self) -> None:
        self._next_check = self.count + self.check_every
        now = time.monotonic()
        elapsed = now - self._last_time
        if elapsed < self.interval:
            return
        rate = (self.count - self._last_count) / elapsed if elapsed > 0 else 0.0
        self.logger.info("%s: %d records, %.0f rec/s", self.stream, self.count, rate)
        self._last_time, self._last_count = now, self.count

    def finish(self) -> None:
        """The stream's total and its average rate, once it is done."""
        if self.interval <= 0:
            return
        elapsed = time.monotonic() - self.started
        rate = self.count / elapsed if elapsed > 0 else 0.0
        self.logger.info(
            "%s: done, %d records in %.1f s, %.0f rec/s", self.stream, self.count, elapsed, rate
        )
