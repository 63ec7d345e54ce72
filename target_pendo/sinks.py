"""Sinks: metadata (visitor, account, parent account) and track events.

Both are BatchSinks. A record is checked and converted when it arrives (a record that
cannot be converted goes to the dead-letter file at once, naming the field and why);
`process_batch` sends the batch: track events and sequential metadata writes return with
every record's outcome; concurrent metadata writes return once queued (concurrent.py) and
settle their records as Pendo answers. The run's STATE gate (state_gate.py) lets a STATE out
once every record before it has an outcome, whichever thread settles the last one.
"""

from __future__ import annotations

import contextlib
import heapq
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from singer_sdk.exceptions import InvalidRecord
from singer_sdk.helpers._typing import get_datelike_property_type
from singer_sdk.sinks import BatchSink
from typing_extensions import override

from pendo_http import (
    PendoAuthError,
    PendoFatalError,
    PendoRetriableError,
    PendoTLSError,
    PendoUnreachableError,
)
from target_pendo.abort import TargetAbort
from target_pendo.concurrent import WritePipeline
from target_pendo.convert import (
    MAX_PROPERTIES_JSON_BYTES,
    TRACK_MAX_AGE,
    ConversionError,
    convert_metadata_value,
    dumps,
    hidden_property_reason,
    json_safe,
    strict_json,
    to_epoch_ms,
)
from target_pendo.deletes import MAX_IDS_PER_CALL, BulkDeleter
from target_pendo.ledger import Item
from target_pendo.metadata import MetadataWriter
from target_pendo.run_state import PendoRun, run_of
from target_pendo.streams_config import (
    CONTEXT_CANDIDATES,
    StreamSpec,
    get_path,
    is_deletion,
    pick_id_field,
)
from target_pendo.validation import RecordValidator

if TYPE_CHECKING:
    from collections.abc import Sequence

    from singer_sdk import Target

EVENT_NAME_CANDIDATES = ("event", "event_name", "eventName", "name")
TIMESTAMP_CANDIDATES = (
    "timestamp",
    "time",
    "event_time",
    "occurred_at",
    "created_at",
    "browserTime",
)
ACCOUNT_CANDIDATES = ("accountId", "account_id")
LOG_EXAMPLES = 5


