"""The connection-check report both plugins print (`tap-pendo --test`, `target-pendo --test`).

A `ProbeReport` collects one row per call (endpoint, status, the answer's shape as the plugin
understood it, any surprise) and renders plain text a user can paste into a bug report.
Every rendered line passes through the redactor, so no secret reaches the report.

    report = ProbeReport("tap-pendo connection check", redact=client.redactor)
    report.info("API", client.base_url)
    report.add("GET /api/v1/token/verify", 200, shape_of(body))
    report.add("POST /api/v1/aggregation (visitors)", 400, failed=True, surprise="...")
    print(report.render()); sys.exit(0 if report.ok else 1)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_KEYS_SHOWN = 8


@dataclass
class ProbeRow:
    """One line of a probe report: an endpoint, its answer's status and shape, and any surprise."""

    endpoint: str
    status: str
    shape: str
    surprise: str = ""
    failed: bool = False
    note: str = ""


def shape_of(value: Any, depth: int = 2) -> str:
    """A short description of a JSON value: `object{valid: bool, writeAccess: bool}`,
    `array[12] of object{id, name, ...}`, `empty body`. Values are never shown.
    """
    if value is None:
        return "empty body"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        if not value:
            return "array[0]"
        return f"array[{len(value)}] of {shape_of(value[0], depth - 1)}"
    if isinstance(value, dict):
        if depth <= 0:
            return "object"
        keys = list(value)
        shown = [
            f"{key}: {shape_of(value[key], 0)}" if depth > 1 else str(key)
            for key in keys[:MAX_KEYS_SHOWN]
        ]
        more = f", +{len(keys) - MAX_KEYS_SHOWN} more" if len(keys) > MAX_KEYS_SHOWN else ""
        return "object{" + ", ".join(shown) + more + "}"
    return type(value).__name__


class ProbeReport:
    """Rows of a connection check, rendered as text with secrets masked."""

    def __init__(self, title: str, *, redact: Callable[[str], str] = str) -> None:
        self.title = title
        self.redact = redact
        self.infos: list[tuple[str, str]] = []
        self.rows: list[ProbeRow] = []

    def info(self, name: str, value: str) -> None:
        """A header line (`API: https://app.pendo.io`, `key check: GET /api/v1/token/verify`)."""
        self.infos.append((name, value))

    def add(
        self,
        endpoint: str,
        status: int | str | None,
        shape: str = "",
        *,
        surprise: str = "",
        failed: bool = False,
        note: str = "",
    ) -> ProbeRow:
        """One call: `status` is the HTTP status, or a word when there was none."""
        status_text = "-" if status is None else str(status)
        row = ProbeRow(endpoint, status_text, shape, surprise, failed, note)
        self.rows.append(row)
        return row

    @property
    def ok(self) -> bool:
        """True when no call failed (surprises are reported, not failures)."""
        return not any(row.failed for row in self.rows)

    @property
    def surprises(self) -> int:
        """Calls that worked but answered something unexpected."""
        return sum(1 for row in self.rows if row.surprise and not row.failed)

    def render(self) -> str:
        lines = [self.title]
        lines += [f"  {name}: {value}" for name, value in self.infos]
        lines.append("")
        endpoint_width = max((len(row.endpoint) for row in self.rows), default=0)
        status_width = max((len(row.status) for row in self.rows), default=0)
        for row in self.rows:
            mark = "FAIL" if row.failed else "ok  "
            lines.append(
                f"{mark} {row.endpoint.ljust(endpoint_width)}  {row.status.ljust(status_width)}"
                f"  {row.shape}".rstrip()
            )
            if row.surprise:
                lines.append(f"     surprise: {row.surprise}")
            if row.note:
                lines.append(f"     note: {row.note}")
        failed = sum(1 for row in self.rows if row.failed)
        lines.append("")
        lines.append(
            f"{len(self.rows)} calls, {failed} failed, {self.surprises} surprises: "
            + ("connection OK" if not failed else "connection check FAILED")
        )
        return "\n".join(self.redact(line) for line in lines) + "\n"
