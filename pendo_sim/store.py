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
        self.rejected_track_events: list[dict] = []  # integration key used silently
        self.metadata_writes: list[dict] = []  # {"kind","group","id","values"}
        self.parent_accounts: dict[str, dict[str, dict]] = {}

    def metadata(self, kind: str, id_: str) -> dict[str, dict[str, Any]]:
        """Current metadata groups of an entity, including values written through the API."""
        if kind == "parentAccount":
            with self.lock:
                return {g: dict(v) for g, v in self.parent_accounts.get(id_, {}).items()}
        table = self._ds.visitor_table if kind == "visitor" else self._ds.account_table
        j = table.index_of(id_)
        if j is None:
            return {}
        return table.row(j)["metadata"]

    def written(self, kind: str, id_: str) -> dict[str, dict[str, Any]]:
        """Only the values written through the API."""
        if kind == "parentAccount":
            return self.metadata(kind, id_)
        table = self._ds.visitor_table if kind == "visitor" else self._ds.account_table
        j = table.index_of(id_)
        if j is None:
            return {}
        return {g: dict(v) for g, v in table.overrides.get(j, {}).items()}
