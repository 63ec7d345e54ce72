"""Where every record ends up: the per-stream outcome counts and the dead-letter file.

Every record the target receives ends in exactly one outcome: `updated`, `created`,
`sent` (track events), `missing` (update-only and Pendo does not know the id),
`deleted` (a deletion sent to Pendo's bulk delete), `delete_ignored` (a deletion in a
stream with `on_delete: ignore`: neither written nor deleted), `dry_run` (would have
been sent), or `dead_letter` (a JSON line in the dead-letter file with the stream, the
record, the reason and Pendo's own error text).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from target_pendo.convert import dumps

OUTCOMES = (
    "updated",
    "created",
    "sent",
    "missing",
    "deleted",
    "delete_ignored",
    "dry_run",
    "dead_letter",
)
WARNINGS = ("old_events", "hidden_properties", "large_properties")
MISSING_IDS_KEPT = 1000

logger = logging.getLogger("target-pendo")


@dataclass
class Item:
    """One received record on its way to Pendo."""

    seq: int
    stream: str
    record: dict[str, Any]
    id: str | None = None
    payload: dict[str, Any] | None = None
    outcome: str | None = None
    delete: bool = False  # a deletion, to go to Pendo's bulk delete


@dataclass
class StreamTally:
    """One stream's counts: records received, outcomes, warnings."""

    received: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)
    missing_ids: list[str] = field(default_factory=list)

    @property
    def settled(self) -> int:
        return sum(self.outcomes.values())


