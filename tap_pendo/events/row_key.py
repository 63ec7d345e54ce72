"""`rowKey`: the one primary key of every event stream.

Pendo's event rows have no id, and the fields that tell them apart are often null (an
`events` row is a page row or a feature row; `accountId`, `server`, `remoteIp`, `userAgent`,
`guideStepId`, `url`... may be missing). SQL targets refuse null primary-key columns, so the
natural fields stay ordinary nullable columns and the key is a digest of them: the natural
values in a fixed order (null for a missing field), serialised by orjson (dict keys sorted),
hashed with BLAKE2b to 32 hex characters. The same row re-sent by a lookback has the same
values, hence the same key, and a target upserts it.
"""

from __future__ import annotations

import hashlib
import typing as t

import orjson
from singer_sdk import typing as th

ROW_KEY = "rowKey"
_DIGEST_BYTES = 16
_SORT_KEYS = orjson.OPT_SORT_KEYS


class RowKey:
    """Computes `rowKey` from a fixed list of a stream's natural key fields."""

    def __init__(self, fields: t.Iterable[str]) -> None:
        self.fields = tuple(fields)

    def __call__(self, row: dict[str, t.Any]) -> str:
        values = orjson.dumps(list(map(row.get, self.fields)), option=_SORT_KEYS)
        return hashlib.blake2b(values, digest_size=_DIGEST_BYTES).hexdigest()

    def add_to(self, row: dict[str, t.Any]) -> dict[str, t.Any]:
        row[ROW_KEY] = self(row)
        return row

    def schema_property(self) -> th.Property[t.Any]:
        fields = ", ".join(f"`{name}`" for name in self.fields)
        return th.Property(
            ROW_KEY,
            th.StringType,
            required=True,
            description=(
                "Primary key, never null: BLAKE2b digest (32 hex characters) of the JSON list of "
                f"[{fields}] (null where absent). The same row re-sent later has the same key."
            ),
        )
