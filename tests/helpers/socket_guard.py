"""A socket guard for tests: in-process network use beyond loopback fails the test.

The guard patches the in-process socket entry points for the duration of each test. A
connect or name lookup aimed at anything but loopback raises `NonLoopbackConnection` AND is
recorded, and the test fails at teardown even when the code under test swallowed the error
(a retrying HTTP client would turn it into a retry, then a soft failure). Subprocesses (the
plugins run by their CLI, Meltano, PostgreSQL) are separate interpreters: not patched.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class NonLoopbackConnection(ConnectionRefusedError):
    """A test tried to reach a non-loopback address."""


def _is_loopback_host(host: object) -> bool:
    if host is None or host == "":
        return True  # AI_PASSIVE / the local host
    if isinstance(host, bytes):
        host = host.decode("idna", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").split("%", 1)[0].lower().rstrip(".")
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _is_loopback_address(family: int, address: object) -> bool:
    if family == getattr(socket, "AF_UNIX", object()):
        return True
    if isinstance(address, tuple) and address:
        return _is_loopback_host(address[0])
    return isinstance(address, (str, bytes))  # a Unix socket path


@contextmanager
def guarded() -> Iterator[list[str]]:
    """Patch the socket entry points; yields the list of refused attempts."""
    attempts: list[str] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create_connection = socket.create_connection
    real_getaddrinfo = socket.getaddrinfo

    def refuse(what: str) -> NonLoopbackConnection:
        attempts.append(what)
        return NonLoopbackConnection(f"socket guard: a test tried to reach {what} (not loopback)")

    def connect(self: socket.socket, address: object) -> None:
        if not _is_loopback_address(self.family, address):
            raise refuse(repr(address))
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        if not _is_loopback_address(self.family, address):
            raise refuse(repr(address))
        return real_connect_ex(self, address)

    def create_connection(address: tuple, *args: object, **kwargs: object) -> socket.socket:
        if not _is_loopback_host(address[0]):
            raise refuse(repr(address))
        return real_create_connection(address, *args, **kwargs)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        if not _is_loopback_host(host):
            raise refuse(f"name lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        patch.setattr(socket, "create_connection", create_connection)
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        yield attempts
