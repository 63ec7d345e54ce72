"""An HTTPS server on loopback whose certificate comes from a CA nobody trusts, as fixtures."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme


class TLSServer(ThreadingHTTPServer):
    """HTTPS on loopback with a certificate from a CA nobody trusts; counts TCP connections."""

    daemon_threads = True

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.connections = 0
        super().__init__(("127.0.0.1", 0), _JSONHandler)

    def get_request(self) -> tuple[socket.socket, tuple]:
        sock, address = self.socket.accept()
        self.connections += 1
        sock.settimeout(5)
        return self.context.wrap_socket(sock, server_side=True), address


class _JSONHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"valid": true, "writeAccess": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[TLSServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    server = TLSServer(context)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
