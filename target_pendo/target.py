"""TargetPendo: writes any tap's records back to Pendo as metadata and track events."""

from __future__ import annotations

import copy
import json
import sys
import threading
import typing as t
from functools import cached_property

import click
import msgspec
from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import decoder as _msgspec_decoder  # same types: Decimal floats
from singer_sdk.exceptions import (
    ConfigValidationError,
    InvalidRecord,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)
from singer_sdk.io_base import SingerReader
from singer_sdk.plugin_base import _ConfigInput
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.singerlib.json import deserialize_json as _deserialize_json
from typing_extensions import override

from pendo_http import (
    PendoAuthError,
    PendoFatalError,
    PendoRetriableError,
    PendoTLSError,
    PendoUnreachableError,
    Redactor,
    install_log_redaction,
    resolve_api_base,
    resolve_track_url,
    secret_problems,
    url_secrets,
)
from pendo_http.regions import REGIONS
from pendo_http.settings_check import unknown_settings_message
from pendo_http.url_check import plain_http_warning
from target_pendo.convert import json_safe
from target_pendo.http import VisitorPacer, build_client
from target_pendo.ledger import DeadLetterFile, Ledger
from target_pendo.lines import DEFAULT_MAX_LINE_BYTES, read_lines
from target_pendo.meltano_test import MeltanoTestSink, is_meltano_test
from target_pendo.metadata import MetadataWriter, TargetAbort
from target_pendo.probe import run_probe
from target_pendo.progress import DEFAULT_INTERVAL_SECONDS, ProgressReporter
from target_pendo.sinks import MetadataSink, PendoSink, TrackEventSink
from target_pendo.streams_config import StreamConfigError, StreamSpec, resolve_stream_spec

if t.TYPE_CHECKING:
    from singer_sdk.sinks import Sink

# Input problems that concern one line: the line's record is dead-lettered and the run goes on.
LINE_ERRORS: tuple[type[BaseException], ...] = (
    InvalidInputLine,
    RecordsWithoutSchemaException,
    MissingKeyPropertiesError,
    InvalidRecord,
    ValueError,
    KeyError,
    TypeError,
    RecursionError,
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
        description="Column holding the visitor/account id (default: the single key property, else visitorId/accountId/id).",
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
        description="Send `?create=true` so unknown ids are created (default: update-only; unknown ids are skipped and reported).",
    ),
    th.Property(
        "fields",
        th.CustomType(
            {
                "anyOf": [
                    {"type": "array", "items": {"type": "string"}},
                    {"type": "object", "additionalProperties": {"type": "string"}},
                ]
            }
        ),
        description='Columns to send and their Pendo names, e.g. {"plan_name": "plan"}, or a list of columns (sent lower-cased). Default: every non-id column, lower-cased. Dotted paths reach into nested objects.',
    ),
    th.Property(
        "ignore_unknown_fields",
        th.BooleanType,
        default=False,
        description="Drop (with a warning) columns that have no Pendo field instead of stopping before any write.",
    ),
    th.Property(
        "on_delete",
        th.StringType(allowed_values=["ignore", "delete"]),
        default="ignore",
        description="Records marked deleted (see `deleted_field`): `ignore` skips them (counted as `delete_ignored`); `delete` deletes the ids from Pendo with its bulk delete (visitor and account streams only).",
    ),
    th.Property(
        "deleted_field",
        th.StringType,
        default="_sdc_deleted_at",
        description="Column that marks a deleted record: a timestamp (Singer's `_sdc_deleted_at`, set by log-based taps) or a boolean flag; null/false means not deleted.",
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
        description="Track events: column with the event time (ISO 8601, datetime, or epoch seconds/milliseconds; default: timestamp/time/...).",
    ),
    th.Property(
        "account_field",
        th.StringType,
        description="Track events: column with the account id (default: accountId/account_id).",
    ),
    th.Property(
        "properties",
        th.CustomType(
            {
                "anyOf": [
                    {"type": "array", "items": {"type": "string"}},
                    {"type": "object", "additionalProperties": {"type": "string"}},
                ]
            }
        ),
        description="Track events: columns sent as event properties (list, or mapping column -> property name). Default: the record's `properties` object, else every other column.",
    ),
    th.Property(
        "context_fields",
        th.CustomType(
            {
                "anyOf": [
                    {"type": "array", "items": {"type": "string"}},
                    {"type": "object", "additionalProperties": {"type": "string"}},
                ]
            }
        ),
        description="Track events: Pendo context key (ip, userAgent, url, title) -> column. Default: the record's `context` object, else columns with those names.",
    ),
    additional_properties=False,
)


