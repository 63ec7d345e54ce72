"""TapPendo: configuration and the list of streams."""

from __future__ import annotations

import sys
import threading
from functools import cached_property

from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter

from pendo_http import (
    PendoAuthError,
    PendoClient,
    PendoError,
    RetryPolicy,
    install_log_redaction,
    resolve_api_base,
)
from pendo_http.pacing import RatePacer
from pendo_http.regions import REGIONS
from tap_pendo.legacy_config import legacy_region, normalize_legacy_config


class TapPendo(Tap):
    """Extracts Pendo objects and events as Singer messages."""

    name = "tap-pendo"
    package_name = "pendo-singer"
    message_writer_class = MsgSpecWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "integration_key",
            th.StringType,
            secret=True,
            title="Integration key",
            description=(
                "Pendo integration key (Settings > Integrations > Integration Keys). Required, "
                "unless the legacy `x_pendo_integration_key` is set."
            ),
        ),
        th.Property(
            "x_pendo_integration_key",
            th.StringType,
            secret=True,
            title="Integration key (legacy name)",
            description="The singer-io tap-pendo name for `integration_key`; accepted so old configs work unchanged.",
        ),
        th.Property(
            "region",
            th.StringType(allowed_values=list(REGIONS)),
            default="us",
            description="Pendo region of the subscription: us, eu, us1, jpn or au.",
        ),
        th.Property(
            "api_url",
            th.StringType,
            description=(
                "Base URL without `/api/v1`; overrides `region` (Pendo Adopt, a custom host, or the local simulator)."
            ),
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="Earliest time to extract incremental data from (ISO 8601). Default: 30 days ago for events, everything for objects.",
        ),
        th.Property(
            "end_date",
            th.DateTimeType,
            description=(
                "Exclusive end for event streams (ISO 8601): they read the periods before the "
                "one containing end_date, which belongs to a run whose start_date it is, so "
                "backfill partitions [a, b) and [b, c) meet without overlap. Default: now."
            ),
        ),
        th.Property(
            "period",
            th.StringType(allowed_values=["dayRange", "hourRange"]),
            default="dayRange",
            description=(
                "Aggregation granularity of events, page_events, feature_events and track_events rows: "
                "`dayRange` (a `day` column) or `hourRange` (an `hour` column)."
            ),
        ),
        th.Property(
            "lookback_window",
            th.IntegerType,
            default=1,
            description="Days before the bookmark that event streams re-read each run, since Pendo updates aggregates late.",
        ),
        th.Property(
            "event_window_days",
            th.IntegerType,
            default=1,
            description="Days covered by one event aggregation request (1 to 30; Pendo asks for 1).",
        ),
        th.Property(
            "include_anonymous_visitors",
            th.BooleanType,
            default=False,
            description="Also extract anonymous visitors (and their history).",
        ),
        th.Property(
            "app_ids",
            th.ArrayType(th.StringType),
            description="Application ids to extract. Default: every app of the subscription.",
        ),
        th.Property(
            "page_size",
            th.IntegerType,
            default=50000,
            description="Rows per aggregation page when paging visitors and accounts by key.",
        ),
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
        th.Property(
            "max_concurrent_requests",
            th.IntegerType,
            default=8,
            description=(
                "Aggregation windows of an event stream requested at once (rows are still "
                "emitted in window order, so STATE is the same as with 1). 1: one at a time."
            ),
        ),
        th.Property(
            "max_requests_per_second",
            th.NumberType,
            default=50,
            description=(
                "Ceiling on request starts per second, across all streams and threads "
                "(Pendo's limit is reported as 100 per second per endpoint); 0: none."
            ),
        ),
        th.Property(
            "visitor_history_concurrency",
            th.IntegerType,
            default=4,
            description="Parallel requests for the visitor_history stream.",
        ),
        th.Property(
            "progress_interval_seconds",
            th.NumberType,
            default=30,
            description=(
                "Seconds between progress lines in the log (`visitors: 120000 records, 8010 rec/s`, "
                "one per running stream); 0 turns them off."
            ),
        ),
    ).to_dict()

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Read singer-io style values (strings, a `.eu` key) as that tap did, then validate."""
        converted = normalize_legacy_config(self._config, self.config_jsonschema)
        if converted:
            self.logger.info(
                "Read singer-io style values of %s as typed values", ", ".join(converted)
            )
        region = legacy_region(self._config)
        if region:
            self._config["region"] = region
            self.logger.info(
                "The integration key ends in `.eu`: using region `eu` (set `region` to override)"
            )
        return super()._validate_config(raise_errors=raise_errors)

    @cached_property
    def integration_key(self) -> str:
        key = self.config.get("integration_key") or self.config.get("x_pendo_integration_key")
        if not key:
            sys.exit(
                "tap-pendo: no integration key. Set the `integration_key` setting "
                "(or TAP_PENDO_INTEGRATION_KEY in Meltano)."
            )
        return key

    @cached_property
    def max_concurrent_requests(self) -> int:
        return max(1, int(self.config.get("max_concurrent_requests") or 1))

    @cached_property
    def request_slots(self) -> threading.BoundedSemaphore:
        """Shared by every prefetching worker: at most `max_concurrent_requests` in flight."""
        return threading.BoundedSemaphore(self.max_concurrent_requests)

    @cached_property
    def client(self) -> PendoClient:
        """The one HTTP client every stream shares."""
        client = PendoClient(
            base_url=resolve_api_base(self.config.get("region"), self.config.get("api_url")),
            integration_key=self.integration_key,
            timeout_seconds=float(self.config.get("request_timeout", 300)),
            retry=RetryPolicy(
                max_tries=int(self.config.get("max_retries", 8)),
                base_seconds=float(self.config.get("retry_backoff_seconds", 1.0)),
            ),
        )
        client.pacer = RatePacer(float(self.config.get("max_requests_per_second", 50) or 0))
        # The client's redactor knows the key and any credentials in `api_url`.
        install_log_redaction(client.redactor)
        return client

    def sync_all(self) -> None:
        """Check the key first, then sync; a Pendo failure ends the run with one clear line.

        A wrong key (or a key of another region) fails here in one request instead of deep
        inside the first stream; the message names the `integration_key` setting, never its value.
        """
        try:
            self.client.verify_key()
        except PendoAuthError as error:
            sys.exit(f"tap-pendo: {error}")
        try:
            super().sync_all()
        except PendoError as error:
            sys.exit(f"tap-pendo: {error}")

    def discover_streams(self) -> list[Stream]:
        from tap_pendo.event_streams import event_streams
        from tap_pendo.streams import entity_streams

        return [*entity_streams(self), *event_streams(self)]


if __name__ == "__main__":
    TapPendo.cli()
