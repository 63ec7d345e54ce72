"""`pendo-sim` command: start a simulator and serve until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from .config import LATENCY_PROFILES, DatasetConfig, latency_profile
from .simulator import Simulator


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pendo-sim", description="Local Pendo v1 API simulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--visitors", type=int, default=300)
    p.add_argument("--accounts", type=int, default=40)
    p.add_argument("--anonymous-visitors", type=int, default=20)
    p.add_argument("--event-days", type=int, default=3)
    p.add_argument("--event-rows-per-day", type=int, default=500)
    p.add_argument("--guide-events-per-day", type=int, default=200)
    p.add_argument("--poll-events-per-day", type=int, default=50)
    p.add_argument("--start-ms", type=int, default=None)
    p.add_argument("--now-ms", type=int, default=None)
    p.add_argument("--tie-group", type=int, default=50)
    p.add_argument("--rate-limit", type=float, default=None, help="requests/second per endpoint")
    p.add_argument(
        "--retry-after", action="store_true", help="send Retry-After with rate-limit 429s"
    )
    p.add_argument(
        "--latency-profile",
        default=None,
        choices=sorted(LATENCY_PROFILES),
        help="latency model preset (assumptions, see config.LATENCY_PROFILES); default off",
    )
    p.add_argument(
        "--latency-scale",
        type=float,
        default=1.0,
        help="multiply every latency cost (e.g. 0.05 to run a profile 20x faster)",
    )
    p.add_argument("--latency-request", type=float, default=None, help="seconds per API request")
    p.add_argument(
        "--latency-per-row", type=float, default=None, help="seconds per aggregation result row"
    )
    p.add_argument(
        "--latency-per-day",
        type=float,
        default=None,
        help="seconds per day of an event aggregation's range",
    )
    p.add_argument("--timezone", default="America/New_York")
    p.add_argument("--integration-key", default="sim-key-rw")
    p.add_argument("--read-only-key", default="sim-key-ro")
    p.add_argument("--track-secret", default="track-secret-123")
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="behaviour option (config.SimOptions), VALUE parsed as JSON; repeatable",
    )
    return p


def parse_options(items: list[str]) -> dict:
    out = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep:
            raise SystemExit(f"--option expects NAME=VALUE, got {item!r}")
        try:
            out[name.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[name.strip()] = raw
    return out


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    cfg = DatasetConfig(
        seed=a.seed,
        visitors=a.visitors,
        accounts=a.accounts,
        anonymous_visitors=a.anonymous_visitors,
        event_days=a.event_days,
        event_rows_per_day=a.event_rows_per_day,
        guide_events_per_day=a.guide_events_per_day,
        poll_events_per_day=a.poll_events_per_day,
        start_ms=a.start_ms,
        timezone=a.timezone,
        lastupdated_tie_group=a.tie_group,
    )
    sim = Simulator(
        cfg,
        now_ms=a.now_ms,
        rate_limit_per_second=a.rate_limit,
        track_secret=a.track_secret,
        integration_key=a.integration_key,
        read_only_key=a.read_only_key,
        host=a.host,
        port=a.port,
        **{"rate_limit_retry_after": a.retry_after, **parse_options(a.option)},
    )
    latency = latency_profile(a.latency_profile or "off", a.latency_scale)
    for name, value in (
        ("latency_request_s", a.latency_request),
        ("latency_per_row_s", a.latency_per_row),
        ("latency_per_day_s", a.latency_per_day),
    ):
        if value is not None:
            latency[name] = value * a.latency_scale
    sim.set_latency(**latency)
    stop = threading.Event()

    def _stop(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sim.start()
    # The keys it accepts are its own test keys (never a real Pendo secret): printed beside
    # the URL so a user can configure the plugins without reading the source.
    sys.stdout.write(
        f"PENDO_SIM_URL={sim.url}\n"
        f"PENDO_SIM_INTEGRATION_KEY={sim.integration_key}\n"
        f"PENDO_SIM_READ_ONLY_KEY={sim.read_only_key}\n"
        f"PENDO_SIM_TRACK_SECRET={sim.track_secret}\n"
        f"PENDO_SIM_TRACK_URL={sim.track_url}\n"
    )
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
