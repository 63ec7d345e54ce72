"""When a STATE may go out: once every record received before it has an outcome.

Each STATE is held with the number of records received before it. It goes out as soon as the
oldest record still without an outcome (the ledger's low-water mark) came after it: written and
confirmed by Pendo, reported as skipped, or in the dead-letter file, which is synced first. Of
several STATEs that became ready together only the newest goes out.

The check runs on the main thread after each message and on the write threads after each
request, so a STATE goes out when its last request is answered, not when the next input line
arrives. Its lock guards only the held STATEs and the write to stdout, and is never held while
waiting on anything else.
"""

from __future__ import annotations

import copy
import threading
import typing as t
from collections import deque

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from target_pendo.ledger import Ledger


class StateGate:
    """Holds STATE messages until every record before them has an outcome, then writes them."""

    def __init__(self, ledger: Ledger, write: Callable[[t.Any], None]) -> None:
        self._ledger = ledger
        self._write = write
        self._lock = threading.Lock()
        self._held: deque[tuple[int, t.Any]] = deque()
        self.emitted: t.Any = None
        self.closed = False

    @property
    def holding(self) -> bool:
        """True while a STATE waits for its records."""
        return bool(self._held)

    def receive(self, state: t.Any) -> None:
        """Hold `state` until the records received before it have their outcomes."""
        with self._lock:
            self._held.append((self._ledger.received_count, copy.deepcopy(state)))
        self.emit_ready()

    def emit_ready(self) -> None:
        """Write the newest held STATE whose records all have an outcome, if any."""
        if not self._held:
            return
        with self._lock:
            if self.closed:
                return
            first_open = self._ledger.oldest_unsettled_seq()
            ready: t.Any = None
            found = False
            while self._held and self._held[0][0] < first_open:
                ready = self._held.popleft()[1]
                found = True
            if not found or ready == self.emitted:
                return
            self._ledger.dead_letters.sync()
            self.emitted = ready
            self._write(ready)

    def close(self) -> None:
        """Write nothing more (the run stopped)."""
        with self._lock:
            self.closed = True
            self._held.clear()
