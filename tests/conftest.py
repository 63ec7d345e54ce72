"""Fixtures every test directory shares: a real simulator on loopback, and a socket guard."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from pendo_sim import DatasetConfig, Simulator
from tests.helpers.socket_guard import guarded
from tests.helpers.target import TRACK_SECRET, target_config

SLOW_TIMEOUT_S = 600  # the per-test limit of `slow` tests (the default is in pyproject.toml)

# CI (`.ci/run` exports CI=true) runs the same property-test examples every time, so a
# submission is judged on the code, not on the draw; a run elsewhere draws new examples and
# keeps exploring (a failure it finds is printed with its seed to reproduce it).
hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`slow` tests (Meltano runs, million-row streams) get a longer limit than the default,
    unless they carry their own `timeout` marker."""
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_S))


@pytest.fixture(autouse=True)
def socket_guard() -> Iterator[list[str]]:
    """Fail any in-process connect or lookup of a non-loopback address (tests/helpers)."""
    with guarded() as attempts:
        yield attempts
    if attempts:
        pytest.fail(f"socket guard: non-loopback network use: {attempts}", pytrace=False)


# Taken when this conftest is imported: before any test module builds a tap at import time.
_SESSION_SIGNAL_HANDLERS = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}


@pytest.fixture(autouse=True)
def restore_signal_handlers() -> Iterator[None]:
    """A TapPendo built in-process installs the SDK's SIGINT/SIGTERM handlers (sys.exit(0)) and
    never removes them; a Ctrl-C (or a stray SIGTERM) during a later test then ends pytest with
    an INTERNALERROR instead of a normal interruption. Put pytest's own handlers back."""
    yield
    for sig, handler in _SESSION_SIGNAL_HANDLERS.items():
        if signal.getsignal(sig) is not handler:
            signal.signal(sig, handler)


# -- the shared simulator --------------------------------------------------------------------


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A fresh simulator with the default small dataset, on a free loopback port."""
    with Simulator(DatasetConfig(seed=7)) as simulator:
        yield simulator


@pytest.fixture
def tsim() -> Iterator[Simulator]:
    """A fresh simulator with the default small dataset and a track-event secret."""
    with Simulator(DatasetConfig(seed=7), track_secret=TRACK_SECRET) as simulator:
        yield simulator


@pytest.fixture
def tconfig(tsim: Simulator, tmp_path: Path) -> dict[str, Any]:
    """A target config pointing at `tsim` (tests/helpers/target.py `target_config`)."""
    return target_config(tsim, tmp_path)
