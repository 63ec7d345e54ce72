"""The pendo-sim CLI, and flat memory while streaming a 1,000,000-visitor response."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

import psutil
import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def start_cli(*args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pendo_sim", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    line = proc.stdout.readline().strip()
    assert line.startswith("PENDO_SIM_URL=http://127.0.0.1:"), (
        line,
        proc.stderr.read() if proc.poll() else "",
    )
    return proc, line.split("=", 1)[1]


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def test_cli_prints_url_and_serves():
    proc, url = start_cli(
        "--seed",
        "3",
        "--visitors",
        "50",
        "--accounts",
        "5",
        "--event-days",
        "1",
        "--event-rows-per-day",
        "20",
        "--integration-key",
        "k1",
        "--track-secret",
        "s1",
    )
    try:
        r = requests.get(url + "/api/v1/token/verify", headers={"x-pendo-integration-key": "k1"})
        assert r.json() == {"valid": True, "writeAccess": True}
        assert requests.get(url + "/_sim/health").json()["ok"] is True
        body = {
            "request": {
                "pipeline": [
                    {"source": {"visitors": None}},
                    {"identified": "visitorId"},
                    {"count": None},
                ]
            }
        }
        r = requests.post(
            url + "/api/v1/aggregation", json=body, headers={"x-pendo-integration-key": "k1"}
        )
        assert r.json()["results"] == [{"count": 50}]
    finally:
        assert stop(proc) == 0


def test_cli_rate_limit_flag():
    proc, url = start_cli(
        "--visitors",
        "20",
        "--accounts",
        "3",
        "--rate-limit",
        "2",
        "--option",
        "coerce_wrong_types=true",
        "--option",
        "track_drop_after_days=3",
    )
    try:
        opts = requests.get(url + "/_sim/options").json()
        assert opts["coerce_wrong_types"] is True and opts["track_drop_after_days"] == 3
        codes = [
            requests.get(
                url + "/api/v1/page", headers={"x-pendo-integration-key": "sim-key-rw"}
            ).status_code
            for _ in range(6)
        ]
        assert 429 in codes
    finally:
        stop(proc)


def stream(url: str, pipeline: list, ps: psutil.Process) -> tuple[int, float, float, bytes, bytes]:
    """POST an aggregation, read it all; (bytes, seconds, peak RSS growth MiB, head, tail)."""
    hdr = {"x-pendo-integration-key": "sim-key-rw", "content-type": "application/json"}
    base = ps.memory_info().rss
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            try:
                peak[0] = max(peak[0], ps.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    started = time.monotonic()
    conn.request(
        "POST",
        "/api/v1/aggregation",
        body=json.dumps({"request": {"pipeline": pipeline}}),
        headers=hdr,
    )
    resp = conn.getresponse()
    assert resp.status == 200
    total, head, tail = 0, b"", b""
    while True:
        chunk = resp.read(1 << 20)
        if not chunk:
            break
        if len(head) < 200:
            head += chunk[:200]
        tail = (tail + chunk)[-200:]
        total += len(chunk)
    elapsed = time.monotonic() - started
    done.set()
    t.join()
    conn.close()
    return total, elapsed, (peak[0] - base) / 2**20, head, tail


@pytest.mark.slow
def test_million_row_streams_have_flat_memory():
    proc, url = start_cli(
        "--visitors",
        "1000000",
        "--anonymous-visitors",
        "1000",
        "--accounts",
        "1000",
        "--event-days",
        "1",
        "--event-rows-per-day",
        "1000000",
    )
    try:
        ps = psutil.Process(proc.pid)
        pipe = [
            {"source": {"visitors": None}},
            {"identified": "visitorId"},
            {"filter": "metadata.auto.lastupdated >= 0"},
            {"sort": ["metadata.auto.lastupdated", "visitorId"]},
        ]
        # warm the presorted index (built once per dataset version)
        total, *_ = stream(url, pipe + [{"limit": 1}], ps)
        assert total < 2000
        total, elapsed, growth, head, tail = stream(url, pipe + [{"limit": 2_000_000}], ps)
        assert head.startswith(b'{"startTime":') and tail.endswith(b"]}") and total > 500_000_000
        print(
            f"\n1M visitors: {total / 2**20:.0f} MiB in {elapsed:.1f}s "
            f"({1_000_000 / elapsed:,.0f} rows/s), RSS growth {growth:.1f} MiB"
        )
        assert growth < 60
        first = 1772773200000  # 2026-03-06 local midnight, America/New_York
        events = [
            {
                "source": {
                    "pageEvents": {"appId": 'expandAppIds("*")'},
                    "timeSeries": {"period": "dayRange", "first": first, "count": 1},
                }
            }
        ]
        total, elapsed, growth, head, tail = stream(url, events, ps)
        assert tail.endswith(b"]}") and total > 200_000_000
        print(
            f"1M pageEvents: {total / 2**20:.0f} MiB in {elapsed:.1f}s "
            f"({1_000_000 / elapsed:,.0f} rows/s), RSS growth {growth:.1f} MiB"
        )
        assert growth < 60
    finally:
        stop(proc)