class Rejected(Exception):
    """A record that cannot be sent: why, and which field."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class _CapturingValidator:
    """Wraps the SDK's validator: an invalid record is remembered (and dead-lettered by the
    sink) instead of stopping the run or logging a traceback.
    """

    def __init__(self, inner: Any, sink: PendoSink) -> None:
        self.inner = inner
        self.sink = sink

    def validate(self, record: dict[str, Any]) -> None:
        try:
            self.inner.validate(record)
        except InvalidRecord as error:
            cause = error.__cause__
            path = ".".join(str(p) for p in getattr(cause, "path", ()) or ())
            message = getattr(cause, "message", None) or str(error)
            self.sink._invalid = (
                id(record),
                f"field `{path}`: {message}" if path else message,
                path or None,
            )


class PendoSink(BatchSink):
    """What both sinks share: the stream spec, the ledger, record intake, batch settling."""

    def __init__(
        self,
        target: Target,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: Sequence[str] | None,
    ) -> None:
        self.run: PendoRun = run_of(target)
        self.spec: StreamSpec = self.run.stream_spec(stream_name)
        self.run.ledger.key_properties[stream_name] = list(key_properties or [])
        self._invalid: tuple[int, str, str | None] | None = None
        self._examples_logged = 0
        self._ignored_deletions_logged = False
        self._plain_schema: tuple[dict[str, Any], frozenset[str] | None] | None = None
        super().__init__(target, stream_name, schema, key_properties)
        # The checks that can stop the run (a wrong key, no id field) run here, not in the
        # SDK's `setup()`: the SDK logs "Error initializing target sink" before re-raising
        # whatever `setup()` raises, noise in front of the one line that says what to fix.
        self.check_stream()

    def check_stream(self) -> None:
        """Check the stream's configuration against Pendo; raise TargetAbort when it cannot
        be written.
        """

    # -- SDK hooks ------------------------------------------------------------------------

    @override
    @property
    def max_size(self) -> int:
        """`batch_size_rows` when set, else `batch_size` (records per Pendo request)."""
        return self.batch_size_rows or int(self.config.get("batch_size") or 500)

    @override
    def get_validator(self) -> Any:
        if not self.validate_schema:
            return None
        inner = RecordValidator(self.schema, validate_formats=self.validate_field_string_format)
        return _CapturingValidator(inner, self)

    @override
    def _parse_timestamps_in_record(
        self, record: dict[str, Any], schema: dict[str, Any], treatment: Any
    ) -> None:
        """The SDK's, skipped when it has nothing to do: no date/time property in the schema
        and no field the schema lacks (the SDK walks every field of every record otherwise).
        """
        plain = self._plain_schema
        if plain is None or plain[0] is not schema:
            props = schema.get("properties") or {}
            datelike = any(get_datelike_property_type(p) for p in props.values())
            plain = self._plain_schema = (schema, None if datelike else frozenset(props))
        if plain[1] is None or not plain[1].issuperset(record):
            super()._parse_timestamps_in_record(record, schema, treatment)

    @override
    def _remove_sdc_metadata_from_record(self, record: dict[str, Any]) -> None:
        """The SDK's, except that the deletion marker stays (the SDK drops `_sdc_deleted_at`
        unless `add_record_metadata` is on).
        """
        name = self.spec.deleted_field
        if name not in record:
            super()._remove_sdc_metadata_from_record(record)
            return
        value = record[name]
        super()._remove_sdc_metadata_from_record(record)
        record[name] = value

    @override
    def _remove_sdc_metadata_from_schema(self) -> None:
        properties = self.schema.get("properties") or {}
        name = self.spec.deleted_field
        kept = properties.get(name)
        super()._remove_sdc_metadata_from_schema()
        if kept is not None:
            properties[name] = kept

    @override
    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        item = self.run.ledger.receive(self.stream_name, record)
        if self._invalid is not None:
            record_id, message, field = self._invalid
            self._invalid = None
            if record_id == id(record):
                self.run.ledger.reject(
                    item, f"record does not match the stream's SCHEMA: {message}", field=field
                )
                return
        try:
            if is_deletion(item.record, self.spec.deleted_field):
                self.prepare_deletion(item)
            else:
                self.prepare(item)
        except Rejected as rejected:
            self.run.ledger.reject(item, rejected.reason, field=rejected.field)
            return
        except Exception as error:  # a record must never stop the run
            self.run.ledger.reject(item, f"could not be converted: {type(error).__name__}: {error}")
            return
        if item.outcome is None:  # else settled already (an ignored deletion)
            context.setdefault("items", []).append(item)

    @override
    def process_batch(self, context: dict[str, Any]) -> None:
        items: list[Item] = context.get("items", [])
        self.run.batches_written += 1
        with self.writing():
            if items:
                if self.run.dry_run:
                    self.dry_run_batch(items)
                else:
                    self.send_batch(items)

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Turn an unexpected error into TargetAbort; sync the dead letters either way."""
        try:
            yield
        except TargetAbort:
            raise
        except Exception as error:
            msg = (
                f"Unexpected error while writing stream `{self.stream_name}`: "
                f"{type(error).__name__}: {error}"
            )
            raise TargetAbort(msg) from error
        finally:
            self.run.ledger.dead_letters.sync()

    # -- for subclasses -------------------------------------------------------------------

    def prepare(self, item: Item) -> None:
        raise NotImplementedError

    def prepare_deletion(self, item: Item) -> None:
        """A record whose source row was deleted: with `on_delete: ignore` it is neither
        written nor deleted, and counted as `delete_ignored`.
        """
        if not self._ignored_deletions_logged:
            self._ignored_deletions_logged = True
            self.logger.warning(
                "Stream `%s` has deleted records (`%s` set): neither written nor deleted in Pendo "
                "(on_delete: ignore); the summary counts them as delete_ignored.%s",
                self.stream_name,
                self.spec.deleted_field,
                ""
                if self.spec.is_track or self.spec.object == "parent_account"
                else (
                    f" Set `streams.{self.stream_name}.on_delete: delete` to delete them from "
                    "Pendo."
                ),
            )
        self.run.ledger.settle(item, "delete_ignored")

    def send_batch(self, items: list[Item]) -> None:
        raise NotImplementedError

    def describe_endpoint(self) -> str:
        raise NotImplementedError

    def dry_run_batch(self, items: list[Item]) -> None:
        self.logger.info(
            "[dry run] would send %d record(s) of stream `%s` to %s; first: %s",
            len(items),
            self.stream_name,
            self.describe_endpoint(),
            dumps(items[0].payload).decode()[:1000],
        )
        for item in items:
            self.logger.debug("[dry run] %s", dumps(item.payload).decode())
            self.run.ledger.settle(item, "dry_run")

    @property
    def properties(self) -> dict[str, Any]:
        return self.schema.get("properties") or {}

    def is_own_column(self, name: str) -> bool:
        """Columns never sent as values: Singer's `_sdc_*` and the stream's deletion flag."""
        return name.startswith("_sdc_") or name == self.spec.deleted_field


