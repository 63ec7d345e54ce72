"""Visitors and accounts: lazily materialised rows with metadata, presorted orders, overrides."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterator
from typing import Any

from .expressions import sort_key

NEG_INF = float("-inf")


class MetaTable:
    """Rows are built on demand from an index; only ids, lastupdated and writes are stored.

    Supported presorted orders (used to skip sorting and to seek with filter bounds):
    (lastupdated, id) and (id,).
    """

    def __init__(
        self,
        id_field: str,
        ids: list[str],
        lastupdated: list[int | None],
        build: Callable[[int, str, Any], dict],
        missing_lu: set[int],
    ):
        self.id_field = id_field
        self.ids = ids
        self.lu = lastupdated
        self.missing_lu = missing_lu  # indices whose lastupdated key is absent (vs null)
        self.build = build
        self.overrides: dict[int, dict[str, dict[str, Any]]] = {}
        self.deleted: set[int] = set()
        self._index: dict[str, int] | None = None
        self._orders: dict[str, tuple[list[int], list[Any]]] = {}
        self.lock = threading.RLock()
        self.lu_path = ["metadata", "auto", "lastupdated"]

    # ------------------------------------------------------------------ identity
    def __len__(self) -> int:
        return len(self.ids)

    def _index_map(self) -> dict[str, int]:
        """id -> position, built on first use (call under the lock)."""
        if self._index is None:
            self._index = {v: i for i, v in enumerate(self.ids)}
        return self._index

    def index_of(self, id_: str) -> int | None:
        with self.lock:
            return self._index_map().get(id_)

    def add(self, id_: str, lu: int) -> int:
        with self.lock:
            index = self._index_map()
            j = len(self.ids)
            self.ids.append(id_)
            self.lu.append(lu)
            index[id_] = j
            self._orders.clear()
            return j

    # ------------------------------------------------------------------ rows
    def row(self, j: int) -> dict:
        lu = self.lu[j]
        row = self.build(j, self.ids[j], lu)
        if j in self.missing_lu and lu is None:
            row["metadata"]["auto"].pop("lastupdated", None)
        ov = self.overrides.get(j)
        if ov:
            md = row["metadata"]
            for group, values in ov.items():
                g = md.get(group)
                if g is None:
                    md[group] = dict(values)
                else:
                    g.update(values)
        return row

    def set_values(self, j: int, group: str, values: dict, now_ms: int) -> None:
        with self.lock:
            # copy-on-write so concurrent readers in row() never see a dict change size
            cur = self.overrides.get(j, {})
            merged = dict(cur.get(group, {}))
            merged.update(values)
            self.overrides[j] = {**cur, group: merged}
            self.touch(j, now_ms)

    def touch(self, j: int, now_ms: int) -> None:
        with self.lock:
            self.lu[j] = int(now_ms)
            self.missing_lu.discard(j)
            self._orders.clear()

    # ------------------------------------------------------------------ orders
    def order(self, name: str) -> tuple[list[int], list[Any]]:
        """('lu' | 'id') -> (indices in order, parallel list of the first sort key for bisect)."""
        with self.lock:
            got = self._orders.get(name)
            if got is not None:
                return got
            ids, lu = self.ids, self.lu
            # two stable sorts with keys that are existing objects: flat memory, no tuple keys
            by_id = self._orders.get("id")
            if by_id is None:
                idx_id = sorted(range(len(ids)), key=ids.__getitem__)
                by_id = (idx_id, [ids[i] for i in idx_id])
                self._orders["id"] = by_id
            if name == "id":
                return by_id
            lu_key = [NEG_INF if v is None else v for v in lu]
            idx = sorted(by_id[0], key=lu_key.__getitem__)
            keys = [lu_key[i] for i in idx]
            del lu_key
            self._orders[name] = (idx, keys)
            return idx, keys

    def order_for_sort(self, keys: list[str]) -> str | None:
        """Which stored order satisfies a sort spec, if any."""
        if not keys or any(k.startswith("-") for k in keys):
            return None
        lu_path = "metadata.auto.lastupdated"
        if keys == [lu_path] or keys == [lu_path, self.id_field]:
            return "lu"
        if keys[0] == self.id_field:
            return "id"
        return None

    def iterate(
        self,
        order: str | None,
        bounds=None,
        identified_only: bool = False,
        anonymous_only: bool = False,
    ) -> Iterator[dict]:
        if order is None:
            seq: Any = range(len(self.ids))
        else:
            idx, keys = self.order(order)
            lo_pos, hi_pos = 0, len(idx)
            if bounds is not None:
                lo, lo_incl, hi, hi_incl = bounds
                want = (int, float) if order == "lu" else (str,)
                if isinstance(lo, want) and not isinstance(lo, bool):
                    lo_pos = (bisect.bisect_left if lo_incl else bisect.bisect_right)(keys, lo)
                if isinstance(hi, want) and not isinstance(hi, bool):
                    hi_pos = (bisect.bisect_right if hi_incl else bisect.bisect_left)(keys, hi)
            # lazy: a page that starts deep in the order must not copy the rest of it
            seq = (
                idx
                if (lo_pos, hi_pos) == (0, len(idx))
                else map(idx.__getitem__, range(lo_pos, hi_pos))
            )
        ids, deleted, row = self.ids, self.deleted, self.row
        for j in seq:
            if deleted and j in deleted:
                continue
            if identified_only and ids[j].startswith("_PENDO_T_"):
                continue
            if anonymous_only and not ids[j].startswith("_PENDO_T_"):
                continue
            yield row(j)

    def all_rows(self, identified_only: bool = False) -> list[dict]:
        return list(self.iterate("lu", identified_only=identified_only))


def sort_rows(rows: list[dict], getters: list[tuple[Callable, bool]]) -> list[dict]:
    """Stable multi-key sort; nulls first ascending (last when descending)."""
    for get, desc in reversed(getters):
        rows.sort(key=lambda r: sort_key(get(r)), reverse=desc)
    return rows
