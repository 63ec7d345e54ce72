"""Cheap deterministic integer hashing (splitmix64) for per-row synthetic values."""

from __future__ import annotations

import base64
import hashlib

_M = (1 << 64) - 1


def mix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _M
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M
    return x ^ (x >> 31)


def mix2(a: int, b: int) -> int:
    return mix((mix(a) ^ (b * 0x632BE59BD9B4E019)) & _M)


def seed_for(*parts) -> int:
    h = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big")


def pendo_id(*parts) -> str:
    """A 27-char url-safe id like Pendo's page/feature ids."""
    h = hashlib.sha1(repr(parts).encode()).digest()
    return base64.urlsafe_b64encode(h).decode().rstrip("=")[:27]
