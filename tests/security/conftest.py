"""Fixtures of the security suite: the simulator, the evil proxy in front of it and the
sink its redirects point to, all on 127.0.0.1; and the figures printed at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pendo_sim import DatasetConfig, Simulator
from tests.security._shared import FIGURES, KEY, TRACK_SECRET
from tests.security.servers import EvilProxy, SinkServer


@pytest.fixture(scope="module")
def ssim() -> Iterator[Simulator]:
    with Simulator(
        DatasetConfig(seed=7), integration_key=KEY, track_secret=TRACK_SECRET
    ) as simulator:
        yield simulator


@pytest.fixture
def sink() -> Iterator[SinkServer]:
    server = SinkServer()
    yield server
    server.stop()


@pytest.fixture
def evil(ssim: Simulator, sink: SinkServer) -> Iterator[EvilProxy]:
    proxy = EvilProxy(ssim.url, sink)
    yield proxy
    proxy.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("security figures")
        for name, count in sorted(FIGURES.items()):
            terminalreporter.write_line(f"{name}: {count}")
