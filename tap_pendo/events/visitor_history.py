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
import time
import typing as t
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import quote as url_quote

from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel

from pendo_http.errors import PendoAuthError, PendoError, PendoFatalError
from tap_pendo.client import PendoStream, to_ms
from tap_pendo.events.row_key import ROW_KEY, RowKey
from tap_pendo.events.windows import DAY_MS
from tap_pendo.filters import keyset_after, literal

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

LASTUPDATED = "metadata.auto.lastupdated"
HISTORY_MAX_DAYS = 180  # Pendo keeps about 180 days of visitor activity (pendo-api.md §7.2)
SAVE_EVERY_VISITORS = 200
BASE64_HEADER = "x-pendo-base64-encoded-params"
URL_SAFE_ID = re.compile(r"[A-Za-z0-9._~-]+")  # RFC 3986 unreserved characters


class VisitorHistoryStream(PendoStream):
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

    def now_ms(self) -> int:
        now = int(time.time() * 1000)
        end = to_ms(self.config.get("end_date"))
        return min(now, end) if end is not None else now

    # -- visitors to visit -------------------------------------------------------------------

    # Cleared when Pendo refuses a timeSeries inside the visitors source (then filter only).
    bound_source = True

    def _visitors_source(self, since: int | None) -> dict | None:
        params: dict[str, t.Any] = {}
        if not self.config.get("include_anonymous_visitors"):
            params["identified"] = True
        if since is not None and self.bound_source:
            # Estuary's production connector bounds entity reads on update time in the source.
            params["timeSeries"] = {"period": "hourRange", "first": int(since), "last": "now()"}
        return params or None

    def _changed_visitors(self, since: int | None) -> t.Iterator[tuple[str, int | None]]:
        """(visitorId, lastupdated) of visitors updated since `since`, in key order, paged."""
        page_size = int(self.config.get("page_size") or 50000)
        last: tuple[int | None, str] | None = None
        while True:
            lower = last[0] if last is not None and last[0] is not None else since
            source = self._visitors_source(lower)
            pipeline: list[dict] = [{"source": {"visitors": source}}]
            if since is not None:
                pipeline.append({"filter": f"{LASTUPDATED} >= {literal(since)}"})
            if last is not None:
                if last[0] is None:  # nulls sort first
                    pipeline.append(
                        {
                            "filter": f"(isNull({LASTUPDATED}) && visitorId > {literal(last[1])})"
                            f" || !isNull({LASTUPDATED})"
                        }
                    )
                else:
                    pipeline.append(
                        {"filter": keyset_after(LASTUPDATED, "visitorId", last[0], last[1])}
                    )
            pipeline += [
                {"select": {"visitorId": "visitorId", "lastupdated": LASTUPDATED}},
                {"sort": ["lastupdated", "visitorId"]},
                {"limit": page_size},
            ]
            n = 0
            rows = self.client.aggregate(pipeline, what="visitors changed (visitor_history)")
            try:
                for row in rows:
                    n += 1
                    lu = row.get("lastupdated")
                    last = (lu, row["visitorId"])
                    yield row["visitorId"], lu
            except PendoFatalError as error:
                bounded = "timeSeries" in (source or {})
                if not bounded or n or error.status not in (400, 422):
                    raise
                self.bound_source = False
                self.logger.info(
                    "%s: Pendo refused a timeSeries in the visitors source (%s); "
                    "reading with the filter alone",
                    self.name,
                    error,
                )
                continue
            if n < page_size:
                return

    # -- history calls -----------------------------------------------------------------------

    # Cleared when Pendo does not take base64 ids (then ids are percent-encoded).
    base64_ids = True

    def _history(self, visitor_id: str, starttime: int) -> list[dict]:
        what = f"visitor history ({starttime})"
        params = {"starttime": starttime}
        if URL_SAFE_ID.fullmatch(visitor_id) or not self.base64_ids:
            path = f"/api/v1/visitor/{url_quote(visitor_id, safe='')}/history"
            items = self.client.get_json(path, what=what, params=params)
            return items if isinstance(items, list) else []
        # Pendo's header for ids that are not URL-safe: the path carries the id base64-encoded.
        encoded = base64.urlsafe_b64encode(visitor_id.encode()).decode()
        try:
            items = self.client.get_json(
                f"/api/v1/visitor/{encoded}/history",
                what=what + " (base64 id)",
                params=params,
                headers={BASE64_HEADER: "true"},
            )
        except PendoFatalError as error:
            if error.status not in (400, 404) or isinstance(error, PendoAuthError):
                raise
            path = f"/api/v1/visitor/{url_quote(visitor_id, safe='')}/history"
            items = self.client.get_json(path, what=what, params=params)
            if self.base64_ids:
                self.base64_ids = False
                self.logger.info(
                    "%s: Pendo answered %d to a base64 visitor id but took it percent-encoded; "
                    "percent-encoding ids from now on",
                    self.name,
                    error.status,
                )
        return items if isinstance(items, list) else []

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        now = self.now_ms()
        state = self.get_context_state(None)
        bookmark = (
            to_ms(state.get("replication_key_value"))
            if state.get("replication_key") == self.replication_key
            else None
        )
        start_date = to_ms(self.config.get("start_date"))
        lookback = max(0, int(self.config.get("lookback_window", 1) or 0)) * DAY_MS
        # Days to read for each changed visitor: from the bookmark (minus the lookback) or
        # start_date, capped at Pendo's ~180 days of history.
        first_day = (
            bookmark - lookback if bookmark is not None else (start_date or now - 30 * DAY_MS)
        )
        first_day = max(first_day, now - HISTORY_MAX_DAYS * DAY_MS)
        if start_date is not None:
            first_day = max(first_day, start_date)
        if state.get("days_from") is not None and bookmark is not None:
            first_day = min(first_day, int(state["days_from"]))  # an interrupted run's days
        days = list(range(first_day, now, DAY_MS))
        workers = max(1, int(self.config.get("visitor_history_concurrency") or 4))

        pending: deque[tuple[str, int, bool, Future]] = deque()
        completed_since_save = 0
        max_seen: int | None = None
        add_row_key = self.row_key.add_to
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="visitor-history") as pool:
            visitors = self._changed_visitors(bookmark)

            def fill() -> None:
                nonlocal visitors
                while len(pending) < workers * 2 and visitors is not None:
                    if not pending or pending[-1][2]:  # previous visitor fully submitted
                        try:
                            vid, lu = next(visitors)
                        except StopIteration:
                            visitors = None
                            return
                        self._queue = iter(days)
                        self._current = (vid, lu)
                    vid, lu = self._current
                    day = next(self._queue, None)
                    if day is None:
                        # A visitor with no day to read: a marker so it still counts as complete.
                        pending.append((vid, lu, True, _done([])))
                        continue
                    last_day = day + DAY_MS >= now
                    pending.append((vid, lu, last_day, pool.submit(self._history, vid, day)))

            fill()
            while pending:
                vid, lu, visitor_done, future = pending.popleft()
                try:
                    items = future.result()
                except PendoError as error:
                    for *_, other in pending:
                        other.cancel()
                    self.fail(error)
                for item in items:
                    item["visitorId"] = vid
                    item["visitorLastUpdated"] = lu
                    yield add_row_key(item)
                if visitor_done and lu is not None:
                    max_seen = lu if max_seen is None else max(max_seen, lu)
                    completed_since_save += 1
                    if (
                        completed_since_save >= SAVE_EVERY_VISITORS
                        and pending
                        and pending[0][1] is not None
                    ):
                        # Everything before the next queued visitor is complete.
                        self._save_bookmark(pending[0][1], first_day)
                        completed_since_save = 0
                fill()
        if max_seen is not None:
            # All changed visitors are done; ties on max_seen are re-read next time (>=).
            self._save_bookmark(max_seen)


def _done(value: t.Any) -> Future:  # noqa: ANN401
    future: Future = Future()
    future.set_result(value)
    return future
