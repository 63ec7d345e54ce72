"""Two loopback servers for the security tests: an "evil" reverse proxy in front of the
simulator that answers chosen requests with a redirect (or a 200 that is not Pendo's JSON),
and the place its redirects point to, which records whatever reaches it."""

from __future__ import annotations

import http.client
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

HOP_HEADERS = {"host", "connection", "transfer-encoding", "content-length", "keep-alive"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@dataclass
class Rule:
    method: str
    path: str  # regex searched in the path (without the query)
    status: int  # 3xx: redirect to the sink; 200: an HTML page instead of Pendo's JSON

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and re.search(self.path, path) is not None


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Base:
    def __init__(self) -> None:
        self.httpd: _Server | None = None
        self.thread: threading.Thread | None = None

    def _start(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        assert self.httpd is not None
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None


class SinkServer(_Base):
    """Where the redirects point: records every request and answers like a successful
    Pendo write, so a client that followed the redirect would believe it had written."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Seen] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                sink.seen.append(Seen(self.command, self.path, dict(self.headers), body))
                payload = b'{"total": 1, "updated": 1, "failed": 0, "id": "job"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

        self._start(Handler)


@dataclass
class EvilProxy(_Base):
    """Forwards to `upstream` except for requests matching a rule."""

    upstream: str
    sink: SinkServer
    rules: list[Rule] = field(default_factory=list)
    fired: int = 0

    def __post_init__(self) -> None:
        super().__init__()
        proxy = self
        target = urlsplit(self.upstream)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                rule = next((r for r in proxy.rules if r.matches(self.command, path)), None)
                if rule is not None:
                    proxy.fired += 1
                    if rule.status == 200:
                        page = b"<html><body>Welcome! Please log in.</body></html>"
                        self._send(200, {"Content-Type": "text/html"}, page)
                    else:
                        location = proxy.sink.url + self.path
                        self._send(rule.status, {"Location": location}, b"")
                    return
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                kept = {k: v for k, v in answer.getheaders() if k.lower() not in HOP_HEADERS}
                conn.close()
                self._send(answer.status, kept, data)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._start(Handler)
