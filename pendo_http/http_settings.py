"""The settings both plugins declare for talking to Pendo: timeout and retries."""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th

HTTP_SETTINGS: tuple[th.Property[t.Any], ...] = (
    th.Property(
        "request_timeout",
        th.IntegerType,
        default=300,
        description="Seconds to wait for Pendo's response before retrying.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=8,
        description="Tries per request on 429, 408, 5xx, timeouts and dropped connections.",
    ),
    th.Property(
        "retry_backoff_seconds",
        th.NumberType,
        default=1.0,
        description="First backoff wait; it doubles per retry (with jitter), up to 60 seconds.",
    ),
)
