"""A connection check's report: one row per endpoint called, rendered as plain text.

Both plugins' `--test` fill one: the endpoint, the answer's status, the answer's shape as the
plugin understood it, and anything that surprised it. Every text passes the redactor, so the
report can be pasted into a bug report as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class ProbeRow:
    endpoint: str
    status: str
    shape: str
    surprise: str = ""
    ok: bool = True
    note: str = ""


@dataclass
class ProbeReport:
    title: str
    redact: Callable[[str], str] = str
    facts: list[tuple[str, str]] = field(default_factory=list)
    rows: list[ProbeRow] = field(default_factory=list)

    def fact(self, name: str, value: str) -> None:
        self.facts.append((name, value))

    def add(
        self,
        endpoint: str,
        status: str,
        shape: str,
        surprise: str = "",
        *,
        ok: bool = True,
        note: str = "",
    ) -> ProbeRow:
        row = ProbeRow(endpoint, status, shape, surprise, ok, note)
        self.rows.append(row)
        return row

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    def render(self) -> str:
        lines = [self.title]
        lines += [f"  {name}: {value}" for name, value in self.facts]
        lines.append("")
        for row in self.rows:
            mark = "ok  " if row.ok else "FAIL"
            lines.append(f"{mark} {row.endpoint} -> {row.status}")
            lines.append(f"     shape: {row.shape}")
            if row.surprise:
                lines.append(f"     surprise: {row.surprise}")
            if row.note:
                lines.append(f"     note: {row.note}")
        problems = sum(not row.ok for row in self.rows)
        lines.append("")
        lines.append(
            f"result: OK ({len(self.rows)} checks)"
            if not problems
            else f"result: {problems} of {len(self.rows)} checks failed"
        )
        return self.redact("\n".join(lines))


__all__ = ["ProbeReport", "ProbeRow"]
