"""Run singer-io tap-pendo 1.2.0 against the local simulator.

Run ONLY with the peer venv's interpreter (bench/.work/peer-venv/bin/python): its package is
also named ``tap_pendo`` and must never be imported beside ours.

What this changes in the peer, and nothing else:
- ``tap_pendo.streams.US_BASE_URL`` / ``EU_BASE_URL`` point at ``$PENDO_SIM_URL`` (it has no
  host setting);
- the ``time`` used by ``tap_pendo.utils.ratelimit`` (the fixed 1-call-per-2-seconds limiter
  wrapped around every request) gets a no-op ``sleep``; its retry/backoff sleeps are untouched.
  Without this patch its timings would measure the limiter, not the tap.
"""

import os
import sys
import time
import types

import tap_pendo
import tap_pendo.streams
import tap_pendo.utils

url = os.environ["PENDO_SIM_URL"].rstrip("/")
tap_pendo.streams.US_BASE_URL = url
tap_pendo.streams.EU_BASE_URL = url
if os.environ.get("PEER_KEEP_RATELIMIT") != "1":
    tap_pendo.utils.time = types.SimpleNamespace(time=time.time, sleep=lambda _s: None)

sys.exit(tap_pendo.main())
