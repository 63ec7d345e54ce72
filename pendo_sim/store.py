"""What writes did: metadata values per (kind, id), accepted/dropped track events."""

from __future__ import annotations

import threading
from typing import Any


class Store:
    def __init__(self, dataset):
        self._ds = dataset
        self.lock = threading.RLock()
        self.track_events: list[dict] = []
        self.dropped_track_events: list[dict] = []
        self.hidden_track_properties: list[dict] = []  # {"event": ..., "properties": {...}}
        self.oversized_track_properties: list[dict] = []  # accepted, properties JSON > 512 bytes
        self.rejected_track_events: list[dict] = []  # integration key used silently
        self.throttled_track_events: list[dict] = []  # over the per-visitor limit, dropped (200)
        self.metadata_writes: list[dict] = []  # {"kind","group","id","values"}
        self.parent_accounts: dict[str, dict[str, dict]] = {}

    def metadata(self, kind: str, id_: str) -> dict[str, dict[str, Any]]:
        """What writes did to one entity: {group: {field: value}} (empty when never written)."""
        if kind == "parentAccount":
            with self.lock:
                return {
                    g: dict(v) for g, v in self.parent_accounts.get(id_, {}).items() if g != "auto"
                }
        table = self._table(kind)
        if table is None:
            return {}
        j = table.index_of(id_)
        if j is None:
            return {}
        return {g: dict(v) for g, v in table.overrides.get(j, {}).items()}

    def current(self, kind: str, id_: str) -> dict[str, dict[str, Any]]:
        """Full current metadata (generated values merged with writes)."""
        if kind == "parentAccount":
            with self.lock:
                return {g: dict(v) for g, v in self.parent_accounts.get(id_, {}).items()}
        table = self._table(kind)
        j = None if table is None else table.index_of(id_)
        return {} if j is None else table.row(j)["metadata"]

    def _table(self, kind: str):
        if kind == "visitor":
            return self._ds.visitor_table
        if kind == "account":
            return self._ds.account_table
        return None