def open_private(path: Path) -> TextIO:
    """`path` opened for appending, readable by its owner only (it holds customer records):
    created with mode 0600 whatever the umask, an existing file narrowed to 0600, and the
    directory entry synced so a crash cannot lose the file once a STATE went out.
    """
    created = not path.exists()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.fchmod(fd, 0o600)
        if created:
            directory = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        return os.fdopen(fd, "a", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


class DeadLetterFile:
    """JSON lines, opened on the first rejected record, synced before a STATE goes out.
    `redact` masks the configured secrets in every line before it is written.
    """

    def __init__(
        self, path: str | os.PathLike[str], redact: Callable[[str], str] | None = None
    ) -> None:
        self.path = Path(path)
        self.redact = redact
        self._file: TextIO | None = None
        self._lock = threading.Lock()
        self.count = 0

    def write(self, entry: dict[str, Any]) -> None:
        line = dumps(entry).decode()
        if self.redact is not None:
            line = self.redact(line)
        with self._lock:
            if self._file is None:
                self._file = open_private(self.path)
            self._file.write(line + "\n")
            self.count += 1

    def sync(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.flush()
                os.fsync(self._file.fileno())

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()
                self._file = None


class Ledger:
    """Thread-safe outcome accounting for the whole run."""

    def __init__(self, dead_letters: DeadLetterFile, *, dry_run: bool = False) -> None:
        self.dead_letters = dead_letters
        self.dry_run = dry_run
        self.streams: dict[str, StreamTally] = defaultdict(StreamTally)
        self.bad_lines = 0
        self._lock = threading.Lock()
        self._seq = 0
        self._oldest_open = 1  # no record before this seq lacks an outcome
        self.unsettled: dict[int, Item] = {}
        self.key_properties: dict[str, list[str]] = {}  # per stream, for the replay

    # -- intake -------------------------------------------------------------------------

    def receive(self, stream: str, record: dict[str, Any]) -> Item:
        with self._lock:
            self._seq += 1
            item = Item(self._seq, stream, record)
            self.streams[stream].received += 1
            self.unsettled[item.seq] = item
            return item

    @property
    def received_count(self) -> int:
        """Records received so far (the newest record's seq)."""
        with self._lock:
            return self._seq

    def oldest_unsettled_seq(self) -> int:
        """The seq of the oldest record without an outcome; one past the newest when none."""
        with self._lock:
            oldest = self._oldest_open
            while oldest <= self._seq and oldest not in self.unsettled:
                oldest += 1
            self._oldest_open = oldest
            return oldest

    # -- outcomes -------------------------------------------------------------------------

    def settle(self, item: Item, outcome: str) -> None:
        with self._lock:
            if item.outcome is not None:
                return
            item.outcome = outcome
            self.unsettled.pop(item.seq, None)
            tally = self.streams[item.stream]
            tally.outcomes[outcome] += 1
            if (
                outcome == "missing"
                and item.id is not None
                and len(tally.missing_ids) < MISSING_IDS_KEPT
            ):
                tally.missing_ids.append(item.id)

    def reject(
        self,
        item: Item,
        reason: str,
        *,
        api_error: str | None = None,
        field: str | None = None,
        payload: Any = None,
        line: int | None = None,
    ) -> None:
        """Put `item` in the dead-letter file with why (and the input line number, when known)."""
        if item.outcome is not None:
            return
        entry: dict[str, Any] = {
            "stream": item.stream,
            "record": item.record,
            "reason": reason,
            "api_error": api_error,
            "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        if field is not None:
            entry["field"] = field
        if line is not None:
            entry["line"] = line
        keys = self.key_properties.get(item.stream)
        if keys:
            entry["key_properties"] = keys
        if item.id is not None:
            entry["id"] = item.id
        if payload is not None:
            entry["sent"] = payload
        if self.dry_run:
            entry["dry_run"] = True
        self.dead_letters.write(entry)
        self.settle(item, "dead_letter")

    def reject_all(self, items: Iterable[Item], reason: str, *, api_error: str | None) -> None:
        """Dead-letter each of `items` for the same reason, each with what was sent for it."""
        for item in items:
            self.reject(item, reason, api_error=api_error, payload=item.payload)

    def reject_line(
        self, stream: str | None, record: Any, reason: str, *, line: int | None = None
    ) -> None:
        """A RECORD line the SDK could not take (no SCHEMA before it, not valid, ...)."""
        item = self.receive(
            stream or "<unknown stream>", record if isinstance(record, dict) else {"raw": record}
        )
        self.reject(item, reason, line=line)

    def warn(self, stream: str, warning: str, count: int = 1) -> None:
        with self._lock:
            self.streams[stream].warnings[warning] += count

    # -- reporting ------------------------------------------------------------------------

    @property
    def failed(self) -> int:
        return sum(t.outcomes["dead_letter"] for t in self.streams.values()) + self.bad_lines

    def summary_rows(self) -> list[dict[str, Any]]:
        rows = []
        for name in sorted(self.streams):
            tally = self.streams[name]
            row: dict[str, Any] = {"stream": name, "received": tally.received}
            row.update({o: tally.outcomes[o] for o in OUTCOMES})
            row["warnings"] = dict(tally.warnings)
            row["unaccounted"] = tally.received - tally.settled
            rows.append(row)
        return rows

    def summary_table(self) -> str:
        headers = ["stream", "received", *OUTCOMES, "unaccounted"]
        rows = [[str(r[h]) for h in headers] for r in self.summary_rows()]
        if rows:
            totals = ["TOTAL"] + [str(sum(int(r[i]) for r in rows)) for i in range(1, len(headers))]
            rows.append(totals)
        widths = [
            max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
            for i, h in enumerate(headers)
        ]

        def fmt(cells: list[str]) -> str:
            return "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )

        lines = [fmt(headers), fmt(["-" * w for w in widths])]
        lines += [fmt(r) for r in rows]
        for name in sorted(self.streams):
            tally = self.streams[name]
            for warning, count in sorted(tally.warnings.items()):
                lines.append(f"warning: {name}: {count} {warning.replace('_', ' ')}")
            if tally.missing_ids:
                shown = ", ".join(tally.missing_ids[:20])
                more = tally.outcomes["missing"] - min(20, len(tally.missing_ids))
                lines.append(
                    f"missing in Pendo (skipped, update-only): {name}: {shown}"
                    + (f" … and {more} more" if more > 0 else "")
                )
        if self.bad_lines:
            lines.append(f"input lines that could not be processed: {self.bad_lines}")
        if self.dead_letters.count:
            lines.append(
                f"dead-letter file: {self.dead_letters.path} ({self.dead_letters.count} records)"
            )
        return "\n".join(lines)

    def print_summary(self, stream: TextIO | None = None) -> None:
        title = "target-pendo summary" + (" (dry run: nothing was written)" if self.dry_run else "")
        out = stream or sys.stderr
        if not self.streams and not self.bad_lines and not self.dead_letters.count:
            out.write(f"{title}: no records received\n")  # not an empty table
            out.flush()
            return
        table = self.summary_table()
        out.write(f"\n{title}\n{table}\n")
        out.flush()
        for row in self.summary_rows():
            logger.info("Stream summary: %s", dumps(row).decode())
