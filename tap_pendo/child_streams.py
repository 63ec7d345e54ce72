"""Applications, segments, and the objects nested in other objects' responses (issue 13).

Child streams (page, feature and track type rules, guide steps, polls, product areas, Pendo
users) are cut out of their parent's GET list, never fetched per parent row. The list is read
once per run: `SharedLists` keeps it while more than one selected stream still needs it (the
parent and its children, or several children) and drops it after the last one. These lists are
Pendo's configuration objects (pages, guides, ...), thousands of rows, not visitors.

visitor_accounts comes from the visitors source through the visitors stream's own keyset pages,
streamed, so it never holds the visitor list (when visitors is selected too, the source is read
once per stream: constant memory instead of a spooled copy).
"""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Iterable, Iterator

from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from pendo_http import PendoAuthError, PendoError, PendoFatalError
from tap_pendo import derived_schemas as schemas
from tap_pendo.client import PendoStream, app_id_value
from tap_pendo.streams import GetListStream, VisitorsStream, fetch_metadata_schemas

if t.TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context, Record

logger = logging.getLogger("tap-pendo")

# Pendo's default app; its per-app metadata group is `auto__323232` (pendo-api.md §3).
DEFAULT_APP_ID = -323232


class SharedLists:
    """One read per run of a GET list that several selected streams consume."""

    def __init__(self, tap: Tap) -> None:
        self._tap = tap
        self._rows: dict[str, list[dict[str, t.Any]]] = {}
        self._pending: dict[str, set[str]] = {}

    def consumers(self, parent: str) -> set[str]:
        """Selected streams reading `parent`'s list: the parent itself and its children."""
        names = set()
        for name, stream in self._tap.streams.items():
            if not stream.selected:
                continue
            if name == parent or parent in getattr(stream, "parents", ()):
                names.add(name)
        return names

    def shared(self, parent: str) -> bool:
        return len(self.consumers(parent)) > 1

    def read(self, parent: GetListStream, consumer: str) -> list[dict[str, t.Any]]:
        name = parent.name
        pending = self._pending.setdefault(name, self.consumers(name) | {consumer})
        rows = self._rows.get(name)
        if rows is None:
            rows = self._rows[name] = _unique(parent.read_items())
        pending.discard(consumer)
        if not pending:
            del self._rows[name]
        return rows


def _unique(items: Iterable[t.Any]) -> list[dict[str, t.Any]]:
    """Rows by first id: a body re-read after a broken connection restarts the list."""
    seen: set[t.Any] = set()
    rows = []
    for row in items:
        if not isinstance(row, dict) or row.get("id") in seen:
            continue
        seen.add(row.get("id"))
        rows.append(row)
    return rows


def shared_lists(tap: Tap) -> SharedLists:
    """The tap's one SharedLists, made on first use."""
    lists = tap.__dict__.get("_pendo_shared_lists")
    if lists is None:
        lists = tap.__dict__["_pendo_shared_lists"] = SharedLists(tap)
    return lists


def parent_items(stream: GetListStream) -> Iterator[t.Any]:
    """A parent stream's list: shared with its selected children, else streamed as before."""
    lists = shared_lists(stream._tap)
    if lists.shared(stream.name):
        yield from lists.read(stream, stream.name)
    else:
        yield from stream.read_items()


class DerivedStream(PendoStream):
    """A stream cut out of one or more parents' GET lists."""

    parents: tuple[str, ...] = ()
    is_sorted = False
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def parent_rows(self, parent: str) -> list[dict[str, t.Any]]:
        stream = self._tap.streams[parent]
        return shared_lists(self._tap).read(t.cast("GetListStream", stream), self.name)

    def rows(self, context: Context | None) -> Iterator[Record]:
        raise NotImplementedError

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        try:
            yield from self.rows(context)
        except PendoError as error:
            self.fail(error)

    def changed(self, value: t.Any, context: Context | None, *, start_date: bool = True) -> bool:
        """True when a row with replication value `value` is new for this stream's bookmark
        (and not older than `start_date`, unless told to ignore it).
        """
        bookmark = self.bookmark_ms(context)
        if bookmark is not None and (value is None or value <= bookmark):
            return False
        start = self.start_date_ms if start_date else None
        return start is None or value is None or value >= start


