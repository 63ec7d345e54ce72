"""Progress lines for long runs, from a timer thread that reads the ledger's counts:
`visitors: 120000 received, 119500 done (updated 119000, missing 500), 4012 rec/s`.

A thread rather than a check per record: track events are paced by the rate limit, so a
stream can go minutes between records and still be working (requests in flight).
"""

from __future__ import annotations

import logging
import threading
import time

from target_pendo.ledger import OUTCOMES, Ledger

DEFAULT_INTERVAL_SECONDS = 30


class ProgressReporter:
    def __init__(self, ledger: Ledger, logger: logging.Logger, interval: float) -> None:
        self.ledger = ledger
        self.logger = logger
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: dict[str, tuple[float, int]] = {}

    def start(self) -> None:
        if self.interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="target-pendo-progress", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.report()

    def report(self) -> None:
        now = time.monotonic()
        for name, tally in sorted(self.ledger.streams.items()):
            done = tally.settled
            last_time, last_done = self._last.get(name, (now - self.interval, 0))
            self._last[name] = (now, done)
            rate = (done - last_done) / (now - last_time) if now > last_time else 0.0
            parts = ", ".join(f"{o} {tally.outcomes[o]}" for o in OUTCOMES if tally.outcomes[o])
            self.logger.info(
                "%s: %d received, %d done%s, %.0f rec/s",
                name,
                tally.received,
                done,
                f" ({parts})" if parts else "",
                rate,
            )
