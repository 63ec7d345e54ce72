"""Building Pendo aggregation filter expressions safely.

Pendo filters are C-like expressions with `"..."` string literals (pendo-api.md §3.5).
Ids are user data: quotes, backslashes and control characters must be escaped or the
filter breaks (HTTP 400) or, worse, means something else.
"""

from __future__ import annotations

import json
import typing as t


def quote(value: str) -> str:
    r"""A double-quoted filter string literal for `value`.

    JSON string escaping (`\"`, `\\`, `\n`, `\uXXXX`) is the escaping Pendo's expression
    language accepts; non-ASCII characters are kept as themselves (UTF-8 body).
    """
    return json.dumps(str(value), ensure_ascii=False)


def literal(value: t.Any) -> str:
    """A filter literal for a number or string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return quote(value)


def keyset_after(sort_field: str, id_field: str, last_sort: t.Any, last_id: str) -> str:
    """Rows strictly after (last_sort, last_id) in `sort [sort_field, id_field]` order."""
    s, i = literal(last_sort), quote(last_id)
    return f"({sort_field} > {s}) || ({sort_field} == {s} && {id_field} > {i})"
