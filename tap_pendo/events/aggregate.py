"""One aggregation request, streamed, with the response's `startTime` read on the way.

`PendoClient.aggregate` yields only `results.item`. The event windows also want the
top-level `startTime` (the exact start of the evaluated time range, pendo-api.md §3.1) to
re-centre their period estimates. Parsing every JSON event in Python to get it would cost
several times the C parser's speed on a million rows, so the first bytes of the body are
read ahead, `startTime` is looked for there (Pendo writes it before `results`), and the
C parser then reads the buffered head followed by the rest of the stream.
"""

from __future__ import annotations

import re
import time
import typing as t

import ijson

from pendo_http.client import (
    AGGREGATION_PATH,
    TRANSIENT_EXCEPTIONS,
    PendoClient,
    aggregation_body,
)
from pendo_http.errors import PendoRetriableError

START_TIME = re.compile(rb'"startTime"\s*:\s*"?(-?\d+)')
HEAD_LIMIT = 65536


class _Reader(t.Protocol):
    """What `_HeadThenRest` needs of the response's raw stream (urllib3's HTTPResponse)."""

    def read(self, size: int = -1, /) -> bytes: ...


class _HeadThenRest:
    """A file-like object: the bytes already read, then the rest of `raw`."""

    def __init__(self, head: bytes, raw: _Reader) -> None:
        self._head = head
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0 or size >= len(self._head):
                data, self._head = self._head, b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._raw.read(size)


class Aggregation:
    """The rows of one aggregation; `start_time` is set once iteration has begun."""

    def __init__(
        self,
        client: PendoClient,
        pipeline: list[dict[str, t.Any]],
        *,
        what: str,
        max_tries: int | None = None,
    ) -> None:
        self.client = client
        self.pipeline = pipeline
        self.what = what
        self.max_tries = max_tries
        self.start_time: int | None = None
        self.sent = False  # True once Pendo answered 2xx: later errors are in the body
        self.wait_s: float | None = None  # request sent -> response headers (Pendo's work)
        self.total_s: float | None = None  # request sent -> last row handed on
        self.body_bytes = 0

    def request_body(self) -> dict[str, t.Any]:
        """The aggregation request for this pipeline (the prefetching workers send it too)."""
        return aggregation_body(self.pipeline, request_id=self.what)

    def __iter__(self) -> t.Iterator[dict[str, t.Any]]:
        started = time.monotonic()
        response = self.client.send(
            "POST",
            AGGREGATION_PATH,
            what=self.what,
            body=self.request_body(),
            stream=True,
            aggregation=True,
            max_tries=self.max_tries,
        )
        self.sent = True
        self.wait_s = time.monotonic() - started
        raw = response.raw
        raw.decode_content = True
        try:
            yield from self.parse(raw)
            self.total_s = time.monotonic() - started
        finally:
            self.body_bytes = raw.tell()
            response.close()

    def parse(self, raw: t.Any) -> t.Iterator[dict[str, t.Any]]:
        """The rows of a body read from `raw` (anything with `read(size)`)."""
        try:
            head = b""
            while len(head) < HEAD_LIMIT and b'"results"' not in head:
                chunk = raw.read(8192)
                if not chunk:
                    break
                head += chunk
            cut = head.find(b'"results"')
            match = START_TIME.search(head if cut < 0 else head[:cut])
            if match:
                self.start_time = int(match.group(1))
            yield from ijson.items(_HeadThenRest(head, raw), "results.item", use_float=True)
        except TRANSIENT_EXCEPTIONS as exc:
            raise PendoRetriableError(
                f"{type(exc).__name__} while reading {self.what}: {exc}"
            ) from None
        except ijson.JSONError as exc:
            raise PendoRetriableError(f"broken JSON while reading {self.what}: {exc}") from None
