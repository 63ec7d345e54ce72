"""The singer-sdk standard tap tests, against a simulator.

`get_tap_test_class` discovers the streams while the class is built (at import), so the
config, and the simulator behind it, must exist then: the simulator starts when this module
is imported and stops at interpreter exit.
"""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from pendo_sim import DatasetConfig, Simulator
from tap_pendo.tap import TapPendo

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
    TapPendo,
    config=CONFIG,
    suite_config=SuiteConfig(max_records_limit=200),
)
