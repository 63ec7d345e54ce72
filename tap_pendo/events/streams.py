"""Event streams (issue 3): events, page/feature/track/guide/poll events, visitor_history.

Every event stream reads Pendo in time windows (`tap_pendo.events.windows` explains how
windows are aligned to the subscription's local periods without knowing its timezone):

* one aggregation per window covers every page, feature or track type of every selected app
  (`appId: expandAppIds("*")` or the `app_ids` list), never one query per entity;
* a window Pendo refuses as too large (400 "exceeded memory limit") or times out (408/504
  after retries) is split in halves and retried; a single refused day is read as its hours,
  between the day's exact local bounds, which Pendo itself gives (`date(y, m, d)` probes,
  `_day_bounds`), so 23- and 25-hour days are covered exactly; a refused single hour stops
  the sync with a clear error rather than dropping it;
  a body broken mid-stream re-reads the window and skips the rows already emitted (by rowKey);
* the bookmark (STATE) moves only after a whole window has been emitted, so a run killed at
  any moment and restarted from its last STATE line re-reads at most one window.

The SDK would advance the bookmark itself, per record, to the largest replication value
seen; rows inside a window are unordered, so that would skip unemitted rows after a kill.
These streams therefore switch off the per-record increment and write the bookmark at
window boundaries (`_save_bookmark`).
"""

from __future__ import annotations

import datetime as dt
import typing as t
from itertools import pairwise

import orjson
from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from pendo_http.errors import (
    TRIES_BEFORE_SPLIT,
    PendoError,
    PendoQueryTooLarge,
    PendoRedirectError,
    PendoRetriableError,
    suggests_smaller_query,
)
from pendo_http.times import to_ms
from tap_pendo.client import PendoStream
from tap_pendo.events.aggregate import Aggregation
from tap_pendo.events.bounds import exclusive_end
from tap_pendo.events.emitted import EmittedKeys
from tap_pendo.events.prefetch import PrefetchWindows
from tap_pendo.events.row_key import ROW_KEY, RowKey
from tap_pendo.events.visitor_history import VisitorHistoryStream
from tap_pendo.events.windows import (
    DAY_MS,
    HOUR_MS,
    MAX_WINDOW_DAYS,
    PERIOD_FIELD,
    PERIOD_MS,
    Window,
    plan_windows,
    recentre,
)

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

DEFAULT_START_DAYS = 30
DEFAULT_HOURLY_LAG_HOURS = 8

# -- schemas ---------------------------------------------------------------------------------

_OBJECT_OR_STRING = th.CustomType({"type": ["object", "string", "null"]})

_AGGREGATED_COMMON = [
    th.Property("visitorId", th.StringType, description="Visitor id."),
    th.Property("accountId", th.StringType, description="Account id."),
    th.Property("appId", th.IntegerType, description="Pendo application id."),
    th.Property(
        "day",
        th.IntegerType,
        description=(
            "Start of the subscription-local day (epoch ms) when `period` is dayRange. For a day "
            "Pendo refused to aggregate whole, rows are hourly and `day` equals `hour`."
        ),
    ),
    th.Property(
        "hour", th.IntegerType, description="Start of the local hour (epoch ms): hourRange rows."
    ),
    th.Property("server", th.StringType),
    th.Property("remoteIp", th.StringType),
    th.Property("userAgent", th.StringType),
    th.Property("numEvents", th.IntegerType),
    th.Property("numMinutes", th.IntegerType),
    th.Property("lastTime", th.IntegerType, description="Last update of the aggregate (epoch ms)."),
]
# What distinguishes two aggregated rows besides the entity (pageId, featureId, ...). Both
# period fields: a day Pendo refused whole comes as hour rows whose `day` equals `hour`.
_AGGREGATED_KEY = (
    "visitorId",
    "accountId",
    "appId",
    "server",
    "remoteIp",
    "userAgent",
    "day",
    "hour",
)


def _aggregated_row_key(*entity_fields: str) -> RowKey:
    return RowKey((*entity_fields, *_AGGREGATED_KEY))


def _aggregated_schema(row_key: RowKey, *extra: th.Property[t.Any]) -> dict[str, t.Any]:
    return th.PropertiesList(row_key.schema_property(), *extra, *_AGGREGATED_COMMON).to_dict()


