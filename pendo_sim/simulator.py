"""`Simulator`: owns the dataset, store, faults and a ThreadingHTTPServer in a daemon thread."""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
import urllib.request
import uuid
from http.server import ThreadingHTTPServer
from typing import Any

from .config import LATENCY_FIELDS, DatasetConfig, SimOptions
from .dataset import Dataset
from .faults import Fault, FaultSet, RateLimiter
from .server import Handler
from .store import Store
from .writes import MetadataWriter


class _Server(ThreadingHTTPServer):
    sim: Simulator  # set by Simulator.start; the handlers reach the simulator through it
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a tap stopped after its first record by `--test`, a kill)
        is normal for a server: no traceback for it. Anything else is reported as before."""
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def server_activate(self) -> None:
        super().server_activate()
        self.open_connections = 0
        self.idle = threading.Condition()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.idle:
            self.open_connections += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        try:
            super().shutdown_request(request)
        finally:
            with self.idle:
                self.open_connections = max(0, self.open_connections - 1)
                self.idle.notify_all()


class Simulator:
    def __init__(
        self,
        cfg: DatasetConfig | None = None,
        now_ms: int | None = None,
        rate_limit_per_second: float | None = None,
        track_secret: str = "track-secret-123",
        integration_key: str = "sim-key-rw",
        read_only_key: str = "sim-key-ro",
        host: str = "127.0.0.1",
        port: int = 0,
        **options: Any,
    ):
        self.cfg = cfg or DatasetConfig()
        self.dataset = Dataset(self.cfg, now_ms=now_ms)
        self.options = SimOptions(**options)
        self.store = Store(self.dataset)
        self.writer = MetadataWriter(self.dataset, self.store, self.options)
        self.faults = FaultSet()
        self.rate_limiter = RateLimiter(rate_limit_per_second)
        self.track_secret = track_secret
        self.integration_key = integration_key
        self.read_only_key = read_only_key
        self.request_log: list[tuple[str, str, int]] = []
        self.aggregation_log: list[dict] = []  # parsed aggregation request bodies, in order
        self.write_lock = threading.Lock()
        self.bulk_delete_jobs: dict[str, dict] = {}
        self.deleted_ids: dict[str, list[str]] = {
            "visitor": [],
            "account": [],
        }  # every id sent, in order
        self._last_bulk_delete: float | None = None
        self._last_track: dict[
            str, float
        ] = {}  # visitorId -> monotonic time of the last kept event
        self._host, self._port = host, port
        self._stats_lock = threading.Lock()
        self._stats: dict[str, Any] = {
            "requests": 0,
            "by_path": collections.Counter(),
            "by_status": collections.Counter(),
            "by_source": collections.Counter(),
            "rate_limited": 0,
            "faults_fired": 0,
            "bytes_sent": 0,
        }
        # arrival times (monotonic) of the last second's API requests, for max_requests_per_second
        self._arrivals: collections.deque[float] = collections.deque()
        self._max_rps = 0
        self._in_flight = 0
        self._max_in_flight = 0
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Simulator:
        if self._httpd is not None:
            return self
        self._httpd = _Server((self._host, self._port), Handler)
        self._httpd.sim = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="pendo-sim",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd = None

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Wait until every connection the server has accepted is finished; True if it is.

        For tests that kill a client: a request whose bytes arrived before the kill is still
        handled. A control request (not logged) goes through the accept queue after every
        connection already waiting there, so once it is answered they have all been accepted
        and counted; then the count of open connections must reach zero."""
        httpd = self._httpd
        if httpd is None:
            return True
        with urllib.request.urlopen(f"{self.url}/_sim/health", timeout=timeout_s) as response:
            response.read()
        with httpd.idle:
            return httpd.idle.wait_for(lambda: httpd.open_connections == 0, timeout_s)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("simulator not started")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def track_url(self) -> str:
        return self.url + "/data/track"

    # ------------------------------------------------------------------ behaviour
    def key_access(self, key: str | None) -> str | None:
        if key is None:
            return None
        key = key.strip()
        if key == self.integration_key:
            return "rw"
        if key == self.read_only_key:
            return "ro"
        return None

    def track_too_soon(self, visitor_id: str) -> bool:
        """Whether an event of this visitor breaks the per-visitor limit (then it is dropped);
        only kept events count, as a refused request never reached Pendo's pipeline."""
        interval = self.options.track_min_interval_per_visitor_s
        if not interval:
            return False
        now = time.monotonic()
        with self._stats_lock:
            last = self._last_track.get(visitor_id)
            if last is not None and now - last < interval:
                return True
            self._last_track[visitor_id] = now
            return False

    def set_options(self, **changes: Any) -> None:
        """Change behaviour options at runtime (see config.SimOptions)."""
        known = set(SimOptions.__dataclass_fields__)
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown options {sorted(unknown)}")
        dataclasses.replace(self.options, **changes)  # checks the values before any is set
        for k, v in changes.items():
            setattr(self.options, k, v)

    def set_rate_limit(self, per_second: float | None) -> None:
        self.rate_limiter = RateLimiter(per_second)

    def set_now(self, ms: int | None) -> None:
        self.dataset.set_now(ms)

    def bulk_delete(self, kind: str, ids: list[str]) -> str:
        """Bulk delete marks the ids Do Not Process (`metadata.pendo.donotprocess`) and, unless
        `bulk_delete_completes` is off (Pendo queues deletions for up to 21 days), removes them
        from lists and `GET /{kind}/{id}`. Unknown ids are accepted and ignored."""
        job = uuid.uuid4().hex[:16]
        table = self.dataset.visitor_table if kind == "visitor" else self.dataset.account_table
        complete = self.options.bulk_delete_completes
        now = self.dataset.now_ms
        for i in ids:
            j = table.index_of(i)
            if j is not None:
                table.set_values(j, "pendo", {"donotprocess": True}, now)
                if complete:
                    table.deleted.add(j)
        with self._stats_lock:
            self.deleted_ids[kind].extend(ids)
        self.bulk_delete_jobs[job] = {
            "id": job,
            "kind": kind,
            "count": len(ids),
            "status": "complete" if complete else "queued",
        }
        return job

    def bulk_delete_too_soon(self) -> bool:
        """True when a bulk delete arrives within `bulk_delete_min_interval_s` of the last one
        accepted (Pendo: more than one call a second is likely to return errors)."""
        interval = self.options.bulk_delete_min_interval_s
        now = time.monotonic()
        with self._stats_lock:
            if (
                interval
                and self._last_bulk_delete is not None
                and now - self._last_bulk_delete < interval
            ):
                return True
            self._last_bulk_delete = now
            return False

    # ------------------------------------------------------------------ bookkeeping
    def _record(
        self, method: str, path: str, template: str, status: int, fault: Fault | None
    ) -> None:
        self.request_log.append((method, path, status))
        with self._stats_lock:
            s = self._stats
            s["requests"] += 1
            s["by_path"][f"{method} {template}"] += 1
            s["by_status"][str(status)] += 1
            if fault is not None:
                s["faults_fired"] += 1

    def _arrived(self) -> None:
        """Count an API request's arrival in the sliding one-second window."""
        now = time.monotonic()
        with self._stats_lock:
            arrivals = self._arrivals
            arrivals.append(now)
            while arrivals[0] <= now - 1.0:
                arrivals.popleft()
            self._max_rps = max(self._max_rps, len(arrivals))
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def _finished(self) -> None:
        with self._stats_lock:
            self._in_flight -= 1

    def reset_rate_stats(self) -> None:
        with self._stats_lock:
            self._arrivals.clear()
            self._max_rps = 0
            self._max_in_flight = self._in_flight

    def set_latency(self, **costs: float) -> None:
        """Set the latency model's costs (seconds; see config.LATENCY_PROFILES)."""
        unknown = set(costs) - set(LATENCY_FIELDS)
        if unknown:
            raise ValueError(f"unknown latency costs {sorted(unknown)}")
        for name, value in costs.items():
            value = float(value)
            if value < 0:
                raise ValueError(f"{name} must be >= 0")
            setattr(self.options, name, value)

    def latency(self) -> dict[str, float]:
        return {name: getattr(self.options, name) for name in LATENCY_FIELDS}

    def _count(self, name: str) -> None:
        with self._stats_lock:
            self._stats[name] += 1

    def _count_source(self, source: str) -> None:
        with self._stats_lock:
            self._stats["by_source"][source] += 1

    def _add_bytes(self, n: int) -> None:
        with self._stats_lock:
            self._stats["bytes_sent"] += n

    def stats(self) -> dict:
        with self._stats_lock:
            s = self._stats
            return {
                "requests": s["requests"],
                "by_path": dict(s["by_path"]),
                "by_status": dict(s["by_status"]),
                "by_source": dict(s["by_source"]),
                "rate_limited": s["rate_limited"],
                "status_429": s["by_status"].get("429", 0),
                "faults_fired": s["faults_fired"],
                "bytes_sent": s["bytes_sent"],
                "max_requests_per_second": self._max_rps,
                "max_in_flight": self._max_in_flight,
                "track_events": len(self.store.track_events),
                "dropped_track_events": len(self.store.dropped_track_events),
            }
