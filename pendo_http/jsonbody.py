"""JSON in both directions: request bodies and log lines out, answer bodies in.

Out: JSON bytes for any request body or log line, fast in the common case.

orjson refuses integers beyond 64 bits and strings holding lone surrogates; both can
arrive from a tap, so those rare values fall back to the standard library, which
writes big integers in full and escapes surrogates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson


def json_bytes(value: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """`value` as JSON bytes: orjson, or the standard library for what orjson refuses."""
    try:
        return orjson.dumps(value, default=default, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(value, default=default or str).encode()


def decode_body(content: bytes) -> Any:
    """An answer body: None when empty, its JSON when it parses, else its text (for reports)."""
    if not content.strip():
        return None
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return content.decode("utf-8", "replace")
