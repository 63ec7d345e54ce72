"""Unit tests that need no simulator: regions, filter literals, epoch-ms helpers, metadata typing."""

from __future__ import annotations

import json

import pytest

from pendo_http import resolve_api_base
from tap_pendo.client import ms_to_iso, to_ms
from tap_pendo.filters import keyset_after, quote
from tap_pendo.schemas import ANY, metadata_field_schema


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("us", "https://app.pendo.io"),
        ("eu", "https://app.eu.pendo.io"),
        ("us1", "https://us1.app.pendo.io"),
        ("jpn", "https://app.jpn.pendo.io"),
        ("au", "https://app.au.pendo.io"),
        ("EU", "https://app.eu.pendo.io"),
        (None, "https://app.pendo.io"),
    ],
)
def test_region_hosts(region: str | None, host: str) -> None:
    assert resolve_api_base(region) == host


def test_api_url_overrides_region() -> None:
    assert resolve_api_base("eu", "http://127.0.0.1:8080/api/v1/") == "http://127.0.0.1:8080"


def test_unknown_region_names_the_setting() -> None:
    with pytest.raises(ValueError, match="region"):
        resolve_api_base("mars")


@pytest.mark.parametrize(
    "value", ['quote"visitor', "back\\slash", 'both\\"mixed', "用户", "tab\tx", "🚀", ""]
)
def test_quote_round_trips(value: str) -> None:
    literal = quote(value)
    assert literal.startswith('"') and literal.endswith('"')
    assert json.loads(literal) == value


def test_keyset_filter_shape() -> None:
    assert keyset_after("metadata.auto.lastupdated", "visitorId", 5, 'a"b') == (
        '(metadata.auto.lastupdated > 5) || (metadata.auto.lastupdated == 5 && visitorId > "a\\"b")'
    )


def test_epoch_ms_helpers() -> None:
    assert ms_to_iso(1535558257624) == "2018-08-29T15:57:37.624Z"
    assert to_ms("2018-08-29T15:57:37.624Z") == 1535558257624
    assert to_ms("2026-03-01") == 1772323200000
    assert to_ms(1535558257624) == 1535558257624
    assert to_ms(None) is None


@pytest.mark.parametrize(
    ("descriptor", "types"),
    [
        ({"Type": "string"}, ["string", "null"]),
        ({"Type": "time"}, ["integer", "null"]),
        ({"Type": "boolean"}, ["boolean", "null"]),
        ({"Type": "integer"}, ["integer", "null"]),
        ({"Type": "float"}, ["number", "null"]),
        ({"Type": "list"}, ["array", "null"]),
        ({"Type": ""}, ANY["type"]),
        ({"Type": "hologram"}, ANY["type"]),
        ({}, ANY["type"]),
        (None, ANY["type"]),
    ],
)
def test_metadata_types(descriptor: dict | None, types: list[str]) -> None:
    assert metadata_field_schema(descriptor)["type"] == types
