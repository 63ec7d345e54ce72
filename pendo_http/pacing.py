"""A ceiling on request starts per second, shared by every thread of one plugin.

Pendo's documented-by-vendors limit is 100 calls per second per endpoint (pendo-api.md §6).
Concurrent windows and batches multiply a plugin's request rate by its concurrency when
Pendo answers fast, so every attempt first takes a slot here: slots are `1 / rate` apart,
handed out in order under a lock, and a thread sleeps until its slot (outside the lock).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RatePacer:
    """Calling it waits for the next free slot: at most `per_second` calls start per second."""

    def __init__(
        self,
        per_second: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / per_second if per_second and per_second > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0

    def __call__(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)
