"""visitor_history: `GET /api/v1/visitor/{id}/history?starttime=<ms>`, per visitor per day.

It costs one call per visitor per day, so it is not selected by default and reads nothing
unless `visitor_history_enabled` is true (whatever the catalog selects), and it only visits
visitors Pendo updated since the stream's bookmark: the visitors source filtered on the
server by `metadata.auto.lastupdated`, read in pages sorted by (lastupdated, visitorId).

Calls run on a bounded thread pool (`visitor_history_concurrency`); results are emitted in
submission order, so "every visitor before this one is complete" is known exactly and the
bookmark (the `lastupdated` of the first visitor not yet complete; a restart re-reads it
and its ties, never skips one) is written every few hundred visitors. No fixed sleeps: the
shared client backs off only on 429/5xx.
"""

from __future__ import annotations

import base64
import re
import typing as t
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cached_property
from urllib.parse import quote as url_quote

from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from pendo_http.errors import PendoAuthError, PendoError, PendoFatalError
from tap_pendo.client import PendoStream
from tap_pendo.events.row_key import ROW_KEY, RowKey
from tap_pendo.events.windows import DAY_MS
from tap_pendo.filters import keyset_after, literal
from tap_pendo.keyset import Cursor, KeysetPaginator, SourceTimeBound

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

LASTUPDATED = "metadata.auto.lastupdated"
HISTORY_MAX_DAYS = 180  # Pendo keeps about 180 days of visitor activity (pendo-api.md §7.2)
SAVE_EVERY_VISITORS = 200
# Days read for each visitor on a first run without start_date.
DEFAULT_START_DAYS = 30
BASE64_HEADER = "x-pendo-base64-encoded-params"
# The path of a history call, for metrics: never the visitor id itself.
HISTORY_ENDPOINT = "/api/v1/visitor/{visitorId}/history"
URL_SAFE_ID = re.compile(r"[A-Za-z0-9._~-]+")  # RFC 3986 unreserved characters


