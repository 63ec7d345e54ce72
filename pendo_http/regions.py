"""Pendo regions and their hosts (shared/pendo-api.md §1.1)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    """One Pendo data centre: where its API and its track endpoint live."""

    name: str
    api_base: str
    track_url: str


REGIONS: dict[str, Region] = {
    region.name: region
    for region in (
        Region("us", "https://app.pendo.io", "https://app.pendo.io/data/track"),
        Region("eu", "https://app.eu.pendo.io", "https://data.eu.pendo.io/data/track"),
        Region("us1", "https://us1.app.pendo.io", "https://us1.data.pendo.io/data/track"),
        Region("jpn", "https://app.jpn.pendo.io", "https://data.jpn.pendo.io/data/track"),
        Region("au", "https://app.au.pendo.io", "https://data.au.pendo.io/data/track"),
    )
}

DEFAULT_REGION = "us"


def _region(name: str | None) -> Region:
    key = (name or DEFAULT_REGION).strip().lower()
    try:
        return REGIONS[key]
    except KeyError:
        choices = ", ".join(REGIONS)
        msg = f"Unknown `region` {name!r}: choose one of {choices}, or set `api_url`."
        raise ValueError(msg) from None


def resolve_api_base(region: str | None = None, api_url: str | None = None) -> str:
    """The base URL (without `/api/v1`) requests go to: `api_url` wins over `region`."""
    if api_url:
        base = api_url.rstrip("/")
        if base.endswith("/api/v1"):
            base = base[: -len("/api/v1")]
        return base
    return _region(region).api_base


def resolve_track_url(
    region: str | None = None,
    api_url: str | None = None,
    track_url: str | None = None,
) -> str:
    """The track-event endpoint: `track_url`, else `api_url` + /data/track, else the region's."""
    if track_url:
        return track_url.rstrip("/")
    if api_url:
        return resolve_api_base(api_url=api_url) + "/data/track"
    return _region(region).track_url
