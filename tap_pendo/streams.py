"""Entity streams (issue 2): accounts, visitors, pages, features, guides, track_types, reports,
metadata_fields.

Replication keys are Pendo's epoch-millisecond integers. For visitors and accounts the key
lives at `metadata.auto.lastupdated`; it is also copied to a top-level `lastupdated` so the
SDK can bookmark it and targets get a plain bigint column. Both stay integers: the bookmark is
then exactly the value the server-side filter compares with.
"""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Iterable, Iterator
from functools import cached_property

from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from pendo_http import PendoError, PendoFatalError
from pendo_http.metadata_schema import (
    METADATA_KINDS,
    REQUIRED_KINDS,
    STOPPING_ERRORS,
    read_metadata_schema,
    schema_path,
)
from tap_pendo import schemas
from tap_pendo.client import PendoStream, stop
from tap_pendo.filters import keyset_after, quote
from tap_pendo.keyset import Cursor, KeysetPaginator, SourceTimeBound
from tap_pendo.metadata_values import TimeValueReader, time_fields

if t.TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context, Record

logger = logging.getLogger("tap-pendo")

LASTUPDATED = "metadata.auto.lastupdated"
# Extra key kept in the stream's STATE next to replication_key_value: the id of the last row
# emitted at that timestamp, so the next run continues the keyset exactly (no repeats at ties).
LAST_ID_KEY = "last_id"


# -- metadata schemas (shared by discovery and the metadata_fields stream) --------------------


def fetch_metadata_schemas(tap: Tap) -> dict[str, dict[str, t.Any] | None]:
    """`GET /api/v1/metadata/schema/{kind}` for every kind, once per tap.

    None for a kind the subscription lacks (404, typical for parentAccount) or whose schema
    could not be read: discovery then falls back to permissive metadata instead of crashing.
    A refused key stops the tap with the one-line auth message.
    """
    cached: dict[str, dict[str, t.Any] | None] | None = tap.__dict__.get("_pendo_metadata_schemas")
    if cached is not None:
        return cached
    result: dict[str, dict[str, t.Any] | None] = {}
    for kind in METADATA_KINDS:
        try:
            schema = read_metadata_schema(tap.client, kind)  # type: ignore[attr-defined]
        except STOPPING_ERRORS as error:
            # Discovery stops here rather than write a loosely typed catalog.
            stop(f"tap-pendo: {error}")
        except PendoFatalError as error:
            if error.status != 404:
                logger.warning(
                    "Cannot read the %s metadata schema, typing it loosely: %s", kind, error
                )
            result[kind] = None
            continue
        except PendoError as error:
            # Pendo is unreachable: do not spend the whole retry budget again per kind.
            logger.warning("Cannot read the metadata schemas, typing metadata loosely: %s", error)
            result.update({k: result.get(k) for k in METADATA_KINDS})
            break
        if schema is None and kind not in REQUIRED_KINDS:
            logger.info("No %s metadata schema: GET %s answered 403/404", kind, schema_path(kind))
        result[kind] = schema.raw if schema is not None else None
    tap.__dict__["_pendo_metadata_schemas"] = result
    return result


# -- visitors and accounts: aggregation, keyset paging on (lastupdated, id) --------------------


