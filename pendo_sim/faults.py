"""Fault injection and the optional per-endpoint leaky-bucket rate limiter."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import asdict, dataclass, field

KINDS = ("status", "drop", "slow", "truncate", "invalid_json", "window_limit")


@dataclass
class Fault:
    path: str = "/api/v1/aggregation"  # regex searched in the request path (no query)
    method: str | None = None
    kind: str = "status"
    status: int = 500
    body: str = ""
    retry_after: float | int | None = None
    times: int | None = 1  # None = forever
    after_bytes: int = 0
    delay_s: float = 0.0
    max_window_hours: float = 24
    skip: int = 0
    fired: int = field(default=0, compare=False)
    seen: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}")
        self._re = re.compile(self.path)

    @classmethod
    def from_dict(cls, d: dict) -> Fault:
        allowed = {k for k in cls.__dataclass_fields__ if k not in ("fired", "seen")}
        unknown = set(d) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields {sorted(unknown)}")
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def spent(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return self._re.search(path) is not None


class FaultSet:
    """Thread-safe list of faults; `take` consumes the first live matching one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault | dict) -> Fault:
        if isinstance(fault, dict):
            fault = Fault.from_dict(fault)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def __len__(self) -> int:
        return len(self._faults)

    def take(
        self,
        method: str,
        path: str,
        window_hours: float | None = None,
        kinds: tuple[str, ...] | None = None,
    ) -> Fault | None:
        """The fault to apply to this request, if any (counts skip/times).

        window_limit faults only match aggregation requests whose timeSeries exceeds their limit;
        they are considered only when `kinds` includes them (after the request was parsed).
        """
        with self._lock:
            for f in self._faults:
                if f.spent or not f.matches(method, path):
                    continue
                if kinds is not None and f.kind not in kinds:
                    continue
                if kinds is None and f.kind == "window_limit":
                    continue
                if f.kind == "window_limit" and (
                    window_hours is None or window_hours <= f.max_window_hours
                ):
                    continue
                if f.seen < f.skip:
                    f.seen += 1
                    continue
                f.fired += 1
                return f
        return None


class RateLimiter:
    """Leaky bucket per endpoint template: capacity = rate, drains at `rate` requests/second."""

    def __init__(self, per_second: float | None):
        self.rate = per_second
        self._lock = threading.Lock()
        self._level: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> tuple[bool, float]:
        """(allowed, seconds until one slot frees)."""
        if not self.rate:
            return True, 0.0
        now = time.monotonic()
        with self._lock:
            level, ts = self._level.get(key, (0.0, now))
            level = max(0.0, level - (now - ts) * self.rate)
            if level + 1 > self.rate:
                self._level[key] = (level, now)
                return False, (level + 1 - self.rate) / self.rate
            self._level[key] = (level + 1, now)
            return True, 0.0