class MetadataSink(PendoSink):
    """Visitor, account and parent-account metadata: batched `POST .../value` writes."""

    @property
    @override
    def max_size(self) -> int:
        """A batch holds a request's worth of records per concurrent request."""
        return super().max_size * self.run.settings.max_concurrent_requests

    @override
    def check_stream(self) -> None:
        spec = self.spec
        self.kind, self.id_key = self.run.settings.kind_and_id_key(spec.object)
        id_field = pick_id_field(spec, self.properties, list(self.key_properties))
        if id_field is None:
            msg = (
                f"Stream `{self.stream_name}`: no id field for {spec.object} records. Set "
                f'`streams.{self.stream_name}.id_field` (e.g. "id_field": "user_id").'
            )
            raise TargetAbort(msg)
        self.id_field = id_field
        self.field_map = self._field_map()  # source path -> (pendo name, pendo type)
        self.writer = MetadataWriter(
            client=self.run.client,
            ledger=self.run.ledger,
            kind=self.kind,
            group=spec.group,
            id_key=self.id_key,
            create=spec.create,
            logger=self.logger,
            max_tries=self.run.client.retry.max_tries,
        )
        self.writer.attribute_errors = self.config.get("error_isolation", "auto") != "bisect"
        self.run.add_writer(self.writer)
        self.pipeline: WritePipeline | None = None
        if self.run.settings.max_concurrent_requests > 1:
            self.pipeline = WritePipeline(
                self.writer.write,
                self.run.settings.max_concurrent_requests,
                after_each=self.run.state_gate.emit_ready,
            )
            self.run.stop_with_run(self.pipeline.pool)
        self.deleter: BulkDeleter | None = None
        if spec.on_delete == "delete":
            self.deleter = BulkDeleter(
                client=self.run.client,
                ledger=self.run.ledger,
                kind=self.kind,
                logger=self.logger,
                max_tries=self.run.client.retry.max_tries,
            )
        self.logger.info(
            "Stream `%s` -> %s %s metadata (%s, id from `%s`%s): %s",
            self.stream_name,
            spec.object,
            spec.group,
            self.writer.endpoint,
            id_field,
            ", create" if spec.create else ", update-only",
            ", ".join(f"{s}->{n}" for s, (n, _) in self.field_map.items()) or "(no fields)",
        )
        if self.deleter is not None:
            self.logger.info(
                (
                    "Stream `%s`: records with `%s` set are deleted from Pendo (%s, at most %d "
                    "ids a call, one call a second)"
                ),
                self.stream_name,
                spec.deleted_field,
                self.deleter.endpoint,
                MAX_IDS_PER_CALL,
            )

    def _default_sources(self) -> dict[str, str]:
        props = self.properties
        nested = props.get("metadata", {}).get("properties", {}).get(self.spec.group)
        if isinstance(nested, dict) and nested.get("properties"):
            # A tap-pendo visitors/accounts row: {"visitorId", "metadata": {"custom": {...}}}.
            return {
                f"metadata.{self.spec.group}.{name}": name.lower() for name in nested["properties"]
            }
        return {
            name: name.lower()
            for name in props
            if name != self.id_field and not self.is_own_column(name)
        }

    def _field_map(self) -> dict[str, tuple[str, str]]:
        spec = self.spec
        sources = spec.fields if spec.fields is not None else self._default_sources()
        pendo_fields = self.run.pendo_fields(self.kind, spec.group)
        by_lower = {name.lower(): name for name in pendo_fields}
        result: dict[str, tuple[str, str]] = {}
        unknown: list[str] = []
        for source, wanted in sources.items():
            actual = by_lower.get(wanted.lower())
            if actual is None:
                unknown.append(f"{source} -> {wanted}" if source != wanted else wanted)
                continue
            result[source] = (actual, pendo_fields[actual])
        if unknown:
            known = (
                ", ".join(f"{n} ({t or 'untyped'})" for n, t in sorted(pendo_fields.items()))
                or "none"
            )
            msg = (
                f"Stream `{self.stream_name}`: Pendo has no {spec.group} {self.kind} field for "
                f"{', '.join(unknown)}. Create the field in Pendo (Settings > Data Mappings), "
                f"map the column to an existing field with `streams.{self.stream_name}.fields` "
                f'(e.g. {{"{unknown[0].split(" -> ")[0]}": "existing_field"}}), or set '
                f"`ignore_unknown_fields: true` to drop such columns. Existing {spec.group} "
                f"fields: {known}."
            )
            if not spec.ignore_unknown_fields:
                raise TargetAbort(msg)
            self.logger.warning("%s Dropping them (ignore_unknown_fields).", msg)
        return result

    @override
    def describe_endpoint(self) -> str:
        return self.writer.endpoint

    def _take_id(self, item: Item) -> None:
        found, ident = get_path(item.record, self.id_field)
        if not found or ident is None or ident == "":
            msg = f"no {self.spec.object} id: field `{self.id_field}` is missing or empty"
            raise Rejected(msg, field=self.id_field)
        item.id = str(json_safe(ident))

    @override
    def prepare_deletion(self, item: Item) -> None:
        if self.deleter is None:
            super().prepare_deletion(item)
            return
        self._take_id(item)
        item.delete = True
        item.payload = BulkDeleter.payload(self.kind, str(item.id))

    @override
    def dry_run_batch(self, items: list[Item]) -> None:
        writes = [item for item in items if not item.delete]
        deletes = [item for item in items if item.delete]
        if writes:
            super().dry_run_batch(writes)
        if deletes and self.deleter is not None:
            ids = list(dict.fromkeys(str(item.id) for item in deletes))
            self.logger.info(
                "[dry run] would delete %d %s id(s) of stream `%s` (%s, at most %d ids a call): %s",
                len(ids),
                self.kind,
                self.stream_name,
                self.deleter.endpoint,
                MAX_IDS_PER_CALL,
                ", ".join(ids[:20]) + (" …" if len(ids) > 20 else ""),
            )
            for item in deletes:
                self.run.ledger.settle(item, "dry_run")

    @override
    def prepare(self, item: Item) -> None:
        record = item.record
        self._take_id(item)
        values: dict[str, Any] = {}
        time_format = self.run.settings.time_format
        for source, (name, pendo_type) in self.field_map.items():
            present, value = get_path(record, source)
            if not present or value is None:
                continue
            try:
                values[name] = convert_metadata_value(value, pendo_type, time_format=time_format)
            except ConversionError as error:
                msg = (
                    f"field `{source}` (Pendo {self.spec.group} field `{name}`, "
                    f"type {pendo_type or 'unset'}): {error}"
                )
                raise Rejected(msg, field=source) from None
        item.payload = {self.id_key: item.id, "values": values}

    @override
    def send_batch(self, items: list[Item]) -> None:
        size = int(self.config.get("batch_size") or 500)
        for deleting, phase in _phases(items):
            if deleting and self.deleter is not None:
                self.finish_writes()  # a deletion follows every earlier write of its id
                self.deleter.delete(phase)
                continue
            chunks = _chunks_without_repeated_ids(phase, size)
            if self.pipeline is None:
                for chunk in chunks:
                    self.writer.write(chunk)
            else:
                self.pipeline.submit(chunks)

    def finish_writes(self) -> None:
        """Return once every request this sink started has settled its records."""
        if self.pipeline is not None:
            with self.writing():
                self.pipeline.wait()

    @override
    def clean_up(self) -> None:
        """Wait for the requests still in flight, then stop their threads."""
        if self.pipeline is not None:
            with self.writing():
                self.pipeline.close()
        super().clean_up()


