"""The socket guard of tests/conftest.py: in-process non-loopback attempts fail, loopback works."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import urllib.request

import pytest
import requests

from pendo_sim import Simulator
from tests.helpers.socket_guard import NonLoopbackConnection


@pytest.mark.parametrize(
    "attempt",
    [
        lambda: socket.create_connection(("192.0.2.1", 443), timeout=1),
        lambda: socket.socket().connect(("198.51.100.7", 80)),
        lambda: socket.socket(socket.AF_INET6).connect_ex(("2001:db8::1", 80, 0, 0)),
        lambda: socket.getaddrinfo("app.eu.pendo.io", 443),
    ],
    ids=["create_connection", "connect", "connect_ex", "getaddrinfo"],
)
def test_non_loopback_attempts_raise_and_are_recorded(socket_guard: list[str], attempt) -> None:
    with pytest.raises(NonLoopbackConnection):
        attempt()
    assert len(socket_guard) == 1
    socket_guard.clear()  # recorded on purpose: do not fail this test at teardown


def test_a_swallowed_attempt_is_still_recorded(socket_guard: list[str]) -> None:
    """A client that retries or catches connection errors cannot hide the attempt."""
    with contextlib.suppress(requests.ConnectionError):
        requests.get("https://app.pendo.io/api/v1/token/verify", timeout=1)
    assert socket_guard and "app.pendo.io" in socket_guard[0]
    socket_guard.clear()


def test_loopback_still_works(sim: Simulator, socket_guard: list[str]) -> None:
    with urllib.request.urlopen(f"{sim.url}/_sim/health", timeout=10) as response:
        assert response.status == 200
    localhost = sim.url.replace("127.0.0.1", "localhost")
    with urllib.request.urlopen(f"{localhost}/_sim/health", timeout=10) as response:
        assert response.status == 200
    assert socket_guard == []


def test_subprocesses_are_not_patched() -> None:
    code = "import socket; print(socket.getaddrinfo.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "socket"  # not tests.conftest
