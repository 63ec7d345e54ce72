"""Simulator test fixtures: a module-scoped simulator and clearing its faults after each test.

The request helpers (`auth_headers`, `agg`, `results`) are in tests/helpers/sim_requests.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pendo_sim import DatasetConfig, Simulator


@pytest.fixture(scope="module")
def msim() -> Iterator[Simulator]:
    with Simulator(DatasetConfig(seed=7)) as s:
        yield s


@pytest.fixture(autouse=True)
def _clear_faults(request):
    yield
    for name in ("msim", "sim"):
        if name in request.fixturenames:
            request.getfixturevalue(name).faults.clear()