class VisitorHistoryStream(PendoStream):
    """Each changed visitor's history, day by day; opt-in, one request per visitor and day."""

    name = "visitor_history"
    selected_by_default = False
    opt_in_setting = "visitor_history_enabled"
    opt_in_cost = (
        "one request per visitor updated since its bookmark, per day since then or since "
        "`start_date` (at most 180 days): 1,000 changed visitors over 30 days are 30,000 requests"
    )
    replication_key = "visitorLastUpdated"
    is_sorted = False
    primary_keys = (ROW_KEY,)
    row_key = RowKey(
        (
            "visitorId",
            "appId",
            "type",
            "ts",
            "lastTs",
            "pageId",
            "featureId",
            "guideId",
            "guideStepId",
            "untaggedUrl",
            "uri",
        )
    )
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    schema = th.PropertiesList(
        row_key.schema_property(),
        th.Property("visitorId", th.StringType, description="The visitor the history belongs to."),
        th.Property(
            "visitorLastUpdated",
            th.IntegerType,
            description="The visitor's metadata.auto.lastupdated.",
        ),
        th.Property("type", th.StringType),
        th.Property("ts", th.IntegerType),
        th.Property("lastTs", th.IntegerType),
        th.Property("duration", th.IntegerType),
        th.Property("pageId", th.StringType),
        th.Property("featureId", th.StringType),
        th.Property("guideId", th.StringType),
        th.Property("guideStepId", th.StringType),
        th.Property("appId", th.IntegerType),
        th.Property("uri", th.StringType),
        th.Property("untaggedUrl", th.StringType),
        th.Property(
            "parsedUserAgent",
            th.ObjectType(
                th.Property("name", th.StringType),
                th.Property("version", th.StringType),
                th.Property("os", th.StringType),
                additional_properties=True,
            ),
        ),
    ).to_dict()

    @override
    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        """Disabled: the bookmark is the first visitor not yet complete (see module docstring)."""

    def _save_bookmark(self, value: int, days_from: int | None = None) -> None:
        state = self.get_context_state(None)
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = value
        # Mid-run, the remaining visitors still need the days this run started from.
        if days_from is None:
            state.pop("days_from", None)
        else:
            state["days_from"] = days_from
        self.write_checkpoint()

    def _days(self, bookmark: int | None) -> range:
        """The `starttime` of each day to read for every changed visitor.

        From the bookmark (minus the lookback) or start_date, capped at Pendo's ~180 days of
        history; an interrupted run's remaining visitors still need the days it started from.
        """
        now = self.now_ms()
        start_date = self.start_date_ms
        if bookmark is not None:
            first_day = bookmark - self.lookback_days * DAY_MS
        else:
            first_day = start_date or now - DEFAULT_START_DAYS * DAY_MS
        first_day = max(first_day, now - HISTORY_MAX_DAYS * DAY_MS)
        if start_date is not None:
            first_day = max(first_day, start_date)
        days_from = self.get_context_state(None).get("days_from")
        if days_from is not None and bookmark is not None:
            first_day = min(first_day, int(days_from))
        return range(first_day, now, DAY_MS)

    # -- visitors to visit -------------------------------------------------------------------

    @cached_property
    def time_bound(self) -> SourceTimeBound:
        """The visitors source's timeSeries bound, dropped for the run once Pendo refuses it."""
        return SourceTimeBound("visitors")

    def _visitors_pipeline(self, cursor: Cursor) -> list[dict[str, t.Any]]:
        params = None if self.config.get("include_anonymous_visitors") else {"identified": True}
        steps: list[dict[str, t.Any]] = [{"source": {"visitors": params}}]
        if cursor.id is None:
            if cursor.sort is not None:
                steps.append({"filter": f"{LASTUPDATED} >= {literal(cursor.sort)}"})
        elif cursor.sort is None:  # nulls sort first
            steps.append(
                {
                    "filter": f"(isNull({LASTUPDATED}) && visitorId > {literal(cursor.id)})"
                    f" || !isNull({LASTUPDATED})"
                }
            )
        else:
            steps.append({"filter": keyset_after(LASTUPDATED, "visitorId", cursor.sort, cursor.id)})
        steps += [
            {"select": {"visitorId": "visitorId", "lastupdated": LASTUPDATED}},
            {"sort": ["lastupdated", "visitorId"]},
        ]
        return steps

    def _changed_visitors(self, since: int | None) -> t.Iterator[Visitor]:
        """Visitors updated since `since` (every visitor when None), in key order, paged."""
        paginator = KeysetPaginator(
            self.client,
            what="visitors changed (visitor_history)",
            pipeline=self._visitors_pipeline,
            cursor_of=lambda row: Cursor(row.get("lastupdated"), row["visitorId"]),
            page_size=self.page_size,
            start=Cursor(since, None),
            time_bound=self.time_bound,
        )
        for row in paginator:
            yield Visitor(row["visitorId"], row.get("lastupdated"))

    # -- history calls -----------------------------------------------------------------------

    # Cleared when Pendo does not take base64 ids (then ids are percent-encoded).
    base64_ids = True

    def _history(self, visitor_id: str, starttime: int) -> list[dict[str, t.Any]]:
        what = f"visitor history ({starttime})"
        params = {"starttime": starttime}
        if URL_SAFE_ID.fullmatch(visitor_id) or not self.base64_ids:
            path = f"/api/v1/visitor/{url_quote(visitor_id, safe='')}/history"
            items = self.client.get_json(path, what=what, params=params, endpoint=HISTORY_ENDPOINT)
            return items if isinstance(items, list) else []
        # Pendo's header for ids that are not URL-safe: the path carries the id base64-encoded.
        encoded = base64.urlsafe_b64encode(visitor_id.encode()).decode()
        try:
            items = self.client.get_json(
                f"/api/v1/visitor/{encoded}/history",
                what=what + " (base64 id)",
                params=params,
                headers={BASE64_HEADER: "true"},
                endpoint=HISTORY_ENDPOINT,
            )
        except PendoFatalError as error:
            if error.status not in (400, 404) or isinstance(error, PendoAuthError):
                raise
            path = f"/api/v1/visitor/{url_quote(visitor_id, safe='')}/history"
            items = self.client.get_json(path, what=what, params=params, endpoint=HISTORY_ENDPOINT)
            if self.base64_ids:
                self.base64_ids = False
                self.logger.info(
                    "%s: Pendo answered %d to a base64 visitor id but took it percent-encoded; "
                    "percent-encoding ids from now on",
                    self.name,
                    error.status,
                )
        return items if isinstance(items, list) else []

    # -- the run ------------------------------------------------------------------------------

    def _calls(self, visitors: t.Iterable[Visitor], days: range) -> t.Iterator[HistoryCall]:
        """Every (visitor, day) call, in order; a visitor with no day to read still gets one
        (empty) call, so it still counts as complete.
        """
        for visitor in visitors:
            if not days:
                yield HistoryCall(visitor, None, completes_visitor=True)
            for day in days:
                yield HistoryCall(visitor, day, completes_visitor=day == days[-1])

    @override
    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        bookmark = self.bookmark_ms(None)
        days = self._days(bookmark)
        workers = max(1, int(self.config.get("visitor_history_concurrency") or 4))
        add_row_key = self.row_key.add_to
        tracker = BookmarkTracker()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="visitor-history") as pool:
            pending = _Submitter(
                pool,
                self._history,
                self._calls(self._changed_visitors(bookmark), days),
                workers * 2,
            )
            while pending:
                call, future = pending.take()
                try:
                    items = future.result()
                except PendoError as error:
                    pending.cancel()
                    self.fail(error)
                for item in items:
                    item["visitorId"] = call.visitor.id
                    item["visitorLastUpdated"] = call.visitor.lastupdated
                    yield add_row_key(item)
                if call.completes_visitor:
                    due = tracker.complete(call.visitor, pending.head())
                    if due is not None:
                        self._save_bookmark(due, days.start)
        if tracker.max_seen is not None:
            # All changed visitors are done; ties on max_seen are re-read next time (>=).
            self._save_bookmark(tracker.max_seen)


