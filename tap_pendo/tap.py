"""TapPendo: configuration and the list of streams."""

from __future__ import annotations

import copy
import threading
from functools import cached_property
from typing import Any

import click
from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.configuration._dict_config import merge_missing_config_jsonschema
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import EMIT_ACTIVATE_VERSION_CONFIG
from singer_sdk.plugin_base import _ConfigInput
from singer_sdk.tap_base import CliTestOptionValue
from typing_extensions import override

from pendo_http import (
    PendoAuthError,
    PendoClient,
    PendoError,
    PendoRedirectError,
    PendoTLSError,
    PendoUnreachableError,
    RetryPolicy,
    install_log_redaction,
    resolve_api_base,
    secret_problems,
)
from pendo_http.http_settings import HTTP_SETTINGS
from pendo_http.keycheck import check_key
from pendo_http.pacing import RatePacer
from pendo_http.probe import ProbeReport
from pendo_http.regions import REGIONS
from pendo_http.settings_check import unknown_settings_message
from pendo_http.url_check import plain_http_warning
from tap_pendo.client import stop
from tap_pendo.legacy_config import legacy_region, normalize_legacy_config


class TapPendo(Tap):
    """Extracts Pendo objects and events as Singer messages."""

    name = "tap-pendo"
    package_name = "pendo-singer"
    message_writer_class = MsgSpecWriter
    # The catalog depends on the subscription (custom fields are typed from Pendo's metadata
    # schema), so the SDK validates the config before `--discover` too: a wrong `region` then
    # fails with the validation message instead of a traceback from discovery.
    dynamic_catalog = True

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
            description=(
                "The singer-io tap-pendo name for `integration_key`; "
                "accepted so old configs work unchanged."
            ),
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
                "Base URL without `/api/v1`; overrides `region` "
                "(Pendo Adopt, a custom host, or the local simulator)."
            ),
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description=(
                "Earliest time to extract incremental data from (ISO 8601). "
                "Default: 30 days ago for events, everything for objects."
            ),
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
                "Aggregation granularity of events, page_events, feature_events and "
                "track_events rows: `dayRange` (a `day` column) or `hourRange` (an `hour` column)."
            ),
        ),
        th.Property(
            "lookback_window",
            th.IntegerType,
            default=1,
            description=(
                "Days before the bookmark that event streams re-read each run, "
                "since Pendo updates aggregates late."
            ),
        ),
        th.Property(
            "event_lag_hours",
            th.IntegerType,
            description=(
                "Hours an event period must be over before the bookmark moves past it, since "
                "Pendo serves events hours late (default: 8 with `period` hourRange; with "
                "dayRange the current day is never bookmarked). The lookback still re-reads."
            ),
        ),
        th.Property(
            "event_window_days",
            th.IntegerType,
            default=1,
            description=(
                "Days covered by one event aggregation request (1 to 30; Pendo asks for 1)."
            ),
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
        *HTTP_SETTINGS,
        th.Property(
            "visitor_history_enabled",
            th.BooleanType,
            default=False,
            description=(
                "Extract the visitor_history stream. It costs one request per changed visitor per "
                "day since its bookmark (at most 180 days), so it reads nothing unless this is "
                "true, whatever the catalog selects."
            ),
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
                "Seconds between progress lines in the log "
                "(`visitors: 120000 records, 8010 rec/s`, one per running stream); "
                "0 turns them off."
            ),
        ),
    ).to_dict()

    @override
    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict[str, Any]) -> None:
        """The SDK's built-in settings, plus `emit_activate_version_messages`, which the SDK's
        streams read but do not advertise: declared, Meltano maps its environment variable.
        """
        super().append_builtin_config(config_jsonschema)
        merge_missing_config_jsonschema(EMIT_ACTIVATE_VERSION_CONFIG, config_jsonschema)

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Read singer-io style values (strings, a `.eu` key) as that tap did, then validate.

        Settings the tap does not know are named in one warning (a typo is otherwise silent).
        """
        known = copy.deepcopy(self.config_jsonschema)
        self.append_builtin_config(known)
        unknown = unknown_settings_message(self._config, known["properties"], plugin=self.name)
        if unknown:
            self.logger.warning("%s", unknown)
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
        problems = secret_problems(self._config)
        if problems and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=problems)
        warning = plain_http_warning("api_url", self._config.get("api_url"))
        if warning:
            self.logger.warning("%s", warning)
        return problems + super()._validate_config(raise_errors=raise_errors)

    @cached_property
    def integration_key(self) -> str:
        key: str | None = self.config.get("integration_key") or self.config.get(
            "x_pendo_integration_key"
        )
        if not key:
            stop(
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

    # The SDK marks `sync_all` @final; this wraps it (key check first, one clear line on a
    # Pendo failure) and then runs the SDK's own, so the final is knowingly overridden.
    @override  # type: ignore[misc]
    def sync_all(self) -> None:
        """Check the key first, then sync; a Pendo failure ends the run with one clear line.

        A wrong key (or a key of another region) fails here in one request instead of deep
        inside the first stream; the message names the `integration_key` setting, never its value.
        """
        try:
            checked = check_key(self.client)
        except (PendoAuthError, PendoRedirectError, PendoTLSError, PendoUnreachableError) as error:
            stop(f"tap-pendo: {error}")
        self.logger.info("Key check: %s", checked.describe())
        try:
            super().sync_all()
        except PendoError as error:
            stop(f"tap-pendo: {error}")

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """`--test`: a connection check with a short report instead of the SDK's one-record
        sync of every stream (which would also force-select visitor_history).

        `--test=schema` keeps the SDK's behaviour. Exit status 1 when a call failed.
        """
        if value != CliTestOptionValue.All.value:
            super().cb_test(ctx, param, value)
            return
        from tap_pendo.probe import run_probe

        config: _ConfigInput = ctx.params.get("config", _ConfigInput())
        tap = cls(
            config=config.config,
            parse_env_config=config.parse_env,
            validate_config=True,
            setup_mapper=False,
        )
        report = tap.probe_report()
        run_probe(tap.client, report)
        click.echo(report.render(), nl=False)
        ctx.exit(0 if report.ok else 1)

    def probe_report(self) -> ProbeReport:
        """The report's header: what was checked, with which settings (secrets masked)."""
        report = ProbeReport(
            f"{self.name} {self.plugin_version} connection check (paste this in bug reports)",
            redact=self.client.redactor,
        )
        report.info("API", self.client.base_url)
        report.info("integration key", f"set, {len(self.integration_key)} characters (masked)")
        report.info("region", str(self.config.get("region") or "us"))
        report.info("period", str(self.config.get("period") or "dayRange"))
        report.info("singer-sdk", self.sdk_version)
        return report

    @override
    def discover_streams(self) -> list[Stream]:
        from tap_pendo.child_streams import derived_streams
        from tap_pendo.events.streams import event_streams
        from tap_pendo.streams import entity_streams

        return [*entity_streams(self), *derived_streams(self), *event_streams(self)]


if __name__ == "__main__":
    TapPendo.cli()
