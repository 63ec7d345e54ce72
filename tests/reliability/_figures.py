"""Counters the reliability tests fill in, printed at the end of the pytest run.

The closing note of issue 7 quotes these: faults injected and survived per kind, kills and
resumes, records compared.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Figures:
    injected: Counter = field(default_factory=Counter)  # fault kind -> faults the simulator fired
    survived: Counter = field(
        default_factory=Counter
    )  # fault kind -> fired in runs that ended exact
    kills: int = 0
    resumes: int = 0
    kill_runs: int = 0
    records_compared: int = 0
    duplicates_seen: Counter = field(default_factory=Counter)  # what -> rows re-sent (same key)
    secret_paths: int = 0  # code paths (one plugin run each) scanned for secrets
    secret_bytes: int = 0  # bytes of output and files scanned
    secret_leaks: int = 0
    notes: list[str] = field(default_factory=list)  # one line per measured scenario (load, ...)

    def fault(self, kind: str, fired: int, *, survived: bool) -> None:
        self.injected[kind] += fired
        if survived:
            self.survived[kind] += fired

    def lines(self) -> list[str]:
        lines = []
        if self.injected:
            total_in, total_ok = sum(self.injected.values()), sum(self.survived.values())
            lines.append(f"faults injected {total_in}, survived {total_ok}:")
            lines += [
                f"  {kind}: {self.injected[kind]} injected, {self.survived[kind]} survived"
                for kind in sorted(self.injected)
            ]
        if self.kill_runs:
            lines.append(
                f"kill/resume: {self.kill_runs} scenarios, {self.kills} SIGKILLs, "
                f"{self.resumes} resumes from the last STATE"
            )
        if self.duplicates_seen:
            lines.append(
                "rows re-sent with the same primary key (deduplicated by key): "
                + ", ".join(f"{k} {v}" for k, v in sorted(self.duplicates_seen.items()))
            )
        if self.records_compared:
            lines.append(f"records compared with a clean run: {self.records_compared}")
        if self.secret_paths:
            lines.append(
                f"secrets: {self.secret_paths} code paths run, {self.secret_bytes:,} bytes of output "
                f"and files scanned, {self.secret_leaks} leaks"
            )
        lines += self.notes
        return lines


FIGURES = Figures()
