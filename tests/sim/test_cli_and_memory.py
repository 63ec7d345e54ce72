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
    proc = subprocess.Popen([sys.executable, "-m", "pendo_sim", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    line = proc.stdout.readline().strip()
    assert line.startswith("PENDO_SIM_URL=http://127.0.0.1:"), (line, proc.stderr.read() if proc.poll() else "")
    return proc, line.split("=", 1)[1]


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def test_cli_prints_url_and_serves():
    proc, url = start_cli("--seed", "3", "--visitors", "50", "--accounts", "5", "--event-days", "1",
                          "--event-rows-per-day", "20", "--integration-key", "k1", "--track-secret", "s1")
    try:
        r = requests.get(url + "/api/v1/token/verify", headers={"x-pendo-integration-key": "k1"})
        assert r.json() == {"valid": True, "writeAccess": True}
        assert requests.get(url + "/_sim/health").json()["ok"] is True
        body = {"request": {"pipeline": [{"source": {"visitors": None}}, {"identified": "visitorId"},
                                         {"count": None}]}}
        r = requests.post(url + "/api/v1/aggregation", json=body, headers={"x-pendo-integration-key": "k1"})
        assert r.json()["results"] == [{"count": 50}]
    finally:
        assert stop(proc) == 0


def test_cli_rate_limit_flag():
    proc, url = start_cli("--visitors", "20", "--accounts", "3", "--rate-limit", "2")
    try:
        codes = [requests.get(url + "/api/v1/page", headers={"x-pendo-integration-key": "sim-key-rw"}).status_code
                 for _ in range(6)]
        assert 429 in codes
    finally:
        stop(proc)


@pytest.mark.slow
def test_million_visitor_stream_has_flat_memory():
    proc, url = start_cli("--visitors", "1000000", "--anonymous-visitors", "1000", "--accounts", "1000",
                          "--event-days", "1", "--event-rows-per-day", "10")
    try:
        ps = psutil.Process(proc.pid)
        hdr = {"x-pendo-integration-key": "sim-key-rw", "content-type": "application/json"}
        pipe = [{"source": {"visitors": None}}, {"identified": "visitorId"},
                {"filter": "metadata.auto.lastupdated >= 0"},
                {"sort": ["metadata.auto.lastupdated", "visitorId"]}]
        # warm the presorted index (built once per dataset version)
        warm = {"request": {"pipeline": pipe + [{"limit": 1}]}}
        assert requests.post(url + "/api/v1/aggregation", json=warm, headers=hdr).status_code == 200
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
        body = json.dumps({"request": {"pipeline": pipe + [{"limit": 2_000_000}]}})
        started = time.monotonic()
        conn.request("POST", "/api/v1/aggregation", body=body, headers=hdr)
        resp = conn.getresponse()
        assert resp.status == 200
        total = 0
        head = b""
        tail = b""
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
        assert head.startswith(b'{"startTime":') and tail.endswith(b"]}")
        assert total > 500_000_000
        growth_mb = (peak[0] - base) / 2**20
        print(f"\n1M visitors: {total / 2**20:.0f} MiB in {elapsed:.1f}s "
              f"({1_000_000 / elapsed:,.0f} rows/s), RSS growth {growth_mb:.1f} MiB")
        assert growth_mb < 60
    finally:
        stop(proc)