_ROW_EVENT_COMMON = [
    th.Property("visitorId", th.StringType),
    th.Property("accountId", th.StringType),
    th.Property("accountIds", th.ArrayType(th.StringType)),
    th.Property("appId", th.IntegerType),
    th.Property("guideId", th.StringType),
    th.Property("guideStepId", th.StringType),
    th.Property("type", th.StringType),
    th.Property("browserTime", th.IntegerType, description="Event time in the browser (epoch ms)."),
    th.Property("guideTimestamp", th.IntegerType),
    th.Property("url", th.StringType),
    th.Property("remoteIp", th.StringType),
    th.Property("serverName", th.StringType),
    th.Property("userAgent", th.StringType),
    th.Property("country", th.StringType),
    th.Property("region", th.StringType),
    th.Property("latitude", th.NumberType),
    th.Property("longitude", th.NumberType),
    th.Property("loadTime", th.IntegerType),
    th.Property("pollId", th.StringType),
    th.Property(
        "pollResponse",
        th.StringType,
        description=(
            "The visitor's answer, as text: free text as sent, a numeric (e.g. NPS) answer as its "
            "digits. One type, so SQL targets get one column type for every kind of poll."
        ),
    ),
]
# One row per event and no event id: every field that describes the event itself.
_ROW_EVENT_KEY = (
    "guideId",
    "guideStepId",
    "visitorId",
    "accountId",
    "appId",
    "type",
    "browserTime",
    "guideTimestamp",
    "url",
    "remoteIp",
    "serverName",
    "userAgent",
    "loadTime",
)


# -- the windowed base -----------------------------------------------------------------------


