"""What the security tests share: the simulator's secrets and the figures printed at the end."""

from __future__ import annotations

from collections import Counter

KEY = "sec-key-4f1e9a7c2b"
TRACK_SECRET = "sec-track-8d2c5e1f0a"
FIGURES: Counter[str] = Counter()