_STATE_ENCODER = msgspec.json.Encoder(decimal_format="number")


def state_json(state: t.Any) -> str:  # noqa: ANN401
    """STATE as JSON, its numbers as they came: the SDK's decoder reads them as Decimal,
    which the SDK's own `json.dumps` refuses (a STATE holding 0.5 stopped the run)."""
    try:
        return _STATE_ENCODER.encode(state).decode()
    except (UnicodeEncodeError, TypeError):  # a lone surrogate: json.dumps escapes it
        return json.dumps(json_safe(state))


def message_problem(message: dict) -> str | None:
    """Why a Singer message cannot be processed, or None: the shape checks the SDK leaves to
    an AttributeError deep in its code (a `record` that is a string, a `schema` that is a list)."""
    kind = message.get("type")
    if not isinstance(kind, str):
        return "`type` is not a string"
    if kind in ("RECORD", "SCHEMA", "ACTIVATE_VERSION", "BATCH") and not isinstance(
        message.get("stream"), str
    ):
        return f"{kind} message without a `stream` name"
    if kind == "RECORD" and not isinstance(message.get("record"), dict):
        return "RECORD message whose `record` is not a JSON object"
    if kind == "SCHEMA":
        schema = message.get("schema")
        if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
            return "SCHEMA message whose `schema` is not an object with `properties`"
        keys = message.get("key_properties")
        if keys is not None and not (
            isinstance(keys, list) and all(isinstance(k, str) for k in keys)
        ):
            return "SCHEMA message whose `key_properties` is not a list of field names"
    if kind == "STATE" and "value" not in message:
        return "STATE message without a `value`"
    return None


MAX_DEPTH = 64  # JSON nesting; the SDK's deepcopy of a message fails at about 100 levels