def _phases(items: list[Item]) -> list[tuple[bool, list[Item]]]:
    """Writes and deletions of a batch as alternating groups (writes first), as few as the
    order of each id allows: a record goes in the earliest group of its kind that comes after
    the group holding the previous record with the same id. A batch whose ids are either
    written or deleted needs one group of each.
    """
    groups: list[list[Item]] = []  # even: writes, odd: deletions
    last: dict[str | None, int] = {}
    for item in items:
        parity = 1 if item.delete else 0
        previous = last.get(item.id)
        earliest = 0 if previous is None else previous + (previous % 2 != parity)
        index = earliest + (earliest % 2 != parity)
        while len(groups) <= index:
            groups.append([])
        groups[index].append(item)
        last[item.id] = index
    return [(index % 2 == 1, group) for index, group in enumerate(groups) if group]


def _chunks_without_repeated_ids(items: list[Item], size: int) -> list[list[Item]]:
    """Requests of at most `size` records, never two of the same id in one request, so
    Pendo's per-id answer (`missing`, errors) maps to exactly one record, and order holds.
    """
    chunks: list[list[Item]] = []
    current: list[Item] = []
    ids: set[str | None] = set()
    for item in items:
        if len(current) >= size or item.id in ids:
            chunks.append(current)
            current, ids = [], set()
        current.append(item)
        ids.add(item.id)
    if current:
        chunks.append(current)
    return chunks