class KeysetAggregationStream(PendoStream):
    """An aggregation source read in keyset pages of `page_size` rows.

    Pages are ordered by `sort [metadata.auto.lastupdated, <id>]` and each page asks for rows
    strictly after the last (lastupdated, id) emitted, filtered on the server. Ties on the
    timestamp are broken by the id, so rows sharing one timestamp neither repeat nor vanish
    across pages. A body broken mid-read resumes after the last row emitted.
    """

    id_field: str = ""
    source_name: str = ""
    # The metadata schema kind of the records (None: records without Pendo metadata).
    metadata_kind: str | None = None
    replication_key = "lastupdated"
    is_sorted = True
    # Records are Pendo's parsed JSON and the schema is open (additionalProperties), so
    # conformance has nothing to change; skipping it is the biggest per-record saving.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def source_step(self) -> dict[str, t.Any]:
        raise NotImplementedError

    def base_pipeline(self) -> list[dict[str, t.Any]]:
        return [self.source_step()]

    @cached_property
    def time_bound(self) -> SourceTimeBound:
        """The source's timeSeries bound, dropped for the run once Pendo refuses it."""
        return SourceTimeBound(self.source_name)

    def _paginator(
        self,
        *,
        what: str,
        condition: t.Callable[[Cursor], str | None],
        sort: list[str],
        cursor_of: t.Callable[[dict[str, t.Any]], Cursor],
        start: Cursor,
        bounded: bool = False,
    ) -> KeysetPaginator:
        """Keyset pages; `condition(cursor)` builds the filter from progress;
        `bounded`: progress is an update time, also sent as a timeSeries on the source.
        """

        def pipeline(cursor: Cursor) -> list[dict[str, t.Any]]:
            steps = self.base_pipeline()
            expression = condition(cursor)
            if expression:
                steps.append({"filter": expression})
            steps.append({"sort": sort})
            return steps

        return KeysetPaginator(
            self.client,
            what=what,
            pipeline=pipeline,
            cursor_of=cursor_of,
            page_size=self.page_size,
            start=start,
            time_bound=self.time_bound if bounded else None,
            # The page's last (lastupdated, id) is a point a killed run resumes from exactly.
            on_full_page=self.write_checkpoint,
        )

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        bookmark = self.bookmark_ms(context)
        start_date = self.start_date_ms
        try:
            if bookmark is None:
                # First (or full) run: rows without lastupdated too, whatever start_date says.
                yield from self._null_rows()
                yield from self._changed_rows(start_date, None)
            elif start_date is not None and start_date > bookmark:
                yield from self._changed_rows(start_date, None)
            else:
                yield from self._changed_rows(bookmark, self.stream_state.get(LAST_ID_KEY))
        except PendoError as error:
            self.fail(error)

    def _null_rows(self) -> Iterator[Record]:
        """Rows without metadata.auto.lastupdated: read only on a run without a bookmark,
        so incremental runs never re-emit them (they have no value to compare).
        """
        id_field = self.id_field

        def condition(cursor: Cursor) -> str:
            expression = f"isNull({LASTUPDATED})"
            if cursor.id is not None:
                expression += f" && {id_field} > {quote(cursor.id)}"
            return expression

        for row in self._paginator(
            what=f"aggregation on {self.source_name} (rows without lastupdated)",
            condition=condition,
            sort=[id_field],
            cursor_of=lambda row: Cursor(None, row[id_field]),
            start=Cursor(None, None),
        ):
            row["lastupdated"] = None
            yield row

    def _changed_rows(self, start: int | None, last_id: str | None) -> Iterator[Record]:
        """Rows with a lastupdated from `start` on (all when None), after `last_id` at `start`."""
        id_field = self.id_field
        state = self.stream_state

        def condition(cursor: Cursor) -> str:
            if cursor.sort is None:
                # First run, no start_date: every row with a timestamp.
                return f"!isNull({LASTUPDATED})"
            if cursor.id is None:
                # From a bookmark without its id (or start_date): include the boundary.
                return f"{LASTUPDATED} >= {int(cursor.sort)}"
            return keyset_after(LASTUPDATED, id_field, int(cursor.sort), cursor.id)

        def cursor_of(row: dict[str, t.Any]) -> Cursor:
            metadata = row.get("metadata") or {}
            value = (metadata.get("auto") or {}).get("lastupdated")
            row["lastupdated"] = value
            key = row[id_field]
            state[LAST_ID_KEY] = key
            return Cursor(value, key)

        yield from self._paginator(
            what=f"aggregation on {self.source_name}",
            condition=condition,
            sort=[LASTUPDATED, id_field],
            cursor_of=cursor_of,
            start=Cursor(start, last_id),
            bounded=True,
        )

    @cached_property
    def time_values(self) -> TimeValueReader | None:
        """Reads the metadata `time`/`date` values as epoch ms (None: the kind has none)."""
        if self.metadata_kind is None:
            return None
        groups = fetch_metadata_schemas(self._tap).get(self.metadata_kind)
        fields = time_fields(groups)
        if not fields:
            return None
        return TimeValueReader(self.name, self.id_field, fields, self.logger)

    @override
    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        # Time values as epoch ms, whether Pendo returned epoch ms or the ISO text written.
        reader = self.time_values
        return row if reader is None else reader.convert(row)

    @override
    def log_summary(self) -> None:
        reader = self.time_values
        line = None if reader is None else reader.summary()
        if line:
            self.logger.warning("%s", line)

    @override
    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        # Rows without lastupdated carry no bookmark; skip them instead of logging a warning each.
        if latest_record.get(self.replication_key) is None:
            return
        super()._increment_stream_state(latest_record, context=context)


class VisitorsStream(KeysetAggregationStream):
    """Visitors (aggregation source `visitors`); anonymous ones only when configured."""

    name = "visitors"
    id_field = "visitorId"
    metadata_kind: str | None = "visitor"
    primary_keys: t.ClassVar[list[str]] = ["visitorId"]
    source_name = "visitors"

    @override
    def source_step(self) -> dict[str, t.Any]:
        return {"source": {"visitors": None}}

    @override
    def base_pipeline(self) -> list[dict[str, t.Any]]:
        pipeline = [self.source_step()]
        if not self.config.get("include_anonymous_visitors", False):
            pipeline.append({"identified": "visitorId"})
        return pipeline


