"""target-pendo's settings: the JSON schema the SDK validates and `--about` shows, and the
checks that schema cannot express (two secrets that must differ, `load_method`, the region,
each stream's entry), plus a typed view of the values the sinks use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from singer_sdk import typing as th

from pendo_http import resolve_api_base, resolve_track_url
from pendo_http.http_settings import HTTP_SETTINGS
from pendo_http.progress import DEFAULT_INTERVAL_SECONDS
from pendo_http.regions import REGIONS
from target_pendo.abort import TargetAbort
from target_pendo.lines import DEFAULT_MAX_LINE_BYTES
from target_pendo.streams_config import StreamConfigError, resolve_stream_spec


def _columns() -> th.CustomType:
    """A list of columns, or a mapping column -> Pendo name."""
    return th.CustomType(
        {
            "anyOf": [
                {"type": "array", "items": {"type": "string"}},
                {"type": "object", "additionalProperties": {"type": "string"}},
            ]
        }
    )


STREAM_SCHEMA = th.ObjectType(
    th.Property(
        "object",
        th.StringType(allowed_values=["visitor", "account", "parent_account", "track_event"]),
        description="What the stream's records become in Pendo.",
    ),
    th.Property(
        "id_field",
        th.StringType,
        description=(
            "Column holding the visitor/account id (default: the single key property, "
            "else visitorId/accountId/id)."
        ),
    ),
    th.Property(
        "group",
        th.StringType(allowed_values=["custom", "agent"]),
        default="custom",
        description="Metadata group written: `custom` or `agent`.",
    ),
    th.Property(
        "create",
        th.BooleanType,
        default=False,
        description=(
            "Send `?create=true` so unknown ids are created (default: update-only; unknown "
            "ids are skipped and reported)."
        ),
    ),
    th.Property(
        "fields",
        _columns(),
        description=(
            'Columns to send and their Pendo names, e.g. {"plan_name": "plan"}, or a '
            "list of columns (sent lower-cased). Default: every non-id column, lower-cased. "
            "Dotted paths reach into nested objects."
        ),
    ),
    th.Property(
        "ignore_unknown_fields",
        th.BooleanType,
        default=False,
        description=(
            "Drop (with a warning) columns that have no Pendo field instead of stopping "
            "before any write."
        ),
    ),
    th.Property(
        "on_delete",
        th.StringType(allowed_values=["ignore", "delete"]),
        default="ignore",
        description=(
            "Records marked deleted (see `deleted_field`): `ignore` skips them (counted "
            "as `delete_ignored`); `delete` deletes the ids from Pendo with its bulk "
            "delete (visitor and account streams only)."
        ),
    ),
    th.Property(
        "deleted_field",
        th.StringType,
        default="_sdc_deleted_at",
        description=(
            "Column that marks a deleted record: a timestamp (Singer's `_sdc_deleted_at`, "
            "set by log-based taps) or a boolean flag; null/false means not deleted."
        ),
    ),
    th.Property(
        "event_field",
        th.StringType,
        description="Track events: column with the event name (default: event/event_name/name).",
    ),
    th.Property(
        "event_name",
        th.StringType,
        description="Track events: one fixed event name for every record.",
    ),
    th.Property(
        "timestamp_field",
        th.StringType,
        description=(
            "Track events: column with the event time (ISO 8601, datetime, or epoch "
            "seconds/milliseconds; default: timestamp/time/...)."
        ),
    ),
    th.Property(
        "account_field",
        th.StringType,
        description="Track events: column with the account id (default: accountId/account_id).",
    ),
    th.Property(
        "properties",
        _columns(),
        description=(
            "Track events: columns sent as event properties (list, or mapping column "
            "-> property name). Default: the record's `properties` object, else every "
            "other column."
        ),
    ),
    th.Property(
        "context_fields",
        _columns(),
        description=(
            "Track events: Pendo context key (ip, userAgent, url, title) -> column. Default: "
            "the record's `context` object, else columns with those names."
        ),
    ),
    additional_properties=False,
)

CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "integration_key",
        th.StringType,
        secret=True,
        title="Integration key",
        description=(
            "Pendo integration key with write access (Settings > Integrations > Integration "
            "Keys). Needed for metadata streams."
        ),
    ),
    th.Property(
        "track_event_secret",
        th.StringType,
        secret=True,
        title="Track Event Shared Secret",
        description=(
            "The app's Track Event Shared Secret (Settings > Subscription Settings > "
            "app > App Details). Needed for track-event streams; not the integration "
            "key."
        ),
    ),
    th.Property(
        "region",
        th.StringType(allowed_values=list(REGIONS)),
        default="us",
        description="Pendo region of the subscription: us, eu, us1, jpn or au.",
    ),
    th.Property(
        "api_url", th.StringType, description="Base URL without `/api/v1`; overrides `region`."
    ),
    th.Property(
        "track_url",
        th.StringType,
        description=(
            "Track-event endpoint; overrides the region's (default: `api_url` + /data/track "
            "when `api_url` is set)."
        ),
    ),
    th.Property(
        "streams",
        th.ObjectType(additional_properties=STREAM_SCHEMA),
        description=(
            "Per input stream: what it becomes in Pendo. Streams named visitors, accounts, "
            "parent_accounts or track_events need no entry; `*` applies to every other "
            "stream."
        ),
    ),
    th.Property(
        "parent_account_kind",
        th.StringType,
        default="parentAccount",
        description="Pendo's metadata kind for parent accounts (URL path segment).",
    ),
    th.Property(
        "parent_account_id_key",
        th.StringType,
        default="accountId",
        description="The id key of parent-account records in the metadata write body.",
    ),
    th.Property(
        "time_format",
        th.StringType(allowed_values=["iso", "epoch_ms"]),
        default="iso",
        description=(
            "How values for Pendo `time` (Date) fields are sent: ISO 8601 in UTC "
            "(`2026-01-02T03:04:05.000Z`, the form Pendo's docs show) or epoch milliseconds "
            "(the form Pendo returns them in). Input values may be either."
        ),
    ),
    th.Property(
        "error_isolation",
        th.StringType(allowed_values=["auto", "bisect"]),
        default="auto",
        description=(
            "How records Pendo reports errors for are found in a batch: `auto` uses error "
            "texts that name one record's id when the counts agree, else splits the "
            "batch; `bisect` splits unless an error item names its record in an id field "
            '(`{"visitorId": ...}`).'
        ),
    ),
    th.Property(
        "batch_size",
        th.IntegerType,
        default=500,
        description="Records per metadata write request (Pendo limits a call to 5 minutes).",
    ),
    th.Property(
        "max_requests_per_second",
        th.NumberType,
        default=20,
        description=(
            "Client-side rate limit over all requests (Pendo throttles around 100/s per endpoint)."
        ),
    ),
    th.Property(
        "max_concurrent_requests",
        th.IntegerType,
        default=8,
        description=(
            "Metadata write requests in flight at once (requests touching different ids; "
            "two writes of one id keep their order). 1: one at a time."
        ),
    ),
    th.Property(
        "track_concurrency",
        th.IntegerType,
        default=8,
        description="Track-event requests in flight at once.",
    ),
    th.Property(
        "track_events_per_visitor_per_second",
        th.NumberType,
        default=1,
        description=(
            "Track events sent per visitor per second at most (an older Pendo article "
            "gives one a second as the only limit, and Pendo answers 200 either way); "
            "other visitors' events flow meanwhile. 0 turns the pacing off."
        ),
    ),
    th.Property(
        "dead_letter_path",
        th.StringType,
        default="target-pendo-dead-letter.jsonl",
        description=(
            "JSON-lines file for records that could not be written (stream, record, reason, "
            "Pendo's error text)."
        ),
    ),
    th.Property(
        "max_line_bytes",
        th.IntegerType,
        default=DEFAULT_MAX_LINE_BYTES,
        description=(
            "Longest input line read, in bytes (64 MB); a longer line is dead-lettered "
            "with its line number without being read into memory."
        ),
    ),
    th.Property(
        "dry_run",
        th.BooleanType,
        default=False,
        description="Validate, convert and log what would be sent; write nothing to Pendo.",
    ),
    *HTTP_SETTINGS,
    th.Property(
        "progress_interval_seconds",
        th.NumberType,
        default=DEFAULT_INTERVAL_SECONDS,
        description=(
            "Seconds between progress lines in the log (`visitors: 120000 received, 119500 "
            "done (updated 119000, missing 500), 4012 rec/s`, one per stream); 0 turns "
            "them off."
        ),
    ),
).to_dict()


@dataclass(frozen=True)
class TargetSettings:
    """The configured values the run and its sinks use, with their defaults applied."""

    integration_key: str | None
    track_secret: str | None
    region: str | None
    api_url: str | None
    track_url_setting: str | None
    time_format: str
    track_concurrency: int
    max_concurrent_requests: int
    track_per_visitor: float
    dry_run: bool
    parent_account_kind: str
    parent_account_id_key: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TargetSettings:
        """The settings of a validated config."""
        per_visitor = config.get("track_events_per_visitor_per_second")
        return cls(
            integration_key=config.get("integration_key") or None,
            track_secret=config.get("track_event_secret") or None,
            region=config.get("region"),
            api_url=config.get("api_url"),
            track_url_setting=config.get("track_url"),
            # Pendo's only documented Date value is ISO 8601 ("2006-01-02T15:04:05.999-05:00").
            time_format=config.get("time_format") or "iso",
            track_concurrency=max(1, int(config.get("track_concurrency") or 8)),
            max_concurrent_requests=max(1, int(config.get("max_concurrent_requests") or 1)),
            track_per_visitor=max(0.0, float(1 if per_visitor is None else per_visitor)),
            dry_run=bool(config.get("dry_run", False)),
            parent_account_kind=config.get("parent_account_kind") or "parentAccount",
            parent_account_id_key=config.get("parent_account_id_key") or "accountId",
        )

    @property
    def api_base(self) -> str:
        """The API base URL (`api_url`, else the region's); ValueError when neither is usable."""
        return resolve_api_base(self.region, self.api_url)

    @property
    def track_url(self) -> str:
        """Where track events are posted."""
        return resolve_track_url(self.region, self.api_url, self.track_url_setting)

    def kind_and_id_key(self, obj: str) -> tuple[str, str]:
        """Pendo's metadata kind and the id key of its write body for a stream's `object`."""
        if obj == "visitor":
            return "visitor", "visitorId"
        if obj == "account":
            return "account", "accountId"
        return self.parent_account_kind, self.parent_account_id_key


def check_settings(config: Mapping[str, Any]) -> None:
    """Raise TargetAbort, saying what to change, for a configuration no run can write with."""
    key = config.get("integration_key") or None
    secret = config.get("track_event_secret") or None
    if key and secret and key == secret:
        msg = (
            "`track_event_secret` is the same as `integration_key`. They are different secrets "
            "and not interchangeable: the Track Event Shared Secret is under Settings > "
            "Subscription Settings > your app > App Details; the integration key under "
            "Settings > Integrations > Integration Keys."
        )
        raise TargetAbort(msg)
    if config.get("load_method") == "overwrite":
        msg = (
            "`load_method: overwrite` is not supported: Pendo metadata writes set values on "
            "existing visitors/accounts and track events append; nothing can be replaced "
            "wholesale. Use `upsert` (the default) or `append-only`."
        )
        raise TargetAbort(msg)
    try:
        resolve_api_base(config.get("region"), config.get("api_url"))
    except ValueError as error:
        raise TargetAbort(str(error)) from None
    for name in config.get("streams") or {}:
        try:
            resolve_stream_spec(name, config.get("streams"))
        except StreamConfigError as error:
            raise TargetAbort(str(error)) from None
