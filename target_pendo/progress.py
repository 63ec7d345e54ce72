"""Progress lines of a target run, from the ledger's counts:
`visitors: 120000 received, 119500 done (updated 119000, missing 500), 4012 rec/s`.
"""

from __future__ import annotations

import logging
import time

from typing_extensions import override

from pendo_http.progress import DEFAULT_INTERVAL_SECONDS, PeriodicReporter, Rate
from target_pendo.ledger import OUTCOMES, Ledger

__all__ = ["DEFAULT_INTERVAL_SECONDS", "ProgressReporter"]


class ProgressReporter(PeriodicReporter):
    """Logs one progress line per stream every `interval` seconds from the ledger's counts."""

    thread_name = "target-pendo-progress"

    def __init__(self, ledger: Ledger, logger: logging.Logger, interval: float) -> None:
        super().__init__(interval)
        self.ledger = ledger
        self.logger = logger
        self._rates: dict[str, Rate] = {}

    @override
    def report(self) -> None:
        now = time.monotonic()
        for name, tally in sorted(self.ledger.streams.items()):
            done = tally.settled
            rate = self._rates.setdefault(name, Rate(now - self.interval)).since_last(done, now)
            parts = ", ".join(f"{o} {tally.outcomes[o]}" for o in OUTCOMES if tally.outcomes[o])
            self.logger.info(
                "%s: %d received, %d done%s, %.0f rec/s",
                name,
                tally.received,
                done,
                f" ({parts})" if parts else "",
                rate,
            )
