"""The singer-sdk standard tap tests for the event streams, against a simulator.

`visitor_history` is off by default; the catalog given to the harness selects it, as a user
would (the dry run forces every stream on, but the stream maps come from the catalog).
start_date/end_date cover the simulator's event days (2026-03-06..08, America/New_York) so
every stream has records. The simulator starts at import: `get_tap_test_class` discovers
the streams while the class is built.
"""

from __future__ import annotations

import atexit

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from pendo_sim import DatasetConfig, Simulator
from tap_pendo.events.streams import event_streams
from tap_pendo.tap import TapPendo
from tests.helpers.tap import sync_in_process

# The SDK's schema/attribute tests only warn when they find a problem: here a warning fails.
pytestmark = pytest.mark.filterwarnings("error::UserWarning")


class EventTapPendo(TapPendo):
    """TapPendo with only the event streams discovered."""

    def discover_streams(self):
        return event_streams(self)


_SIM = Simulator(
    DatasetConfig(
        seed=5,
        visitors=30,
        accounts=10,
        anonymous_visitors=4,
        event_rows_per_day=120,
        guide_events_per_day=60,
        poll_events_per_day=30,
    )
)
_SIM.__enter__()
atexit.register(_SIM.__exit__, None, None, None)

CONFIG = {
    "integration_key": _SIM.integration_key,
    "api_url": _SIM.url,
    "start_date": "2026-03-06T12:00:00Z",
    "end_date": "2026-03-09T12:00:00Z",
    "retry_backoff_seconds": 0.01,
    "max_retries": 3,
    "request_timeout": 10,
    "visitor_history_enabled": True,
}


def _catalog_selecting_every_stream() -> dict:
    catalog = EventTapPendo(config=CONFIG, validate_config=False, setup_mapper=False).catalog_dict
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = True
    return catalog


TestEventTapPendo = get_tap_test_class(
    EventTapPendo,
    config=CONFIG,
    catalog=_catalog_selecting_every_stream(),
    suite_config=SuiteConfig(max_records_limit=200),
)

# Catalog fields no row carries, stream by stream (dayRange rows have `day`, not `hour`; the
# events source has no track rows; guide rows are no poll answers). The SDK's
# `transformed_catalog_schema_matches_record` only warns about them: these streams are taken
# out of it and checked exactly by the test below instead.
ABSENT_FIELDS = {
    "events": {"hour", "trackTypeId"},
    "page_events": {"hour"},
    "feature_events": {"hour"},
    "track_events": {"hour"},
    "guide_events": {"pollId", "pollResponse"},
}

_TEST = "test_tap_stream_transformed_catalog_schema_matches_record"
_params = TestEventTapPendo.params[_TEST]
TestEventTapPendo.params[_TEST] = [p for p in _params if p.id not in ABSENT_FIELDS]
assert len(_params) - len(TestEventTapPendo.params[_TEST]) == len(ABSENT_FIELDS)


def test_catalog_fields_missing_from_records_are_exactly_the_optional_ones() -> None:
    names = [s.name for s in EventTapPendo(config=CONFIG, validate_config=False).streams.values()]
    out = sync_in_process(CONFIG, names)
    for stream in names:
        rows = out.records[stream]
        assert rows, stream
        present = set().union(*(row.keys() for row in rows))
        missing = set(out.schemas[stream]["properties"]) - present
        assert missing == ABSENT_FIELDS.get(stream, set()), stream
