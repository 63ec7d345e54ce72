"""One HTTP client for Pendo: auth header, timeouts, retries with backoff, streaming parses.

Both plugins use it: the tap for GET lists and streamed aggregations, the target for
metadata writes and track events.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
import typing as t
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import backoff
import ijson
import orjson
import requests
import urllib3
from singer_sdk import metrics

from pendo_http.errors import (
    PendoAuthError,
    PendoError,
    PendoFatalError,
    PendoQueryTooLarge,
    PendoRetriableError,
    PendoTimeout,
    PendoTLSError,
    PendoUnreachableError,
    classify,
    tls_message,
    unreachable_message,
    unreachable_reason,
)
from pendo_http.jsonbody import decode_body, json_bytes
from pendo_http.redaction import Redactor, url_secrets

AUTH_HEADER = "x-pendo-integration-key"
USER_AGENT = "pendo-singer (tap-pendo/target-pendo)"

# Failures while connecting or while a body is being read: all worth a retry.
TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.ReadTimeoutError,
    ijson.common.IncompleteJSONError,
    orjson.JSONDecodeError,
    ConnectionError,
    TimeoutError,
)

logger = logging.getLogger("pendo_http")

AGGREGATION_PATH = "/api/v1/aggregation"


def aggregation_body(pipeline: list[dict[str, Any]], *, request_id: str) -> dict[str, Any]:
    """The body of `POST /api/v1/aggregation` for `pipeline` (pendo-api.md §3.1)."""
    return {
        "response": {"mimeType": "application/json"},
        "request": {"requestId": request_id, "pipeline": pipeline},
    }


def equal_jitter(seconds: float) -> float:
    """Between half and all of `seconds`: clients retrying together spread out, and no wait
    collapses to nothing (backoff's `full_jitter` can draw 0).
    """
    return seconds * random.uniform(0.5, 1.0)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry: `backoff.expo` from `base_seconds`, capped, jittered.

    A server's `Retry-After` wins over the exponential wait (up to its own cap). `jitter` is
    any `backoff` jitter (seconds -> seconds); tests that count waits pass `None`.
    """

    max_tries: int = 8
    base_seconds: float = 1.0
    cap_seconds: float = 60.0
    retry_after_cap_seconds: float = 120.0
    jitter: Callable[[float], float] | None = equal_jitter

    def waits(self) -> Iterator[float]:
        """The un-jittered waits after try 1, 2, ...: backoff's exponential generator."""
        waits = backoff.expo(factor=self.base_seconds, max_value=self.cap_seconds)
        next(waits)  # backoff's wait generators are primed by one send() before the first wait
        return t.cast("Iterator[float]", waits)

    def wait_seconds(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number `attempt` (1-based)."""
        if retry_after is not None:
            return min(retry_after, self.retry_after_cap_seconds)
        delay = next(itertools.islice(self.waits(), attempt - 1, None))
        return self.jitter(delay) if self.jitter is not None else delay


def log_request_duration(response: requests.Response, endpoint: str) -> None:
    """The `http_request_duration` metric point the SDK's RESTStream writes for each answer
    (time to the response headers), which our own client would otherwise lose.
    """
    metrics_logger = metrics.get_metrics_logger()
    if not metrics_logger.isEnabledFor(logging.INFO):
        return
    status = response.status_code
    point = metrics.Point(
        "timer",
        metric=metrics.Metric.HTTP_REQUEST_DURATION,
        value=response.elapsed.total_seconds(),
        tags={
            metrics.Tag.ENDPOINT: endpoint,
            metrics.Tag.HTTP_STATUS_CODE: status,
            metrics.Tag.STATUS: (
                metrics.Status.SUCCEEDED if status < 400 else metrics.Status.FAILED
            ),
        },
    )
    metrics.log(metrics_logger, point)


def _transient_error(
    exc: BaseException, what: str, redact: Callable[[str], str] = str
) -> PendoRetriableError:
    # Exception texts can carry the URL, query string included.
    timed_out = isinstance(
        exc, (requests.Timeout, urllib3.exceptions.ReadTimeoutError, TimeoutError)
    )
    if isinstance(exc, requests.ConnectTimeout):
        timed_out = False  # no server answered at all: not a sign the query is too big
    kind = PendoTimeout if timed_out else PendoRetriableError
    return kind(redact(f"{type(exc).__name__} during {what}: {exc}"))


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


class PendoClient:
    """A requests session bound to one Pendo base URL and key."""

    def __init__(
        self,
        *,
        base_url: str,
        integration_key: str | None,
        timeout_seconds: float = 300.0,
        connect_timeout_seconds: float = 30.0,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = integration_key
        # Masks the secrets this client sends (keys, URL credentials) in the errors it raises.
        self.redactor = Redactor([integration_key, *url_secrets(self.base_url)])
        self.timeout = (connect_timeout_seconds, timeout_seconds)
        self.retry = retry or RetryPolicy()
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        # TLS verification stays on: requests verifies by default and nothing here turns it off.
        self.session.verify = True
        self._sleep = sleep
        self.calls = 0
        self.retries = 0
        # Hosts that answered once in this run: from then on a refused connection is a blip.
        self._answered: set[str] = set()
        # Called before every attempt (e.g. a shared `RatePacer`); None: no pacing.
        self.pacer: Callable[[], None] | None = None

    def fork(self) -> PendoClient:
        """A client with the same URL, key, timeouts, retries and pacer on its own session,
        for a worker thread (a `requests.Session` is not documented as thread-safe).
        """
        other = PendoClient(
            base_url=self.base_url,
            integration_key=self._key,
            retry=self.retry,
            sleep=self._sleep,
        )
        other.timeout = self.timeout
        other.redactor = self.redactor
        other.pacer = self.pacer
        other.session.trust_env = self.session.trust_env
        other.session.proxies.update(self.session.proxies)
        return other

    # -- the one request path -------------------------------------------------------------

    def send(
        self,
        method: str,
        path_or_url: str,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        raw_body: bytes | None = None,
        stream: bool = False,
        aggregation: bool = False,
        secret: str | None = None,
        secret_setting: str = "integration_key",
        not_retried: frozenset[int] = frozenset(),
        max_tries: int | None = None,
        headers: dict[str, str] | None = None,
        endpoint: str | None = None,
    ) -> requests.Response:
        """Send one request, retrying transient failures; returns a 2xx response.

        Raises PendoAuthError at once on 401/403, PendoFatalError on other 4xx (and at once
        on a status in `not_retried`, which the caller handles itself), PendoQueryTooLarge
        when an aggregation is refused as too big, and PendoRetriableError once retries are
        exhausted (after `max_tries` tries when given, for a caller with a cheaper fallback
        than more retries). Each answer is timed in the SDK's `http_request_duration` metric,
        tagged with `endpoint` (default: the URL's path; give a template when the path holds an
        id).
        """
        tries = min(max_tries, self.retry.max_tries) if max_tries else self.retry.max_tries
        url = path_or_url if path_or_url.startswith("http") else self.base_url + path_or_url
        headers = {"Content-Type": "application/json", **(headers or {})}
        key = secret if secret is not None else self._key
        self.redactor.add(key)
        if url is path_or_url:
            for url_secret in url_secrets(url):
                self.redactor.add(url_secret)
        if key:
            headers[AUTH_HEADER] = key
        endpoint = self.redactor(endpoint or urlsplit(url).path)
        data = (
            raw_body if raw_body is not None else (json_bytes(body) if body is not None else None)
        )
        attempt = 0
        while True:
            attempt += 1
            self.calls += 1
            if self.pacer is not None:
                self.pacer()
            started = time.monotonic()
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers=headers,
                    timeout=self.timeout,
                    stream=stream,
                    # A 3xx is an error (classify): following it would carry the key header,
                    # which requests keeps on a cross-host redirect, and the body elsewhere.
                    allow_redirects=False,
                )
                if logger.isEnabledFor(logging.DEBUG):
                    self._log_call(method, url, params, data, response.status_code, started)
                log_request_duration(response, endpoint)
            except requests.exceptions.SSLError as exc:
                # A certificate that does not verify stays so: fail now, never retry.
                raise PendoTLSError(self.redactor(tls_message(url, what, exc))) from None
            except TRANSIENT_EXCEPTIONS as exc:
                error: PendoError = _transient_error(exc, what, self.redactor)
                reason = None if _host(url) in self._answered else unreachable_reason(exc)
                if reason is not None:
                    # A host never reached (no such name, refused): fail now, not after retries.
                    msg = self.redactor(unreachable_message(url, what, reason))
                    raise PendoUnreachableError(msg) from None
            except (requests.RequestException, ValueError) as exc:
                # InvalidHeader, InvalidURL, a header value http.client cannot encode...:
                # their texts quote the URL or the header value (repr), hence our own error.
                raise PendoFatalError(
                    self.redactor(f"{type(exc).__name__} during {what}: {exc}")
                ) from None
            else:
                self._answered.add(_host(url))
                answer = classify(
                    response,
                    what=what,
                    secret_setting=secret_setting,
                    aggregation=aggregation,
                    redact=self.redactor,
                )
                if answer is None:
                    return response
                error = answer
                response.close()
                if isinstance(error, PendoRetriableError) and error.status in not_retried:
                    error = PendoFatalError(str(error), status=error.status)
            if not isinstance(error, PendoRetriableError) or attempt >= tries:
                raise error
            self.retries += 1
            wait = self.retry.wait_seconds(attempt, error.retry_after)
            logger.warning("%s; retry %d of %d in %.1fs", error, attempt, tries - 1, wait)
            self._sleep(wait)

    def _log_call(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        data: bytes | None,
        status: int,
        started: float,
    ) -> None:
        """One DEBUG line per HTTP attempt (`LOGLEVEL=DEBUG`): what was asked, the answer's
        status and how long the headers took; the body's first 500 bytes, secrets masked.
        """
        query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
        sent = f"; body {len(data)} bytes: {data[:500].decode('utf-8', 'replace')}" if data else ""
        elapsed_ms = (time.monotonic() - started) * 1000
        logger.debug(
            "%s",
            self.redactor(f"HTTP {method} {url}{query} -> {status} in {elapsed_ms:.0f} ms{sent}"),
        )

    def backoff(self, attempt: int, error: PendoRetriableError) -> None:
        """Wait before retrying something the caller restarts itself (a broken body)."""
        if attempt >= self.retry.max_tries:
            raise error
        self.retries += 1
        wait = self.retry.wait_seconds(attempt, error.retry_after)
        logger.warning(
            "%s; retry %d of %d in %.1fs", error, attempt, self.retry.max_tries - 1, wait
        )
        self._sleep(wait)

    # -- reading --------------------------------------------------------------------------

    def get_json(
        self,
        path: str,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        endpoint: str | None = None,
    ) -> Any:
        """A small JSON body, parsed; a body broken mid-read is retried."""
        attempt = 0
        while True:
            attempt += 1
            response = self.send(
                "GET", path, what=what, params=params, headers=headers, endpoint=endpoint
            )
            try:
                return orjson.loads(response.content) if response.content.strip() else None
            except TRANSIENT_EXCEPTIONS as exc:
                self.backoff(attempt, _transient_error(exc, what, self.redactor))

    def iter_json_items(
        self,
        method: str,
        path: str,
        *,
        prefix: str,
        what: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        aggregation: bool = False,
        max_tries: int | None = None,
    ) -> Iterator[Any]:
        """Stream the items at `prefix` ("item" for a bare array, "results.item" for an
        aggregation) without holding the body. Errors while the body is read raise
        PendoRetriableError: the caller decides where to resume.
        """
        response = self.send(
            method,
            path,
            what=what,
            params=params,
            body=body,
            stream=True,
            aggregation=aggregation,
            max_tries=max_tries,
        )
        response.raw.decode_content = True
        try:
            yield from ijson.items(response.raw, prefix, use_float=True)
        except TRANSIENT_EXCEPTIONS as exc:
            raise _transient_error(exc, what, self.redactor) from None
        except ijson.JSONError as exc:
            raise _transient_error(exc, what, self.redactor) from None
        finally:
            response.close()

    def aggregate(
        self, pipeline: list[dict[str, Any]], *, what: str, max_tries: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Rows of one aggregation, streamed."""
        return self.iter_json_items(
            "POST",
            AGGREGATION_PATH,
            prefix="results.item",
            what=what,
            body=aggregation_body(pipeline, request_id=what),
            aggregation=True,
            max_tries=max_tries,
        )

    def resumable(
        self,
        start: Callable[[], Iterator[Any]],
        *,
        what: str,
    ) -> Iterator[Any]:
        """Re-run `start` after a broken body until it completes.

        `start` must build its request from the caller's progress (the last key it
        yielded), so a retry continues where the broken body stopped. Attempts count
        consecutive failures without progress.
        """
        attempt = 0
        while True:
            progressed = False
            try:
                for item in start():
                    progressed = True
                    yield item
                return
            except PendoRetriableError as error:
                attempt = 1 if progressed else attempt + 1
                self.backoff(attempt, error)

    # -- writing --------------------------------------------------------------------------

    def post_json(
        self,
        path_or_url: str,
        body: Any,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        secret: str | None = None,
        secret_setting: str = "integration_key",
        not_retried: frozenset[int] = frozenset(),
    ) -> Any:
        """POST a JSON body; returns the parsed response body (None when empty)."""
        response = self.send(
            "POST",
            path_or_url,
            what=what,
            params=params,
            body=body,
            secret=secret,
            secret_setting=secret_setting,
            not_retried=not_retried,
        )
        return decode_body(response.content)

    def verify_key(self) -> dict[str, Any]:
        """`GET /api/v1/token/verify`: fails fast with a clear message on a wrong key."""
        result = self.get_json("/api/v1/token/verify", what="key check (GET /api/v1/token/verify)")
        return result if isinstance(result, dict) else {}


__all__ = [
    "AUTH_HEADER",
    "PendoAuthError",
    "PendoClient",
    "PendoFatalError",
    "PendoQueryTooLarge",
    "PendoRetriableError",
    "PendoTLSError",
    "PendoUnreachableError",
    "RetryPolicy",
]
