"""Shared helpers for the benchmarks: the simulator subprocess, measured plugin runs, tables.

Every plugin run is a child process of this script and is reaped with ``os.wait4``, so the
peak RSS and CPU time reported are those of that plugin process alone (its ``ru_maxrss``),
never the simulator's, which runs as another subprocess with its own CPU.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / ".work"
VENV_BIN = ROOT / ".venv" / "bin"
PY = str(VENV_BIN / "python")
PEER_VENV = WORK / "peer-venv"
PEER_PY = str(PEER_VENV / "bin" / "python")
INTEGRATION_KEY = "bench-key-0000.us"  # passed to pendo-sim --integration-key (no ".eu": US host)
TRACK_SECRET = "bench-track-secret"
RSS_GOAL_MB = 250.0

METRIC_RE = re.compile(r"METRIC: (\{.*\})")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Simulator
# ---------------------------------------------------------------------------------------------


@dataclass
class SimConfig:
    visitors: int = 1000
    event_days: int = 1
    event_rows_per_day: int = 1000
    rate_limit: int | None = None
    seed: int = 7
    extra: Sequence[str] = ()

    def argv(self) -> list[str]:
        argv = [
            str(VENV_BIN / "pendo-sim"),
            "--port",
            "0",
            "--seed",
            str(self.seed),
            "--visitors",
            str(self.visitors),
            "--event-days",
            str(self.event_days),
            "--event-rows-per-day",
            str(self.event_rows_per_day),
        ]
        argv += ["--integration-key", INTEGRATION_KEY, "--track-secret", TRACK_SECRET]
        if self.rate_limit:
            argv += ["--rate-limit", str(self.rate_limit)]
        return argv + list(self.extra)


class Sim:
    """``pendo-sim`` as a subprocess; ``url`` is its base URL (without /api/v1)."""

    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.errlog = tempfile.NamedTemporaryFile(  # noqa: SIM115 - the sim's stderr while it lives
            prefix="pendo-sim-", suffix=".log", delete=False
        )

    def __enter__(self) -> Sim:
        log(f"starting simulator: {' '.join(self.cfg.argv()[1:])}")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.cfg.argv(), stdout=subprocess.PIPE, stderr=self.errlog, cwd=str(ROOT)
        )
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline().decode()
            if not line:
                self.proc.wait()
                err = Path(self.errlog.name).read_text()[-3000:]
                raise RuntimeError(
                    f"pendo-sim exited ({self.proc.returncode}) before its URL:\n{err}"
                )
            if line.startswith("PENDO_SIM_URL="):
                self.url = line.strip().split("=", 1)[1].rstrip("/")
                break
        log(f"simulator at {self.url} (ready in {time.perf_counter() - t0:.1f}s)")
        # Keep draining stdout so the simulator never blocks on a full pipe.
        import threading

        def drain(stream) -> None:
            for _ in iter(stream.readline, b""):
                pass

        threading.Thread(target=drain, args=(self.proc.stdout,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    # Control endpoints of the simulator (best effort: the bench works without them).
    def get_json(self, path: str) -> object | None:
        try:
            with urllib.request.urlopen(self.url + path, timeout=30) as resp:
                return json.loads(resp.read())
        except Exception as exc:
            log(f"GET {path} failed: {exc}")
            return None

    def post_json(self, path: str, body: object | None = None) -> object | None:
        data = json.dumps(body or {}).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method="POST", headers={"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return json.loads(raw) if raw else {}
        except Exception as exc:
            log(f"POST {path} failed: {exc}")
            return None

    def stats(self) -> dict:
        got = self.get_json("/_sim/stats")
        return got if isinstance(got, dict) else {}

    def requests_log(self) -> list[dict]:
        """The simulator's request log: method, path, status of every request (no bodies)."""
        got = self.get_json("/_sim/request_log")
        if not isinstance(got, list):
            return []
        return [
            dict(zip(("method", "path", "status"), e, strict=False)) if isinstance(e, list) else e
            for e in got
        ]


# ---------------------------------------------------------------------------------------------
# Measured runs
# ---------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    name: str
    stream: str
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    records: int | None
    rc: int
    stderr_tail: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def rps(self) -> float | None:
        if not self.records or self.wall_s <= 0:
            return None
        return self.records / self.wall_s


def count_records(stderr_text: str, stream: str) -> int | None:
    """Sum the record counters the plugin logged (singer-sdk and singer-python both log them)."""
    total = 0
    seen = False
    for m in METRIC_RE.finditer(stderr_text):
        try:
            point = json.loads(m.group(1))
        except ValueError:
            continue
        if point.get("metric") != "record_count":
            continue
        tags = point.get("tags") or {}
        if tags.get("stream", tags.get("endpoint")) == stream:
            total += int(point.get("value") or 0)
            seen = True
    return total if seen else None


def run_measured(
    name: str,
    stream: str,
    argv: Sequence[str],
    *,
    env: dict | None = None,
    stdin_path: str | None = None,
    stdout_path: str = os.devnull,
    timeout: float = 3600,
    cwd: str | None = None,
) -> RunResult:
    """Run one plugin process, stdout to /dev/null, and read its own rusage via wait4."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("PYTHONUNBUFFERED", "0")
    # The three files are closed explicitly once wait4 has reaped the process.
    err = tempfile.TemporaryFile()  # noqa: SIM115 - closed after wait4
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL  # noqa: SIM115 - same
    out = open(stdout_path, "wb")  # noqa: SIM115 - closed after wait4
    t0 = time.perf_counter()
    proc = subprocess.Popen(list(argv), stdin=stdin, stdout=out, stderr=err, env=full_env, cwd=cwd)
    deadline = t0 + timeout
    status = None
    ru = None
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            _, status, ru = os.wait4(proc.pid, 0)
            break
        time.sleep(0.01)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.close()
    if not isinstance(stdin, int):  # an open file, not subprocess.DEVNULL
        stdin.close()
    err.seek(0)
    stderr_text = err.read().decode(errors="replace")
    err.close()
    rc = proc.returncode
    records = count_records(stderr_text, stream)
    res = RunResult(
        name=name,
        stream=stream,
        wall_s=wall,
        cpu_s=ru.ru_utime + ru.ru_stime,
        max_rss_mb=ru.ru_maxrss / 1024.0,  # Linux: kilobytes
        records=records,
        rc=rc,
        stderr_tail=stderr_text[-4000:],
    )
    res.extra["stderr"] = stderr_text
    logs = WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / f"{name}-{stream}-{time.strftime('%H%M%S')}.log").write_text(stderr_text)
    log(
        f"{name:<10} {stream:<12} rc={rc} records={records} wall={wall:.2f}s "
        f"cpu={res.cpu_s:.2f}s rss={res.max_rss_mb:.0f}MB"
        + (f" rec/s={res.rps:,.0f}" if res.rps else "")
    )
    if rc != 0:
        log(f"{name} failed; stderr tail:\n{stderr_text[-2500:]}")
    return res


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def median(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v: float | int | None, spec: str = ",.0f") -> str:
    if v is None:
        return "n/a"
    return format(v, spec)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-markdown table (also readable on a terminal)."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, r in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def verdict(ok: bool | None) -> str:
    if ok is None:
        return "n/a"
    return "PASS" if ok else "FAIL"


@contextlib.contextmanager
def tmpdir(prefix: str) -> Iterator[Path]:
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=prefix, dir=WORK) as d:
        yield Path(d)


def write_json(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj, indent=1))
    return path
