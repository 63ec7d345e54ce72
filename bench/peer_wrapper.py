"""Run singer-io tap-pendo 1.2.0 against the local simulator.

Run ONLY with the peer venv's interpreter (bench/.work/peer-venv/bin/python): its package is
also named ``tap_pendo`` and must never be imported beside ours.

What this changes in the peer, and nothing else:
- ``tap_pendo.streams.US_BASE_URL`` / ``EU_BASE_URL`` point at ``$PENDO_SIM_URL`` (it has no
  host setting);
- the ``time`` used by its ``@ratelimit(1, 2)`` (the fixed 1-call-per-2-seconds limiter wrapped
  around every request) gets a no-op ``sleep``; its retry/backoff sleeps are untouched. Without
  this patch its timings would measure the limiter, not the tap.

Note: ``tap_pendo/streams.py`` does ``from tap_pendo import utils`` while the package is half
imported and ``tap_pendo.utils`` is still ``singer.utils`` (bound in ``tap_pendo/__init__``), so
the limiter it actually applies is ``singer.utils.ratelimit``. Importing ``tap_pendo.utils``
here would rebind ``tap_pendo.utils`` and break its ``main()``; patch the module it really uses.
"""

import os
import sys
import time
import types

import tap_pendo
import tap_pendo.streams

url = os.environ["PENDO_SIM_URL"].rstrip("/")
tap_pendo.streams.US_BASE_URL = url
tap_pendo.streams.EU_BASE_URL = url
if os.environ.get("PEER_KEEP_RATELIMIT") != "1":
    limiter_module = tap_pendo.streams.tap_pendo_utils  # singer.utils, see above
    limiter_module.time = types.SimpleNamespace(time=time.time, sleep=lambda _s: None)
    print(
        f"peer_wrapper: rate limiter sleep patched out in {limiter_module.__name__}",
        file=sys.stderr,
    )

sys.exit(tap_pendo.main())
