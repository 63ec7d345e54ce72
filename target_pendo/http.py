"""The target's side of HTTP: a client-side rate limit and a dry-run guard around pendo_http.

Retries, backoff, error classification and messages are pendo_http's (shared with the tap);
this module only decides *when* a request may go out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from typing_extensions import override

from pendo_http import PendoClient, RetryPolicy


class TokenBucket:
    """At most `rate` requests a second on average, bursts up to `burst`; thread-safe."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            msg = "max_requests_per_second must be greater than 0"
            raise ValueError(msg)
        self.rate = float(rate)
        self.capacity = float(burst if burst is not None else max(1.0, rate))
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1 - 1e-9:  # float dust must not make us spin
                    self._tokens = max(0.0, self._tokens - 1)
                    return
                wait = (1 - self._tokens) / self.rate
                self.waited_seconds += wait
            self._sleep(wait)


class VisitorPacer:
    """When the next track event of each visitor may go out: `interval` seconds after the
    previous one's request completed, so Pendo receives them at least that far apart.
    """

    PRUNE_ABOVE = 10_000

    def __init__(self, per_second: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._clock = clock
        self._next: dict[str | None, float] = {}

    def ready_at(self, visitor: str | None) -> float:
        return self._next.get(visitor, 0.0)

    def done(self, visitor: str | None) -> None:
        now = self._clock()
        if self.interval:
            self._next[visitor] = now + self.interval
        if len(self._next) > self.PRUNE_ABOVE:
            self._next = {v: at for v, at in self._next.items() if at > now}


class DryRunViolation(RuntimeError):
    """A write was attempted in dry-run mode (a bug: dry runs never write)."""


# Endpoints with a tighter limit of their own, on top of the overall one: Pendo warns that
# bulk deletes more often than once a second are likely to fail (shared/pendo-api.md §6).
PATH_RATES: dict[str, float] = {"/api/v1/bulkdelete/": 1.0}


class GuardedSession(requests.Session):
    """A requests session where every attempt, retries included, takes a rate-limit token
    (and one of its endpoint's own bucket, see PATH_RATES), and where a dry run cannot send
    anything but GETs.
    """

    def __init__(self, bucket: TokenBucket | None, *, dry_run: bool, pool_size: int) -> None:
        super().__init__()
        self.bucket = bucket
        self.path_buckets = {path: TokenBucket(rate, burst=1) for path, rate in PATH_RATES.items()}
        self.dry_run = dry_run
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(10, pool_size))
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.writes = 0
        self.reads = 0
        self._count_lock = threading.Lock()

    @override
    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        verb = method.decode() if isinstance(method, bytes) else method
        if self.dry_run and verb.upper() not in ("GET", "HEAD"):
            msg = f"dry_run is on: refusing {verb} {url!s}"
            raise DryRunViolation(msg)
        for path, bucket in self.path_buckets.items():
            if path in str(url):
                bucket.acquire()
        if self.bucket is not None:
            self.bucket.acquire()
        with self._count_lock:
            if verb.upper() in ("GET", "HEAD"):
                self.reads += 1
            else:
                self.writes += 1
        return super().request(verb, url, *args, **kwargs)


def build_client(
    *,
    base_url: str,
    integration_key: str | None,
    max_requests_per_second: float,
    dry_run: bool,
    pool_size: int,
    request_timeout: float,
    max_retries: int,
    retry_backoff_seconds: float,
) -> tuple[PendoClient, GuardedSession]:
    """The target's client and its session: pendo_http's retries behind a rate limit and the
    dry-run guard.
    """
    bucket = TokenBucket(max_requests_per_second) if max_requests_per_second else None
    session = GuardedSession(bucket, dry_run=dry_run, pool_size=pool_size)
    client = PendoClient(
        base_url=base_url,
        integration_key=integration_key,
        timeout_seconds=request_timeout,
        retry=RetryPolicy(max_tries=max(1, max_retries), base_seconds=retry_backoff_seconds),
        session=session,
    )
    return client, session