class ChildStream(DerivedStream):
    """Rows of a list nested in each parent object, keyed by parent id and lastUpdatedAt."""

    parent: str = ""
    parent_label: str = ""  # `page` -> pageId, pageLastUpdatedAt
    child_key: str = ""

    @override
    def __init_subclass__(cls, **kwargs: t.Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.parent:
            cls.parents = (cls.parent,)
            # The SDK types these two as properties, yet documents (and its own streams use)
            # plain class attributes in their place, which is what this sets.
            replication_key = f"{cls.parent_label}LastUpdatedAt"
            cls.replication_key = replication_key  # type: ignore[method-assign,assignment]
            cls.primary_keys = [  # type: ignore[method-assign,assignment]
                f"{cls.parent_label}Id",
                replication_key,
                cls.child_key,
            ]

    def children(self, parent: dict[str, t.Any]) -> Iterator[dict[str, t.Any]]:
        raise NotImplementedError

    @override
    def rows(self, context: Context | None) -> Iterator[Record]:
        parent_stream = t.cast("GetListStream", self._tap.streams[self.parent])
        # The replication key is always set for a child (__init_subclass__).
        id_key, updated_key = f"{self.parent_label}Id", t.cast("str", self.replication_key)
        for parent in self.parent_rows(self.parent):
            updated = parent.get("lastUpdatedAt")
            if parent_stream.per_app and not self.app_selected(parent.get("appId")):
                continue
            if updated is None or not self.changed(updated, context):
                continue
            for row in self.children(parent):
                row[id_key] = parent["id"]
                row[updated_key] = updated
                yield row


def _list(value: t.Any) -> list[t.Any]:
    return value if isinstance(value, list) else []


class PageRulesStream(ChildStream):
    """A page's `rules` (URL rules), one row per position."""

    name = "page_rules"
    parent, parent_label, child_key = "pages", "page", "position"
    schema = schemas.PAGE_RULE

    @override
    def children(self, parent: dict[str, t.Any]) -> Iterator[dict[str, t.Any]]:
        for position, rule in enumerate(_list(parent.get("rules"))):
            if isinstance(rule, dict):
                yield {**rule, "position": position}


class FeatureRulesStream(ChildStream):
    """A feature's `elementPathRules`: CSS selector strings."""

    name = "feature_rules"
    parent, parent_label, child_key = "features", "feature", "position"
    schema = schemas.FEATURE_RULE

    @override
    def children(self, parent: dict[str, t.Any]) -> Iterator[dict[str, t.Any]]:
        for position, rule in enumerate(_list(parent.get("elementPathRules"))):
            yield {"position": position, "rule": rule}


class TrackTypeRulesStream(ChildStream):
    """A track type's `trackTypeRules`, one row per position."""

    name = "track_type_rules"
    parent, parent_label, child_key = "track_types", "trackType", "position"
    schema = schemas.TRACK_TYPE_RULE

    @override
    def children(self, parent: dict[str, t.Any]) -> Iterator[dict[str, t.Any]]:
        for position, rule in enumerate(_list(parent.get("trackTypeRules"))):
            yield {"position": position, "rule": rule}


class GuideStepsStream(ChildStream):
    """The steps of guides, one row per step id."""

    name = "guide_steps"
    parent, parent_label, child_key = "guides", "guide", "id"
    schema = schemas.GUIDE_STEP

    @override
    def children(self, parent: dict[str, t.Any]) -> Iterator[dict[str, t.Any]]:
        for step in _list(parent.get("steps")):
            if isinstance(step, dict) and step.get("id"):
                yield dict(step)


class PollsStream(ChildStream):
    """Polls of guides (NPS and other questions); answers are in poll_events."""

    name = "polls"
    parent, parent_label, child_key = "guides", "guide", "id"
    schema = schemas.POLL

    @override
    def children(self, parent: dict[str, t.Any]) -> Iterator[dict[str, t.Any]]:
        for poll in _list(parent.get("polls")):
            if isinstance(poll, dict) and poll.get("id"):
                yield dict(poll)


class ProductAreasStream(DerivedStream):
    """Product areas: the `group` objects of pages and features, one row per version.

    Pendo documents no list endpoint for them. `appId` is the app of the pages and features
    using the area, null when they span apps (the default "Ungrouped" area).
    """

    name = "product_areas"
    parents = ("pages", "features")
    primary_keys: t.ClassVar[list[str]] = ["id", "lastUpdatedAt"]
    replication_key = "lastUpdatedAt"
    schema = schemas.PRODUCT_AREA

    @override
    def rows(self, context: Context | None) -> Iterator[Record]:
        areas: dict[tuple[t.Any, t.Any], dict[str, t.Any]] = {}
        apps: dict[tuple[t.Any, t.Any], set[t.Any]] = {}
        for parent in self.parents:
            for row in self.parent_rows(parent):
                group = row.get("group")
                if not isinstance(group, dict) or not group.get("id"):
                    continue
                if not self.app_selected(row.get("appId")):
                    continue
                key = (group["id"], group.get("lastUpdatedAt"))
                areas.setdefault(key, group)
                apps.setdefault(key, set()).add(row.get("appId"))
        for key, group in areas.items():
            # No start_date cut: an area last changed before it is still the area of pages
            # and features that changed since.
            if not self.changed(group.get("lastUpdatedAt"), context, start_date=False):
                continue
            used_by = apps[key]
            yield {**group, "appId": next(iter(used_by)) if len(used_by) == 1 else None}


class PendoUsersStream(DerivedStream):
    """Pendo users (the subscription's admins and authors), as nested in every object.

    Full table: a nested user carries no change timestamp of its own.
    """

    name = "pendo_users"
    parents = ("pages", "features", "guides", "track_types", "reports")
    primary_keys: t.ClassVar[list[str]] = ["id"]
    replication_key = None
    schema = schemas.PENDO_USER

    @override
    def rows(self, context: Context | None) -> Iterator[Record]:
        seen: set[str] = set()
        for parent in self.parents:
            for row in self.parent_rows(parent):
                group = row.get("group")
                holders = [row, group if isinstance(group, dict) else {}]
                for holder in holders:
                    for field in ("createdByUser", "lastUpdatedByUser"):
                        user = holder.get(field)
                        if isinstance(user, dict) and user.get("id") and user["id"] not in seen:
                            seen.add(user["id"])
                            yield dict(user)


class VisitorAccountsStream(VisitorsStream):
    """One row per (visitor version, account) from `metadata.auto.accountids`: the visitors
    stream's keyset pages and bookmark rules, other rows.
    """

    name = "visitor_accounts"
    primary_keys: t.ClassVar[list[str]] = ["visitorId", "visitorLastUpdatedAt", "accountId"]
    metadata_kind = None  # its rows carry no metadata
    replication_key = "visitorLastUpdatedAt"

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        for visitor in super().get_records(context):
            auto = (visitor.get("metadata") or {}).get("auto") or {}
            accounts = auto.get("accountids")
            if not isinstance(accounts, list):
                accounts = [auto["accountid"]] if auto.get("accountid") else []
            unique = dict.fromkeys(str(a) for a in accounts if a not in (None, ""))
            for position, account in enumerate(unique):
                yield {
                    "visitorId": visitor["visitorId"],
                    "accountId": account,
                    "position": position,
                    # A key column cannot be null in SQL targets: 0, Pendo's "never".
                    "visitorLastUpdatedAt": visitor.get("lastupdated") or 0,
                }


class ApplicationsStream(GetListStream):
    """Applications of the subscription.

    Pendo documents no list endpoint for apps; its own UI reads the aggregation source `apps`
    (pendo-api.md, additions). When a subscription refuses that source, the app ids come from
    the per-app metadata groups (`auto__<id>`), without names.
    """

    name = "applications"
    schema = schemas.APPLICATION
    per_app = False

    @override
    def read_items(self) -> Iterator[dict[str, t.Any]]:
        what = "aggregation on apps"
        try:
            for row in self.client.resumable(
                lambda: self.client.aggregate([{"source": {"apps": None}}], what=what), what=what
            ):
                if isinstance(row, dict) and self.app_selected(row.get("id")):
                    yield row
        except PendoAuthError:
            raise
        except PendoFatalError as error:
            logger.warning("Pendo refused the apps source (%s); listing app ids only", error)
            yield from self._apps_from_metadata()

    def _apps_from_metadata(self) -> Iterator[dict[str, t.Any]]:
        ids: set[int | str] = {DEFAULT_APP_ID}
        for groups in fetch_metadata_schemas(self._tap).values():
            for group in groups or {}:
                if group.startswith("auto__"):
                    value = app_id_value(group[len("auto__") :])
                    ids.add(-value if value == -DEFAULT_APP_ID else value)
        for app in sorted(ids, key=str):
            if self.app_selected(app):
                yield {"id": app, "lastUpdatedAt": None}


class SegmentsStream(GetListStream):
    """Segments (`GET /api/v1/segment`), as listed; definitions are kept when the list has them."""

    name = "segments"
    path = "/api/v1/segment"
    schema = schemas.SEGMENT
    per_app = False

    @override
    def params(self) -> dict[str, t.Any]:
        return {}


def derived_streams(tap: Tap) -> list[PendoStream]:
    """The streams derived from other lists (children, product areas, users) and small lists."""
    return [
        ApplicationsStream(tap),
        SegmentsStream(tap),
        ProductAreasStream(tap),
        PendoUsersStream(tap),
        PageRulesStream(tap),
        FeatureRulesStream(tap),
        TrackTypeRulesStream(tap),
        GuideStepsStream(tap),
        PollsStream(tap),
        VisitorAccountsStream(tap, schema=schemas.VISITOR_ACCOUNT),
    ]
