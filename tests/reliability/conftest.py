"""Reliability tests: simulators shared per module, and the figures summary at the end."""

from __future__ import annotations

import pytest

from ._figures import FIGURES
from .tls_server import ca, tls_server  # noqa: F401 - fixtures for this folder


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = FIGURES.lines()
    if lines:
        terminalreporter.section("reliability figures")
        for line in lines:
            terminalreporter.write_line(line)
