"""The singer-sdk standard tap tests for the event streams, against a simulator.

`visitor_history` is off by default; the catalog given to the harness selects it, as a user
would (the dry run forces every stream on, but the stream maps come from the catalog).
start_date/end_date cover the simulator's event days (2026-03-06..08, America/New_York) so
every stream has records. The simulator starts at import: `get_tap_test_class` discovers
the streams while the class is built.
"""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from pendo_sim import DatasetConfig, Simulator
from tap_pendo.events.streams import event_streams
from tap_pendo.tap import TapPendo


class EventTapPendo(TapPendo):
    """TapPendo with only the event streams discovered."""

    def discover_streams(self):  # noqa: ANN201
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
