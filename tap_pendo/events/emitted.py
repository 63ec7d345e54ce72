"""The rowKeys already emitted from one window, so that re-reading it emits no row twice.

When a connection drops in the middle of an aggregation body, the window is asked for
again from its start (an aggregation has no cursor to resume from, and Pendo does not
promise the same row order twice). The rows emitted before the break are skipped on the
re-read by their rowKey.

Memory: each emitted key is kept as its 16 raw bytes in one bytearray (16 MB for a
million-row window); the lookup set is built only when a re-read starts (98 MB more
for a million rows, measured; freed with the window), so the common path stays lean.
"""

from __future__ import annotations


class EmittedKeys:
    """The rowKeys emitted from one window: packed while emitting, indexed for a re-read."""

    def __init__(self) -> None:
        self._packed = bytearray()
        self._lookup: set[bytes] | None = None

    def add(self, row_key: str) -> None:
        self._packed += bytes.fromhex(row_key)

    def __len__(self) -> int:
        return len(self._packed) // 16

    def start_reread(self) -> None:
        """Index every key emitted so far; `__contains__` answers from it until the next re-read."""
        view = memoryview(self._packed)
        self._lookup = {bytes(view[i : i + 16]) for i in range(0, len(view), 16)}
        view.release()

    def __contains__(self, row_key: str) -> bool:
        return self._lookup is not None and bytes.fromhex(row_key) in self._lookup