def nesting_exceeds(value: t.Any, limit: int) -> bool:  # noqa: ANN401
    """True when objects/arrays in `value` nest deeper than `limit` (iterative: a deep
    value must not exhaust the stack here either)."""
    if not isinstance(value, (dict, list)):
        return False
    stack: list[tuple[t.Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def decode_problem(data: bytes) -> str | None:
    """Why a line's bytes are not UTF-8 text, naming the first bad byte; None when they are."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        return (
            f"byte 0x{data[error.start]:02x} at position {error.start} is not UTF-8 "
            f"({error.reason})"
        )
    return None


class TolerantReader(SingerReader):
    """The SDK's reader, except that one bad line never stops the run.

    Lines are read as bytes and decoded one by one (lines.py). A line that is not UTF-8,
    longer than `max_line_bytes`, not JSON, nested deeper than MAX_DEPTH, a RECORD before
    its SCHEMA, a record missing its key properties, an unknown message type: logged, the
    line (or its record) dead-lettered with its line number, and the next line read.
    TargetAbort (nothing more can be written) still stops the run.
    """

    target: TargetPendo | None = None
    line_number = 0

    def deserialize_json(self, line: str) -> dict:
        """Like the SDK's, without logging a traceback for a line that is not JSON."""
        try:
            return _msgspec_decoder.decode(line)
        except msgspec.DecodeError:
            pass  # the SDK's parser decides (and explains): it also reads NaN and lone surrogates
        try:
            return _deserialize_json(line)
        except (json.JSONDecodeError, ValueError) as error:
            raise InvalidInputLine(str(error)) from error

    @property
    def max_line_bytes(self) -> int:
        configured = self.target.config.get("max_line_bytes") if self.target else None
        return int(configured or DEFAULT_MAX_LINE_BYTES)

    def decode_line(self, number: int, data: bytes | None, size: int) -> dict | None:
        """The line's message, or None after dead-lettering why it has none."""
        if data is None:
            self._bad_line(
                None,
                "",
                f"line {number} is {size} bytes, more than `max_line_bytes` "
                f"({self.max_line_bytes}): not read",
            )
            return None
        problem = decode_problem(data)
        if problem is not None:
            text = data.decode("utf-8", "backslashreplace")
            self._bad_line(None, text, f"line {number} is not valid UTF-8: {problem}")
            return None
        line = data.decode("utf-8")
        if not line.strip():
            return None
        self._current_message = line
        try:
            line_dict = self.deserialize_json(line)
        except (InvalidInputLine, RecursionError) as error:
            self._bad_line(None, line, f"line {number} is not valid JSON: {error}")
            return None
        brackets = data.count(b"{") + data.count(b"[")
        if brackets > MAX_DEPTH and nesting_exceeds(line_dict, MAX_DEPTH):
            self._bad_line(
                None, line, f"line {number} nests objects/arrays more than {MAX_DEPTH} levels deep"
            )
            return None
        if not isinstance(line_dict, dict) or "type" not in line_dict:
            self._bad_line(None, line, f"line {number} is not a Singer message (no `type`)")
            return None
        problem = message_problem(line_dict)
        if problem is not None:
            self._bad_line(line_dict, line, f"line {number}: {problem}")
            return None
        return line_dict

    @override
    def process_lines(
        self, file_input: t.IO[t.Any] | None, callbacks: dict[str, t.Callable[[dict], None]]
    ) -> t.Counter[str]:
        stats: t.Counter[str] = t.Counter()
        filein = file_input or sys.stdin
        for entry in read_lines(filein, self.max_line_bytes):
            number = entry.number
            self.line_number = number
            if entry.data is not None and not entry.data.strip():
                continue
            line_dict = self.decode_line(number, entry.data, entry.size)
            if line_dict is None:
                stats["invalid"] += 1
                continue
            record_type = line_dict["type"]
            callback = callbacks.get(record_type)
            if callback is None:
                if self.target is not None:
                    self.target.logger.warning(
                        "Ignoring a message of unknown type %r.", record_type
                    )
                stats["unknown"] += 1
                continue
            try:
                callback(line_dict)
            except TargetAbort:
                raise
            except LINE_ERRORS as error:
                self._bad_line(
                    line_dict,
                    self._current_message or "",
                    f"line {number}: {type(error).__name__}: {error}",
                )
            stats[record_type] += 1
        return stats

    def _bad_line(self, message: dict | None, line: str, reason: str) -> None:
        target = self.target
        if target is None:
            raise InvalidInputLine(reason)
        target.handle_bad_line(message, line, reason)


class TargetPendo(Target):
    """Writes Singer records to Pendo: visitor/account/parent-account metadata and track events."""

    name = "target-pendo"
    package_name = "pendo-singer"
    default_sink_class = MetadataSink
    message_reader_class = TolerantReader

    config_jsonschema = th.PropertiesList(
        th.Property(
            "integration_key",
            th.StringType,
            secret=True,
            title="Integration key",
            description="Pendo integration key with write access (Settings > Integrations > Integration Keys). Needed for metadata streams.",
        ),
        th.Property(
            "track_event_secret",
            th.StringType,
            secret=True,
            title="Track Event Shared Secret",
            description="The app's Track Event Shared Secret (Settings > Subscription Settings > app > App Details). Needed for track-event streams; not the integration key.",
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
            description="Track-event endpoint; overrides the region's (default: `api_url` + /data/track when `api_url` is set).",
        ),
        th.Property(
            "streams",
            th.ObjectType(additional_properties=STREAM_SCHEMA),
            description="Per input stream: what it becomes in Pendo. Streams named visitors, accounts, parent_accounts or track_events need no entry; `*` applies to every other stream.",
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
            description="How values for Pendo `time` (Date) fields are sent: ISO 8601 in UTC (`2026-01-02T03:04:05.000Z`, the form Pendo's docs show) or epoch milliseconds (the form Pendo returns them in). Input values may be either.",
        ),
        th.Property(
            "error_isolation",
            th.StringType(allowed_values=["auto", "bisect"]),
            default="auto",
            description='How records Pendo reports errors for are found in a batch: `auto` uses error texts that name one record\'s id when the counts agree, else splits the batch; `bisect` splits unless an error item names its record in an id field (`{"visitorId": ...}`).',
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
            description="Client-side rate limit over all requests (Pendo throttles around 100/s per endpoint).",
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
            description="Track events sent per visitor per second at most (an older Pendo article gives one a second as the only limit, and Pendo answers 200 either way); other visitors' events flow meanwhile. 0 turns the pacing off.",
        ),
        th.Property(
            "dead_letter_path",
            th.StringType,
            default="target-pendo-dead-letter.jsonl",
            description="JSON-lines file for records that could not be written (stream, record, reason, Pendo's error text).",
        ),
        th.Property(
            "max_line_bytes",
            th.IntegerType,
            default=DEFAULT_MAX_LINE_BYTES,
            description="Longest input line read, in bytes (64 MB); a longer line is dead-lettered with its line number without being read into memory.",
        ),
        th.Property(
            "dry_run",
            th.BooleanType,
            default=False,
            description="Validate, convert and log what would be sent; write nothing to Pendo.",
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
            "progress_interval_seconds",
            th.NumberType,
            default=DEFAULT_INTERVAL_SECONDS,
            description="Seconds between progress lines in the log (`visitors: 120000 received, 119500 done (updated 119000, missing 500), 4012 rec/s`, one per stream); 0 turns them off.",
        ),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:  # noqa: ANN401
        super().__init__(*args, **kwargs)
        self.max_parallelism = 1  # sinks drain one after the other; a failure stops cleanly
        self.dry_run = bool(self.config.get("dry_run", False))
        self.redactor = Redactor(
            [
                self.integration_key,
                self.track_secret,
                *url_secrets(self.config.get("api_url")),
                *url_secrets(self.config.get("track_url")),
            ]
        )
        install_log_redaction(self.redactor)
        self.ledger = Ledger(
            DeadLetterFile(
                self.config.get("dead_letter_path") or "target-pendo-dead-letter.jsonl",
                redact=self.redactor,
            ),
            dry_run=self.dry_run,
        )
        self.writers: list[MetadataWriter] = []
        self._schemas: dict[str, dict[str, dict[str, str]]] = {}
        self._schema_lock = threading.Lock()
        self._specs: dict[str, StreamSpec] = {}
        self._emitted_state: t.Any = None
        self.batches_written = 0  # counted by the sinks; see _process_record_message
        self.aborted: str | None = None
        interval = self.config.get("progress_interval_seconds")
        self.progress = ProgressReporter(
            self.ledger,
            self.logger,
            DEFAULT_INTERVAL_SECONDS if interval is None else float(interval),
        )
        if isinstance(self.message_reader, TolerantReader):
            self.message_reader.target = self
        self._check_config()

    # -- configuration ------------------------------------------------------------------

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The schema's checks, after refusing a secret that cannot be Pendo's (whitespace,
        control or non-ASCII characters; the message names the setting, never the value) and
        naming settings the target does not know in one warning."""
        known = copy.deepcopy(self.config_jsonschema)
        self.append_builtin_config(known)
        unknown = unknown_settings_message(self._config, known["properties"], plugin=self.name)
        if unknown:
            self.logger.warning("%s", unknown)
        problems = secret_problems(self._config)
        if problems and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=problems)
        for setting in ("api_url", "track_url"):
            warning = plain_http_warning(setting, self._config.get(setting))
            if warning:
                self.logger.warning("%s", warning)
        return problems + super()._validate_config(raise_errors=raise_errors)

    @override
    def _process_schema_message(self, message_dict: dict) -> None:
        super()._process_schema_message(message_dict)
        keys = message_dict.get("key_properties")
        self.ledger.key_properties[message_dict["stream"]] = list(keys or [])

    @property
    def integration_key(self) -> str | None:
        return self.config.get("integration_key") or None

    @property
    def track_secret(self) -> str | None:
        return self.config.get("track_event_secret") or None

    @property
    def time_format(self) -> str:
        # Pendo's only documented Date value is ISO 8601 ("2006-01-02T15:04:05.999-05:00").
        return self.config.get("time_format") or "iso"

    @property
    def max_concurrent_requests(self) -> int:
        return max(1, int(self.config.get("max_concurrent_requests") or 1))

    @property
    def track_concurrency(self) -> int:
        return max(1, int(self.config.get("track_concurrency") or 8))

    @property
    def track_per_visitor(self) -> float:
        value = self.config.get("track_events_per_visitor_per_second")
        return max(0.0, float(1 if value is None else value))

    @cached_property
    def track_pacer(self) -> VisitorPacer:
        return VisitorPacer(self.track_per_visitor)

    @cached_property
    def track_url(self) -> str:
        return resolve_track_url(
            self.config.get("region"), self.config.get("api_url"), self.config.get("track_url")
        )

    def _check_config(self) -> None:
        if self.integration_key and self.track_secret and self.integration_key == self.track_secret:
            msg = (
                "`track_event_secret` is the same as `integration_key`. They are different secrets "
                "and not interchangeable: the Track Event Shared Secret is under Settings > "
                "Subscription Settings > your app > App Details; the integration key under "
                "Settings > Integrations > Integration Keys."
            )
            raise TargetAbort(msg)
        load_method = self.config.get("load_method")
        if load_method == "overwrite":
            msg = (
                "`load_method: overwrite` is not supported: Pendo metadata writes set values on "
                "existing visitors/accounts and track events append; nothing can be replaced wholesale. "
                "Use `upsert` (the default) or `append-only`."
            )
            raise TargetAbort(msg)
        try:
            resolve_api_base(self.config.get("region"), self.config.get("api_url"))
        except ValueError as error:
            raise TargetAbort(str(error)) from None
        for name in self.config.get("streams") or {}:
            self.stream_spec(name)

    @cached_property
    def _client_pair(self) -> t.Any:  # noqa: ANN401
        return build_client(
            base_url=resolve_api_base(self.config.get("region"), self.config.get("api_url")),
            integration_key=self.integration_key,
            max_requests_per_second=float(self.config.get("max_requests_per_second") or 20),
            dry_run=self.dry_run,
            pool_size=max(self.track_concurrency, self.max_concurrent_requests),
            request_timeout=float(self.config.get("request_timeout") or 300),
            max_retries=int(self.config.get("max_retries") or 8),
            retry_backoff_seconds=float(self.config.get("retry_backoff_seconds") or 1.0),
        )

    @property
    def client(self) -> t.Any:  # noqa: ANN401
        return self._client_pair[0]

    @property
    def session(self) -> t.Any:  # noqa: ANN401
        return self._client_pair[1]

    def stream_spec(self, stream_name: str) -> StreamSpec:
        if stream_name not in self._specs:
            try:
                self._specs[stream_name] = resolve_stream_spec(
                    stream_name, self.config.get("streams")
                )
            except StreamConfigError as error:
                raise TargetAbort(str(error)) from None
        return self._specs[stream_name]

    @override
    def get_sink_class(self, stream_name: str) -> type[Sink]:
        if is_meltano_test(stream_name, self.config.get("streams")):
            return MeltanoTestSink
        return TrackEventSink if self.stream_spec(stream_name).is_track else MetadataSink

    def kind_and_id_key(self, obj: str) -> tuple[str, str]:
        if obj == "visitor":
            return "visitor", "visitorId"
        if obj == "account":
            return "account", "accountId"
        return (
            self.config.get("parent_account_kind") or "parentAccount",
            self.config.get("parent_account_id_key") or "accountId",
        )

    def pendo_fields(self, kind: str, group: str) -> dict[str, str]:
        """Field name -> Pendo type of one metadata group, from `GET /api/v1/metadata/schema/{kind}`
        (read once per kind per run)."""
        with self._schema_lock:
            if kind not in self._schemas:
                if not self.integration_key:
                    msg = "Metadata streams need `integration_key` (a Pendo integration key with write access)."
                    raise TargetAbort(msg)
                what = f"metadata schema read (GET /api/v1/metadata/schema/{kind})"
                try:
                    raw = self.client.get_json(f"/api/v1/metadata/schema/{kind}", what=what)
                except (PendoAuthError, PendoTLSError, PendoUnreachableError) as error:
                    raise TargetAbort(str(error)) from None
                except PendoFatalError as error:
                    hint = (
                        " Check `parent_account_kind`."
                        if kind not in ("visitor", "account")
                        else ""
                    )
                    raise TargetAbort(f"{error}.{hint}") from None
                except PendoRetriableError as error:
                    raise TargetAbort(
                        f"Could not read Pendo's {kind} metadata schema: {error}"
                    ) from None
                schema: dict[str, dict[str, str]] = {}
                for grp, fields in (raw or {}).items() if isinstance(raw, dict) else []:
                    if not isinstance(fields, dict):
                        continue
                    schema[grp] = {
                        name: str((desc or {}).get("Type", (desc or {}).get("type", "")) or "")
                        for name, desc in fields.items()
                        if not (
                            isinstance(desc, dict)
                            and (desc.get("isDeleted") or desc.get("is_deleted"))
                        )
                    }
                self._schemas[kind] = schema
            return dict(self._schemas[kind].get(group, {}))

    # -- input problems -----------------------------------------------------------------

    def handle_bad_line(self, message: dict | None, line: str, reason: str) -> None:
        number = getattr(self.message_reader, "line_number", None) or None
        if message is not None and message.get("type") == "RECORD":
            stream = message.get("stream")
            self.logger.error("Record of stream %r not written: %s", stream, reason)
            self.ledger.reject_line(
                stream if isinstance(stream, str) else None,
                message.get("record"),
                reason,
                line=number,
            )
            return
        self.ledger.bad_lines += 1
        if message is None:
            # It may have been a record: keep the raw line in the dead-letter file.
            self.ledger.reject_line(None, line.rstrip("\n")[:100_000], reason, line=number)
            self.ledger.bad_lines -= 1
        self.logger.error("Input line not processed: %s: %.300s", reason, line.rstrip("\n"))

    # -- STATE --------------------------------------------------------------------------

    def _pending_records(self) -> int:
        sinks = [*self._sinks_active.values(), *self._sinks_to_clear]
        return sum(s.current_size for s in sinks)

    def _maybe_emit_state(self) -> None:
        """Emit the latest STATE now when no record received before it is still pending."""
        if (
            self._latest_state
            and self._latest_state != self._emitted_state
            and self._pending_records() == 0
        ):
            self._write_state_message(self._latest_state)

    def _process_state_message(self, message_dict: dict) -> None:
        super()._process_state_message(message_dict)
        self._maybe_emit_state()

    def _process_record_message(self, message_dict: dict) -> None:
        batches = self.batches_written
        super()._process_record_message(message_dict)
        if self._latest_state is not None and self._latest_state != self._emitted_state:
            if self.batches_written != batches and self._pending_records():
                # A full sink was just written while a STATE waits on records other sinks
                # still hold (interleaved streams, or a finished stream's last partial
                # batch): write those too, so the STATE goes out and a restart from it
                # re-sends at most about one batch per stream.
                self.drain_all()
            self._maybe_emit_state()

    def _write_state_message(self, state: dict) -> None:
        """Only after every record before this STATE has an outcome (drained, confirmed by
        Pendo, or synced to the dead-letter file); never after the run has been stopped."""
        if self.aborted is not None or state == self._emitted_state:
            return  # stopped, or this STATE already went out
        self.ledger.dead_letters.sync()
        self._emitted_state = copy.deepcopy(state)
        text = state_json(state)
        self.logger.debug("Emitting completed target state %s", text)
        sys.stdout.write(f"{text}\n")
        sys.stdout.flush()

    # -- end of run ---------------------------------------------------------------------

    def listen(self, file_input: t.IO[str] | None = None) -> None:
        self.progress.start()
        try:
            super().listen(file_input)
        finally:
            self.progress.stop()

    def process_endofpipe(self) -> None:
        super().process_endofpipe()
        self.finish()

    def finish(self) -> None:
        self.progress.stop()
        self.ledger.dead_letters.close()
        self.ledger.print_summary()
        session = self.__dict__.get("_client_pair")
        if session is not None:
            client, sess = session
            self.logger.info(
                "HTTP: %d requests (%d writes, %d reads), %d retries; %d metadata requests, %d batch splits.",
                client.calls,
                sess.writes,
                sess.reads,
                client.retries,
                sum(w.requests for w in self.writers),
                sum(w.splits for w in self.writers),
            )
        unaccounted = sum(r["unaccounted"] for r in self.ledger.summary_rows())
        if unaccounted:
            self.logger.error(
                "%d records have no outcome: this is a bug in target-pendo.", unaccounted
            )

    def abort(self, reason: str) -> None:
        """Stop: every record received but not yet written goes to the dead-letter file
        and no further STATE is emitted, so a restart from the last STATE re-sends them."""
        self.aborted = reason
        self.logger.error("Stopping: %s", reason)
        for item in list(self.ledger.unsettled.values()):
            self.ledger.reject(
                item, f"not written: the run stopped ({reason})", payload=item.payload
            )
        for sink in [*self._sinks_active.values(), *self._sinks_to_clear]:
            if isinstance(sink, TrackEventSink) and hasattr(sink, "pool"):
                sink.pool.shutdown(wait=True, cancel_futures=True)
        self.finish()

    @override
    @classmethod
    def get_singer_command(cls) -> click.Command:
        """The SDK's command, plus `--test` (as taps have): a read-only connection check."""
        command = super().get_singer_command()
        command.params.append(
            click.Option(
                ["--test"],
                is_flag=True,
                default=False,
                help=(
                    "Check the configuration against Pendo without writing anything (key, "
                    "metadata schemas, track URL) and print a report; exit 1 if a check failed."
                ),
            )
        )
        return command

    @property
    def failed(self) -> bool:
        return self.aborted is not None or self.ledger.failed > 0

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: t.Any = None,  # noqa: ANN401
        file_input: t.IO[str] | None = None,
        test: bool = False,
    ) -> None:
        """The SDK's invoke, plus: a clear message instead of a traceback when the run must
        stop, the summary, and a non-zero exit when anything was not written; `--test`
        checks the configuration against Pendo without writing (target_pendo/probe.py)."""
        if about:
            cls.print_about(about_format)
            sys.exit(0)
        cls.print_version(print_fn=cls.logger.info)
        config = config or _ConfigInput()
        try:
            target = cls(
                config=config.config, validate_config=True, parse_env_config=config.parse_env
            )
        except TargetAbort as error:
            cls.logger.error("target-pendo cannot start: %s", error)  # noqa: TRY400
            sys.stderr.write(f"target-pendo: {error}\n")
            sys.exit(2)
        if test:
            report = run_probe(dict(target.config), target.redactor)
            sys.stdout.write(report.render() + "\n")
            sys.stdout.flush()
            sys.exit(0 if report.ok else 1)
        try:
            target.listen(file_input)
        except TargetAbort as error:
            target.abort(str(error))
            sys.stderr.write(target.redactor(f"target-pendo stopped: {error}\n"))
            sys.exit(1)
        except Exception as error:  # noqa: BLE001 - report, account, exit non-zero
            target.logger.exception("Unexpected error")
            target.abort(f"unexpected error: {type(error).__name__}: {error}")
            sys.stderr.write(
                target.redactor(
                    f"target-pendo stopped by an unexpected error: {type(error).__name__}: {error}\n"
                )
            )
            sys.exit(1)
        if target.failed:
            sys.stderr.write(
                f"target-pendo: {target.ledger.failed} record(s) or line(s) could not be written; "
                f"see {target.ledger.dead_letters.path}\n"
            )
            sys.exit(1)


__all__ = ["PendoSink", "TargetPendo"]

if __name__ == "__main__":
    TargetPendo.cli()
