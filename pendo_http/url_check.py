"""A warning for a configured URL that would send a key in clear text."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_warning(setting: str, url: str | None) -> str | None:
    """The warning for an `http://` URL to a host other than loopback, else None."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme.lower() != "http" or _is_loopback(parts.hostname or ""):
        return None
    return (
        f"`{setting}` uses http:// to {parts.hostname}: the key and every record would cross "
        "the network unencrypted. Use https:// unless this is a proxy on this machine."
    )