class AccountsStream(KeysetAggregationStream):
    """Accounts (aggregation source `accounts`) of every app, or of the configured apps."""

    name = "accounts"
    id_field = "accountId"
    metadata_kind: str | None = "account"
    primary_keys: t.ClassVar[list[str]] = ["accountId"]
    source_name = "accounts"

    @override
    def source_step(self) -> dict[str, t.Any]:
        return {"source": {"accounts": {"appId": self.app_id_param}}}


# -- pages, features, guides, track types, reports: GET lists ---------------------------------


class GetListStream(PendoStream):
    """A bare-array GET list, stream-parsed, never truncated.

    Pendo returns these lists unsorted and unpaged; the bookmark (max `lastUpdatedAt`) is
    applied client-side, and the SDK keeps the maximum as it goes (`is_sorted = False`).
    """

    path: str = ""
    primary_keys: t.ClassVar[list[str]] = ["id"]
    replication_key: str | None = "lastUpdatedAt"
    is_sorted = False
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    per_app = True

    def params(self) -> dict[str, t.Any]:
        # `expand=*` returns every app's objects (by default only the default app's);
        # configured app_ids are then applied client-side on `appId`.
        return {"expand": "*"}

    def items(self) -> Iterator[t.Any]:
        from tap_pendo.child_streams import parent_items

        return parent_items(self)

    def read_items(self) -> Iterator[t.Any]:
        # The list's JSON items as Pendo sent them: objects, unless an answer is malformed.
        what = f"GET {self.path}"
        yield from self.client.resumable(
            lambda: self.client.iter_json_items(
                "GET", self.path, prefix="item", what=what, params=self.params()
            ),
            what=what,
        )

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        bookmark = self.bookmark_ms(context)
        start = self.start_date_ms if self.replication_key else None
        filter_apps = self.per_app and self.app_ids is not None
        rk = self.replication_key
        seen: set[t.Any] = set()
        try:
            # A retried (resumable) body restarts the list: `seen` drops rows already emitted.
            for row in self.items():
                if not isinstance(row, dict):
                    continue
                key = row.get("id")
                if key in seen:
                    continue
                seen.add(key)
                if filter_apps and not self.app_selected(row.get("appId")):
                    continue
                if rk:
                    value = row.get(rk)
                    if bookmark is not None and (value is None or value <= bookmark):
                        continue
                    if start is not None and value is not None and value < start:
                        continue
                yield row
        except PendoError as error:
            self.fail(error)


class PagesStream(GetListStream):
    """Pages: incremental on lastUpdatedAt."""

    name = "pages"
    path = "/api/v1/page"
    schema = schemas.PAGE


class FeaturesStream(GetListStream):
    """Features: incremental on lastUpdatedAt."""

    name = "features"
    path = "/api/v1/feature"
    schema = schemas.FEATURE


class GuidesStream(GetListStream):
    """Guides: incremental on lastUpdatedAt."""

    name = "guides"
    path = "/api/v1/guide"
    schema = schemas.GUIDE


class TrackTypesStream(GetListStream):
    """Track types: incremental on lastUpdatedAt."""

    name = "track_types"
    path = "/api/v1/tracktype"
    schema = schemas.TRACK_TYPE


class ReportsStream(GetListStream):
    """Saved reports: full table (a report's lastUpdatedAt is not a reliable change marker
    for its results, and the list is small).
    """

    name = "reports"
    path = "/api/v1/report"
    schema = schemas.REPORT
    replication_key = None
    per_app = False

    @override
    def params(self) -> dict[str, t.Any]:
        return {}


class MetadataFieldsStream(PendoStream):
    """One row per (kind, group, field) of the visitor, account and parent-account schemas."""

    name = "metadata_fields"
    primary_keys: t.ClassVar[list[str]] = ["kind", "group", "field"]
    replication_key = None
    schema = schemas.METADATA_FIELD

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        for kind, groups in fetch_metadata_schemas(self._tap).items():
            for group, fields in (groups or {}).items():
                if not isinstance(fields, dict):
                    continue
                for field, descriptor in fields.items():
                    row = dict(descriptor) if isinstance(descriptor, dict) else {}
                    row.update(kind=kind, group=group, field=field)
                    yield row


def entity_streams(tap: Tap) -> list[PendoStream]:
    """The streams of Pendo's objects, visitors and accounts typed from the metadata schema."""
    metadata = fetch_metadata_schemas(tap)
    return [
        AccountsStream(tap, schema=schemas.account_schema(metadata.get("account"))),
        VisitorsStream(tap, schema=schemas.visitor_schema(metadata.get("visitor"))),
        PagesStream(tap),
        FeaturesStream(tap),
        GuidesStream(tap),
        TrackTypesStream(tap),
        ReportsStream(tap),
        MetadataFieldsStream(tap),
    ]
