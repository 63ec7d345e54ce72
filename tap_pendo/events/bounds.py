"""`end_date` as an exclusive bound that meets another run's `start_date` exactly.

A run with `start_date: X` starts with the period containing X (Pendo rounds `first` down to
that period's start, in the subscription's timezone). A run with `end_date: X` must therefore
stop at the period before it, and where that local period starts only Pendo knows: it answers
a zero-row aggregation over the period containing X with that period's exact `startTime`.
The stream reads as if "now" were the last millisecond before it: the period containing that
instant is read (and, being the last, left un-bookmarked so a rerun reads it again), the
period containing X is not.
"""

from __future__ import annotations

import typing as t

from pendo_http.errors import PendoQueryTooLarge, PendoRetriableError
from tap_pendo.events.aggregate import Aggregation
from tap_pendo.events.windows import DAY_MS, Window

if t.TYPE_CHECKING:
    from tap_pendo.events.streams import WindowedEventStream


def exclusive_end(stream: WindowedEventStream, end: int) -> int:
    """The last instant `stream` reads: just before the period containing `end`."""
    pipeline: list[dict[str, t.Any]] = [
        {
            "source": {
                stream.source: {"appId": stream.app_id_param},
                "timeSeries": {"period": stream.period, "first": end, "count": 1},
            }
        },
        {"limit": 0},
    ]
    what = f"{stream.source} end_date period probe"
    attempt = 0
    while True:
        probe = Aggregation(stream.client, pipeline, what=what)
        try:
            for _ in probe:
                pass
            break
        except PendoQueryTooLarge:
            # Even an empty day is refused on this subscription: ask for the day's bounds by
            # the hour-range probes the stream uses for a refused day.
            bounds = stream._day_bounds(Window("dayRange", end - DAY_MS // 2, 1))
            probe.start_time = bounds[0] if bounds is not None else None
            break
        except PendoRetriableError as error:
            if not probe.sent:
                stream.fail(error)
            attempt += 1
            try:
                stream.client.backoff(attempt, error)
            except PendoRetriableError as final:
                stream.fail(final)
    if probe.start_time is None:
        stream.logger.warning(
            "%s: Pendo gave no startTime for the period of end_date; reading up to end_date",
            stream.name,
        )
        return end
    return min(end, probe.start_time - 1)