def _strict(value: Any, field: str) -> Any:
    """`value` as sent to Pendo; a value JSON or Pendo cannot hold rejects the record, naming
    the field.
    """
    try:
        return strict_json(value)
    except ConversionError as error:
        raise Rejected(f"field `{field}`: {error}", field) from None


class TrackEventSink(PendoSink):
    """Track events: one `POST /data/track` per event, through a bounded pool."""

    @override
    def check_stream(self) -> None:
        spec = self.spec
        props = self.properties
        if not self.run.settings.track_secret:
            msg = (
                f"Stream `{self.stream_name}` writes track events, which need the Track Event "
                "Shared Secret: set `track_event_secret` (Settings > Subscription Settings > your "
                "app > App Details). The integration key does not work for track events."
            )
            raise TargetAbort(msg)
        self.visitor_field = pick_id_field(spec, props, None) or "visitorId"
        self.event_field = spec.event_field or (
            None
            if spec.event_name
            else next((c for c in EVENT_NAME_CANDIDATES if c in props), None)
        )
        if not spec.event_name and not self.event_field:
            msg = (
                f"Stream `{self.stream_name}`: no event name. Set "
                f"`streams.{self.stream_name}.event_field` (the column holding the event name) "
                "or `event_name` (one fixed name)."
            )
            raise TargetAbort(msg)
        self.timestamp_field = spec.timestamp_field or next(
            (c for c in TIMESTAMP_CANDIDATES if c in props), "timestamp"
        )
        self.account_field = spec.account_field or next(
            (c for c in ACCOUNT_CANDIDATES if c in props), None
        )
        self.context_sources = dict(spec.context_fields)
        if not self.context_sources and "context" not in props:
            for key, candidates in CONTEXT_CANDIDATES.items():
                source = next((c for c in candidates if c in props), None)
                if source:
                    self.context_sources[key] = source
        used = {
            self.visitor_field,
            self.event_field,
            self.timestamp_field,
            self.account_field,
            "type",
            "context",
        }
        used |= set(self.context_sources.values())
        if spec.properties is not None:
            self.property_sources: dict[str, str] | None = spec.properties
        elif "properties" in props:
            self.property_sources = None  # the record's own `properties` object
        else:
            self.property_sources = {
                n: n for n in props if n not in used and not self.is_own_column(n)
            }
        self.track_url = self.run.track_url
        self.pool = ThreadPoolExecutor(
            max_workers=self.run.settings.track_concurrency,
            thread_name_prefix=f"track-{self.stream_name}",
        )
        self.run.stop_with_run(self.pool)
        self._warned: dict[str, int] = {}
        self.logger.info(
            "Stream `%s` -> track events (POST %s, visitor `%s`, event %s, timestamp `%s`, %d "
            "concurrent, %s)",
            self.stream_name,
            self.track_url,
            self.visitor_field,
            f"`{self.event_field}`" if self.event_field else repr(spec.event_name),
            self.timestamp_field,
            self.run.settings.track_concurrency,
            f"at most {self.run.settings.track_per_visitor:g} a second per visitor"
            if self.run.settings.track_per_visitor
            else "no per-visitor pacing",
        )

    @override
    def describe_endpoint(self) -> str:
        return f"POST {self.track_url} (one request per event)"

    def _warn(self, kind: str, message: str, *args: Any) -> None:
        self.run.ledger.warn(self.stream_name, kind)
        seen = self._warned.get(kind, 0)
        self._warned[kind] = seen + 1
        if seen < LOG_EXAMPLES:
            self.logger.warning(message, *args)
        elif seen == LOG_EXAMPLES:
            self.logger.warning(
                "More %s in stream `%s`; see the summary for the count.",
                kind.replace("_", " "),
                self.stream_name,
            )

    @override
    def prepare(self, item: Item) -> None:
        spec = self.spec
        record = item.record
        found, visitor = get_path(record, self.visitor_field)
        if not found or visitor is None or visitor == "":
            raise Rejected(
                f"no visitor id: field `{self.visitor_field}` is missing or empty",
                self.visitor_field,
            )
        item.id = str(json_safe(visitor))
        if spec.event_name:
            event = spec.event_name
        else:
            _, event = get_path(record, self.event_field or "")
            if event is None or str(event).strip() == "":
                raise Rejected(
                    f"no event name: field `{self.event_field}` is missing or empty",
                    self.event_field,
                )
        found, raw_ts = get_path(record, self.timestamp_field)
        if not found or raw_ts is None or raw_ts == "":
            raise Rejected(
                (
                    f"no timestamp: field `{self.timestamp_field}` is missing or empty (Pendo "
                    "requires one)"
                ),
                self.timestamp_field,
            )
        try:
            timestamp = to_epoch_ms(raw_ts)
        except ConversionError as error:
            raise Rejected(
                f"field `{self.timestamp_field}`: {error}", self.timestamp_field
            ) from None
        payload: dict[str, Any] = {"type": "track", "event": str(event), "visitorId": item.id}
        if self.account_field:
            _, account = get_path(record, self.account_field)
            if account not in (None, ""):
                payload["accountId"] = str(json_safe(account))
        payload["timestamp"] = timestamp
        payload["properties"] = self._properties(record)
        payload["context"] = self._context(record)
        item.payload = payload
        self._check(item, timestamp)

    def _properties(self, record: dict[str, Any]) -> dict[str, Any]:
        if self.property_sources is None:
            value = record.get("properties")
            return _strict(value, "properties") if isinstance(value, dict) else {}
        result = {}
        for source, name in self.property_sources.items():
            present, value = get_path(record, source)
            if present and value is not None:
                result[name] = _strict(value, source)
        return result

    def _context(self, record: dict[str, Any]) -> dict[str, Any]:
        if not self.context_sources:
            value = record.get("context")
            return json_safe(value) if isinstance(value, dict) else {}
        result = {}
        for key, source in self.context_sources.items():
            present, value = get_path(record, source)
            if present and value not in (None, ""):
                result[key] = str(json_safe(value))
        return result

    def _check(self, item: Item, timestamp: int) -> None:
        """Things Pendo accepts with a 200 and then drops or hides (shared/pendo-api.md §5)."""
        payload = item.payload or {}
        age_ms = int(time.time() * 1000) - timestamp
        if age_ms > TRACK_MAX_AGE.total_seconds() * 1000:
            self._warn(
                "old_events",
                "Track event for visitor %s is %.1f days old: Pendo accepts it (HTTP 200) "
                "but does not process events more than 7 days old.",
                item.id,
                age_ms / 86_400_000,
            )
        hidden = {n: r for n in payload["properties"] if (r := hidden_property_reason(n))}
        if hidden:
            self._warn(
                "hidden_properties",
                "Track event properties Pendo will not display (stream `%s`): %s",
                self.stream_name,
                "; ".join(f"`{n}` {r}" for n, r in hidden.items()),
            )
        size = len(dumps(payload["properties"]))
        if size > MAX_PROPERTIES_JSON_BYTES:
            self._warn(
                "large_properties",
                "Track event properties are %d bytes of JSON; Pendo shows more than %d as "
                '"event properties JSON too large".',
                size,
                MAX_PROPERTIES_JSON_BYTES,
            )

    @override
    def send_batch(self, items: list[Item]) -> None:
        """Up to `track_concurrency` events at once, one at a time per visitor in input order,
        each visitor's paced by `track_events_per_visitor_per_second`.
        """
        # An older Pendo track-event article: "The only limit is one Track Event per Visitor
        # per second" (Pendo answers 200 either way, so going faster could lose events silently).
        pacer = self.run.track_pacer
        queues: dict[str | None, deque[Item]] = {}
        for item in items:
            queues.setdefault(item.id, deque()).append(item)
        rank = {visitor: n for n, visitor in enumerate(queues)}
        ready = [(pacer.ready_at(v), rank[v], v) for v in queues]
        heapq.heapify(ready)
        in_flight: dict[Future[None], str | None] = {}
        limit = self.run.settings.track_concurrency
        error: BaseException | None = None
        while (ready and error is None) or in_flight:
            now = time.monotonic()
            while error is None and ready and ready[0][0] <= now and len(in_flight) < limit:
                _, _, visitor = heapq.heappop(ready)
                in_flight[self.pool.submit(self._send_one, queues[visitor].popleft())] = visitor
            if not in_flight:
                time.sleep(max(0.0, ready[0][0] - now))  # every visitor left waits for its slot
                continue
            timeout = None
            if error is None and ready and len(in_flight) < limit:
                timeout = max(0.0, ready[0][0] - now)
            done, _ = wait(in_flight, timeout=timeout, return_when=FIRST_COMPLETED)
            for future in done:
                visitor = in_flight.pop(future)
                pacer.done(visitor)
                failure = future.exception()
                if failure is not None:
                    error = error or failure
                elif queues[visitor]:
                    heapq.heappush(ready, (pacer.ready_at(visitor), rank[visitor], visitor))
        if error is not None:
            raise error

    def _send_one(self, item: Item) -> None:
        what = "track event (POST /data/track)"
        try:
            self.run.client.post_json(
                self.track_url,
                item.payload,
                what=what,
                secret=self.run.settings.track_secret,
                secret_setting="track_event_secret",
            )
        except (
            PendoAuthError,
            PendoTLSError,
            PendoUnreachableError,
        ) as error:  # says what to check
            raise TargetAbort(str(error)) from None
        except PendoFatalError as error:
            self.run.ledger.reject(
                item,
                f"Pendo refused the event (HTTP {error.status})",
                api_error=error.body or str(error),
                payload=item.payload,
            )
        except PendoRetriableError as error:
            self.run.ledger.reject(
                item,
                f"not sent after {self.run.client.retry.max_tries} tries",
                api_error=str(error),
                payload=item.payload,
            )
        else:
            self.run.ledger.settle(item, "sent")

    @override
    def clean_up(self) -> None:
        self.pool.shutdown(wait=True)
        super().clean_up()
