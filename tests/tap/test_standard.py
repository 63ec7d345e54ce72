"""The singer-sdk standard tap tests for the entity streams, against a simulator.

The event streams (another module, with their own windows and start dates) have their own
standard tests; this class discovers only `entity_streams` so a failure here is about them.

`get_tap_test_class` discovers the streams while the class is built (at import), so the
config, and the simulator behind it, must exist then: the simulator starts when this module
is imported and stops at interpreter exit.
"""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from pendo_sim import DatasetConfig, Simulator
from tap_pendo.streams import entity_streams
from tap_pendo.tap import TapPendo


class EntityTapPendo(TapPendo):
    """TapPendo with only the entity streams discovered."""

    def discover_streams(self):  # noqa: ANN201
        return entity_streams(self)


_SIM = Simulator(DatasetConfig(seed=7, visitors=120, accounts=20, anonymous_visitors=10))
_SIM.__enter__()
atexit.register(_SIM.__exit__, None, None, None)

CONFIG = {
    "integration_key": _SIM.integration_key,
    "api_url": _SIM.url,
    "retry_backoff_seconds": 0.01,
    "max_retries": 3,
    "request_timeout": 10,
    "page_size": 50,
}

TestTapPendo = get_tap_test_class(
    EntityTapPendo,
    config=CONFIG,
    suite_config=SuiteConfig(max_records_limit=200),
)