class WindowedEventStream(PrefetchWindows, PendoStream):
    """An aggregation source read window by window, bookmarked at window boundaries."""

    source: str = ""
    is_sorted = False
    # Aggregated rows carry exact period starts (`day`/`hour`) that can re-centre the window
    # estimates when a response has no `startTime`; one-row-per-event sources do not.
    learns_from_rows = True
    primary_keys = (ROW_KEY,)
    row_key: RowKey
    # Rows come straight from Pendo's JSON with the schema's types; skip per-record conformance.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    # -- settings ----------------------------------------------------------------------------

    @property
    def period(self) -> str:
        """The timeSeries period of the stream's windows."""
        return "dayRange"

    @property
    def window_days(self) -> int:
        days = int(self.config.get("event_window_days") or 1)
        return max(1, min(MAX_WINDOW_DAYS, days))

    @property
    def periods_per_window(self) -> int:
        return self.window_days * (DAY_MS // PERIOD_MS[self.period])

    @property
    def lookback_periods(self) -> int:
        return self.lookback_days * (DAY_MS // PERIOD_MS[self.period])

    def settled_ms(self, now: int) -> int:
        """Events before this instant are taken as final: the bookmark never moves past it.

        Estuary measured that Pendo serves an hour's events only 4-6 hours later and holds
        back 8 hours; whole days are never bookmarked before they end (`plan_windows`).
        """
        lag = self.config.get("event_lag_hours")
        if lag is None:
            lag = DEFAULT_HOURLY_LAG_HOURS if self.period == "hourRange" else 0
        return now - int(max(0.0, float(lag)) * HOUR_MS)

    @override
    def now_ms(self) -> int:
        """Now, or just before the period that contains `end_date` (an exclusive end, so
        date-range partitions meet without overlap).
        """
        now = super().now_ms()
        end = to_ms(self.config.get("end_date"))
        if end is None or end > now:
            return now
        return exclusive_end(self, end)

    # -- state -------------------------------------------------------------------------------

    @override
    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        """Disabled: the bookmark moves at window boundaries only (see module docstring)."""

    def _bookmark(self) -> int | None:
        state = self.get_context_state(None)
        if state.get("replication_key") not in self._bookmark_keys():
            return None
        return to_ms(state.get("replication_key_value"))

    def _bookmark_keys(self) -> tuple[str, ...]:
        return (self.replication_key,) if self.replication_key else ()

    def _save_bookmark(self, value: int) -> None:
        state = self.get_context_state(None)
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = value
        self.write_checkpoint()

    def _start_cursor(self, now: int) -> int:
        period_ms = PERIOD_MS[self.period]
        start_date = to_ms(self.config.get("start_date"))
        if start_date is None:
            start_date = now - DEFAULT_START_DAYS * DAY_MS
        # `first = start_date` selects the period containing start_date.
        floor = start_date - period_ms // 2
        bookmark = self._bookmark()
        if bookmark is None:
            return floor
        return max(floor, bookmark - self.lookback_periods * period_ms)

    # -- reading -----------------------------------------------------------------------------

    def pipeline(self, window: Window) -> list[dict[str, t.Any]]:
        return [
            {
                "source": {
                    self.source: {"appId": self.app_id_param},
                    "timeSeries": window.time_series(),
                }
            }
        ]

    def prepare_row(self, row: dict[str, t.Any], window: Window) -> dict[str, t.Any]:
        return self.row_key.add_to(row)

    @override
    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        period = self.period
        period_ms = PERIOD_MS[period]
        now = self.now_ms()
        settled = self.settled_ms(now)
        previous = self._bookmark()
        cursor = self._start_cursor(now)
        with self._prefetching(cursor, now):
            while cursor <= now:
                count, complete = plan_windows(cursor, now, period, self.periods_per_window)
                window = Window(period, cursor, count)
                exact = yield from self._emit(window)
                if exact is not None:
                    cursor = recentre(cursor, exact, period_ms)
                final = plan_windows(cursor, settled, period, count)[1] if settled > cursor else 0
                bookmark = cursor + min(complete, final) * period_ms
                self._save_bookmark(bookmark if previous is None else max(previous, bookmark))
                if complete < count:
                    break
                cursor += count * period_ms

    def _emit(self, window: Window) -> t.Generator[dict[str, t.Any], None, int | None]:
        """Emit every row of `window`; returns the exact start of its first period if learned."""
        attempt = 0
        what = f"{self.source} aggregation ({window.label()})"
        period_field = PERIOD_FIELD[window.period]
        learn_from_rows = window.period == self.period and self.learns_from_rows
        already = EmittedKeys()
        # A window that can be split is split after a few 5xx/timeouts, before giving up.
        tries = TRIES_BEFORE_SPLIT if window.split() else None
        while True:
            aggregation = self._aggregation(window, what, max_tries=tries)
            rows = iter(aggregation)
            emitted = 0
            smallest: int | None = None
            try:
                for row in rows:
                    if learn_from_rows and aggregation.start_time is None:
                        value = row.get(period_field)
                        if value is not None and (smallest is None or value < smallest):
                            smallest = value
                    row = self.prepare_row(row, window)
                    key = row[ROW_KEY]
                    if key in already:
                        continue
                    already.add(key)
                    emitted += 1
                    yield row
            except PendoQueryTooLarge as error:
                return (yield from self._split(window, error))
            except PendoRetriableError as error:
                if not aggregation.sent:
                    if suggests_smaller_query(error):
                        return (yield from self._split(window, error))
                    if tries is not None:
                        tries = None  # not about size (a dropped connection): full retries
                        continue
                    self.fail(error)
                # The body broke mid-stream: read the window again, skipping the rows emitted.
                attempt = 1 if emitted else attempt + 1
                self.logger.warning(
                    "%s: the response broke after %d rows; re-reading the window, "
                    "skipping the %d rows already emitted",
                    what,
                    emitted,
                    len(already),
                )
                already.start_reread()
                try:
                    self.client.backoff(attempt, error)
                except PendoRetriableError as final:
                    self.fail(final)
                continue
            if window.period != self.period:
                return None
            return aggregation.start_time if aggregation.start_time is not None else smallest

    def _split(
        self, window: Window, error: PendoError
    ) -> t.Generator[dict[str, t.Any], None, int | None]:
        parts = window.split()
        if not parts:
            self.fail(error)
        if window.period == "dayRange" and window.count == 1:
            # One whole day refused: read its hours. The day's exact bounds matter here (the
            # next whole-day window starts at the real next midnight), so ask Pendo for them.
            bounds = self._day_bounds(window)
            if bounds is not None:
                start, end = bounds
                parts = [Window("hourRange", start, (end - start) // HOUR_MS)]
                self.logger.warning(
                    "%s: Pendo refused the day %s (%s); reading its %d hours",
                    self.name,
                    start,
                    error,
                    parts[0].count,
                )
                yield from self._emit(parts[0])
                return start
        self.logger.warning(
            "%s: Pendo refused %s (%s); splitting it in %d",
            self.name,
            window.label(),
            error,
            len(parts),
        )
        exact: int | None = None
        for index, part in enumerate(parts):
            learned = yield from self._emit(part)
            if index == 0:
                exact = learned
        return exact

    def _period_start(self, expression: str) -> int | None:
        """Pendo's own value of a period-start expression (`date(y, m, d)` is local midnight in
        the subscription's timezone): the `startTime` of a one-hour, zero-row aggregation.
        """
        pipeline: list[dict[str, t.Any]] = [
            {
                "source": {
                    self.source: {"appId": self.app_id_param},
                    "timeSeries": {"period": "hourRange", "first": expression, "count": 1},
                }
            },
            {"limit": 0},
        ]
        probe = Aggregation(
            self.client, pipeline, what=f"{self.source} period probe ({expression})"
        )
        for _ in probe:
            pass
        return probe.start_time

    def _day_bounds(self, window: Window) -> tuple[int, int] | None:
        """Exact [start, end) of the local day Pendo picks for `window.first`, or None."""
        hint = window.first
        utc = dt.datetime.fromtimestamp(hint / 1000, tz=dt.timezone.utc).date()
        starts: dict[dt.date, int] = {}
        try:
            for offset in (-1, 0, 1, 2):  # the local date is the UTC date +-1 (offsets < 24h)
                day = utc + dt.timedelta(days=offset)
                value = self._period_start(f"date({day.year}, {day.month}, {day.day})")
                if value is None:
                    return None
                starts[day] = value
        except PendoRedirectError:
            raise
        except PendoError as error:
            self.logger.warning(
                "%s: cannot learn the day's bounds (%s); using estimates", self.name, error
            )
            return None
        ordered = sorted(starts.values())
        for first, following in pairwise(ordered):
            if first <= hint < following:
                return first, following
        return None


class AggregatedEventStream(WindowedEventStream):
    """Aggregated rows (one per visitor x account x entity x period x server x IP x agent)."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.replication_key = PERIOD_FIELD[self.period]

    @property
    @override
    def period(self) -> str:
        return self.config.get("period") or "dayRange"

    @override
    def _bookmark_keys(self) -> tuple[str, ...]:
        # A bookmark written under the other period is still an (estimated) period start.
        return ("day", "hour")

    @override
    def prepare_row(self, row: dict[str, t.Any], window: Window) -> dict[str, t.Any]:
        if window.period != self.period:
            # Hour rows of a day Pendo refused whole: `day` carries the hour so keys stay unique.
            row["day"] = row["hour"]
        return self.row_key.add_to(row)


class EventsStream(AggregatedEventStream):
    """Page and feature events together, one row per aggregate."""

    name = "events"
    source = "events"
    row_key = _aggregated_row_key("pageId", "featureId", "trackTypeId", "parameters")
    schema = _aggregated_schema(
        row_key,
        th.Property("pageId", th.StringType, description="Page id (page rows)."),
        th.Property("featureId", th.StringType, description="Feature id (feature rows)."),
        th.Property("trackTypeId", th.StringType),
        th.Property(
            "parameters", _OBJECT_OR_STRING, description="Tracked URL parameters (page rows)."
        ),
    )

    @override
    def prepare_row(self, row: dict[str, t.Any], window: Window) -> dict[str, t.Any]:
        # A row is a page row or a feature row; both columns are always present (one null).
        if "pageId" not in row:
            row["pageId"] = None
        if "featureId" not in row:
            row["featureId"] = None
        return super().prepare_row(row, window)


class PageEventsStream(AggregatedEventStream):
    """Page events, one row per aggregate."""

    name = "page_events"
    source = "pageEvents"
    row_key = _aggregated_row_key("pageId", "parameters")
    schema = _aggregated_schema(
        row_key,
        th.Property("pageId", th.StringType),
        th.Property(
            "parameters", _OBJECT_OR_STRING, description="Tracked URL parameters of the page."
        ),
    )


class FeatureEventsStream(AggregatedEventStream):
    """Feature events, one row per aggregate."""

    name = "feature_events"
    source = "featureEvents"
    row_key = _aggregated_row_key("featureId")
    schema = _aggregated_schema(row_key, th.Property("featureId", th.StringType))


class TrackEventsStream(AggregatedEventStream):
    """Track events, one row per aggregate."""

    name = "track_events"
    source = "trackEvents"
    row_key = _aggregated_row_key("trackTypeId")
    schema = _aggregated_schema(
        row_key,
        th.Property("trackTypeId", th.StringType),
        th.Property("properties", th.ObjectType(additional_properties=True)),
    )


class GuideEventsStream(WindowedEventStream):
    """One row per guide event; windows of whole days; bookmark on `browserTime`."""

    name = "guide_events"
    source = "guideEvents"
    replication_key = "browserTime"
    row_key = RowKey(_ROW_EVENT_KEY)
    schema = th.PropertiesList(row_key.schema_property(), *_ROW_EVENT_COMMON).to_dict()
    learns_from_rows = False  # browserTime is not a period start

    @override
    def prepare_row(self, row: dict[str, t.Any], window: Window) -> dict[str, t.Any]:
        response = row.get("pollResponse")
        if response is not None and not isinstance(response, str):
            row["pollResponse"] = orjson.dumps(response).decode()
        return super().prepare_row(row, window)


class PollEventsStream(GuideEventsStream):
    """One row per poll answer; windows and bookmark as guide_events."""

    name = "poll_events"
    source = "pollEvents"
    row_key = RowKey(("pollId", "pollResponse", *_ROW_EVENT_KEY))
    schema = th.PropertiesList(row_key.schema_property(), *_ROW_EVENT_COMMON).to_dict()


def event_streams(tap: t.Any) -> list[PendoStream]:
    """The event streams: the aggregated ones, guide and poll events, and visitor history."""
    return [
        EventsStream(tap),
        PageEventsStream(tap),
        FeatureEventsStream(tap),
        TrackEventsStream(tap),
        GuideEventsStream(tap),
        PollEventsStream(tap),
        VisitorHistoryStream(tap),
    ]