class Visitor(t.NamedTuple):
    """A visitor whose history is read, with its metadata.auto.lastupdated."""

    id: str
    lastupdated: int | None


class HistoryCall(t.NamedTuple):
    """One history call: a visitor's day (None: no day to read)."""

    visitor: Visitor
    day: int | None
    completes_visitor: bool


class _Submitter:
    """Keeps up to `depth` calls submitted to `pool`, handed back in submission order."""

    def __init__(
        self,
        pool: ThreadPoolExecutor,
        history: t.Callable[[str, int], list[dict[str, t.Any]]],
        calls: t.Iterator[HistoryCall],
        depth: int,
    ) -> None:
        self._pool = pool
        self._history = history
        self._calls = calls
        self._depth = depth
        self._pending: deque[tuple[HistoryCall, Future[list[dict[str, t.Any]]]]] = deque()
        self._fill()

    def __bool__(self) -> bool:
        return bool(self._pending)

    def _fill(self) -> None:
        while len(self._pending) < self._depth:
            call = next(self._calls, None)
            if call is None:
                return
            if call.day is None:
                future: Future[list[dict[str, t.Any]]] = Future()
                future.set_result([])
            else:
                future = self._pool.submit(self._history, call.visitor.id, call.day)
            self._pending.append((call, future))

    def take(self) -> tuple[HistoryCall, Future[list[dict[str, t.Any]]]]:
        """The oldest call and its result; the queue is topped up first."""
        head = self._pending.popleft()
        self._fill()
        return head

    def head(self) -> Visitor | None:
        """The visitor of the oldest call still queued."""
        return self._pending[0][0].visitor if self._pending else None

    def cancel(self) -> None:
        for _, future in self._pending:
            future.cancel()


class BookmarkTracker:
    """When to save the bookmark: every `SAVE_EVERY_VISITORS` complete visitors."""

    def __init__(self) -> None:
        self.max_seen: int | None = None
        self._since_save = 0

    def complete(self, visitor: Visitor, next_visitor: Visitor | None) -> int | None:
        """Count `visitor` complete; the bookmark to save now, if one is due.

        Every visitor before `next_visitor` (the first still queued) is complete, so its
        `lastupdated` is a bookmark a restart re-reads from without skipping anyone.
        """
        if visitor.lastupdated is None:
            return None
        lastupdated = visitor.lastupdated
        self.max_seen = lastupdated if self.max_seen is None else max(self.max_seen, lastupdated)
        self._since_save += 1
        if self._since_save < SAVE_EVERY_VISITORS or next_visitor is None:
            return None
        if next_visitor.lastupdated is None:
            return None
        self._since_save = 0
        return next_visitor.lastupdated
