"""Keyset paging over Pendo aggregations: the one paginator every keyset reader uses.

Pendo's aggregations have no page token. A reader sorts by (sort field, id) and asks each
page for the rows strictly after the last (sort value, id) it emitted, filtered on the
server; ties on the sort value are broken by the id, so rows sharing one value neither repeat
nor vanish across pages. Like the SDK's paginators (`singer_sdk.pagination`), the paginator
holds the progress (`current_value`) and knows when it is `finished`; unlike them it also
owns the recovery a page needs:

* a body broken mid-read is re-requested from the last row emitted (`PendoClient.resumable`);
* a page Pendo refuses as too big (or times out on, a few times) is asked again smaller;
* a source Pendo refuses to bound with a timeSeries is read with the filter alone.
"""

from __future__ import annotations

import logging
import typing as t
from dataclasses import dataclass

from pendo_http import PendoFatalError, PendoQueryTooLarge, PendoRetriableError
from pendo_http.errors import TRIES_BEFORE_SPLIT, suggests_smaller_query

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from pendo_http import PendoClient

logger = logging.getLogger("tap-pendo")

MIN_PAGE_SIZE = 100
# Pendo's answers to a timeSeries it does not take inside an entity source.
_REFUSED_BOUND = (400, 422)


class Cursor(t.NamedTuple):
    """Where a keyset read stands: the last row's sort value and id (None: not yet known)."""

    sort: t.Any
    id: str | None


NO_CURSOR = Cursor(None, None)


@dataclass
class SourceTimeBound:
    """A timeSeries bound on update time inside an entity source, while Pendo takes it.

    Estuary's production connector puts a timeSeries (hourRange, first..now()) inside the
    visitors/accounts source so Pendo does not scan the whole table for each page. Owned by
    the stream, so one refusal holds for the rest of the run.
    """

    source_name: str
    enabled: bool = True

    def apply(self, pipeline: list[dict[str, t.Any]], since: int) -> None:
        """Bound the pipeline's source (its first step) to updates from `since` on."""
        source = pipeline[0]["source"]
        params = dict(source.get(self.source_name) or {})
        params["timeSeries"] = {"period": "hourRange", "first": int(since), "last": "now()"}
        source[self.source_name] = params


class KeysetPaginator:
    """The rows of a keyset-paged aggregation, page after page, from `start`.

    `pipeline(cursor)` builds a page's steps up to and including its sort (the source first,
    then the filter the cursor implies); the paginator bounds the source in time when
    `time_bound` is given and the cursor has a sort value, and adds the page's `limit`.
    `cursor_of(row)` reads a row's position. `on_full_page` runs after every full page (a
    point a killed run can resume from).
    """

    def __init__(
        self,
        client: PendoClient,
        *,
        what: str,
        pipeline: Callable[[Cursor], list[dict[str, t.Any]]],
        cursor_of: Callable[[dict[str, t.Any]], Cursor],
        page_size: int,
        start: Cursor = NO_CURSOR,
        time_bound: SourceTimeBound | None = None,
        on_full_page: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.what = what
        self._pipeline = pipeline
        self._cursor_of = cursor_of
        self.page_size = max(1, page_size)
        self.current_value = start
        self.time_bound = time_bound
        self._on_full_page = on_full_page
        self.finished = False

    def __iter__(self) -> Iterator[dict[str, t.Any]]:
        return self.client.resumable(self._remaining_pages, what=self.what)

    def page_pipeline(self) -> tuple[list[dict[str, t.Any]], bool]:
        """The next page's pipeline, and whether its source is bounded in time."""
        pipeline = self._pipeline(self.current_value)
        since = self.current_value.sort
        bounded = self.time_bound is not None and self.time_bound.enabled and since is not None
        if bounded:
            t.cast("SourceTimeBound", self.time_bound).apply(pipeline, since)
        pipeline.append({"limit": self.page_size})
        return pipeline, bounded

    def _remaining_pages(self) -> Iterator[dict[str, t.Any]]:
        while not self.finished:
            yield from self._page()

    def _page(self) -> Iterator[dict[str, t.Any]]:
        page_size = self.page_size
        pipeline, bounded = self.page_pipeline()
        # A page that can shrink is shrunk after a few 5xx/timeouts, before giving up.
        tries = TRIES_BEFORE_SPLIT if page_size > MIN_PAGE_SIZE else None
        rows = 0
        try:
            for row in self.client.aggregate(pipeline, what=self.what, max_tries=tries):
                rows += 1
                self.current_value = self._cursor_of(row)
                yield row
        except PendoFatalError as error:
            if not bounded or rows or error.status not in _REFUSED_BOUND:
                raise
            self._unbound(error)
            return
        except (PendoQueryTooLarge, PendoRetriableError) as error:
            if rows or not self._shrink(error):
                raise
            return
        if rows < page_size:
            self.finished = True
        elif self._on_full_page is not None:
            self._on_full_page()

    def _unbound(self, error: PendoFatalError) -> None:
        bound = t.cast("SourceTimeBound", self.time_bound)
        bound.enabled = False
        logger.info(
            "%s: Pendo refused a timeSeries in the %s source (%s); reading with the filter alone",
            self.what,
            bound.source_name,
            error,
        )

    def _shrink(self, error: PendoQueryTooLarge | PendoRetriableError) -> bool:
        """Ask for smaller pages from here on, when the error says the page was too big."""
        if self.page_size <= MIN_PAGE_SIZE:
            return False
        if isinstance(error, PendoRetriableError) and not suggests_smaller_query(error):
            return False
        refused = self.page_size
        self.page_size = max(MIN_PAGE_SIZE, refused // 4)
        logger.warning(
            "%s refused with limit %d (%s); retrying with %d",
            self.what,
            refused,
            error,
            self.page_size,
        )
        return True
