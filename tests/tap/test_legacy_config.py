"""Configs written for the singer-io tap-pendo (string values, a `.eu` key) work unchanged."""

from __future__ import annotations

import pytest
from singer_sdk.exceptions import ConfigValidationError

import tap_pendo.streams
from pendo_sim import Simulator
from tap_pendo.legacy_config import legacy_region, normalize_legacy_config
from tap_pendo.tap import TapPendo
from tests.helpers.tap import sync_in_process


def test_string_values_sync_like_typed_values(sim: Simulator) -> None:
    apps = sim.dataset.apps
    legacy = {
        "x_pendo_integration_key": sim.integration_key,
        "api_url": sim.url,
        "include_anonymous_visitors": "true",
        "lookback_window": "1",
        "request_timeout": "30",
        "retry_backoff_seconds": "0.01",
        "app_ids": f"{apps[0]}, ",
    }
    typed = {
        "integration_key": sim.integration_key,
        "api_url": sim.url,
        "include_anonymous_visitors": True,
        "lookback_window": 1,
        "request_timeout": 30,
        "retry_backoff_seconds": 0.01,
        "app_ids": [str(apps[0])],
    }
    old = sync_in_process(legacy, ["visitors", "pages"])
    new = sync_in_process(typed, ["visitors", "pages"])
    assert old.records["visitors"] == new.records["visitors"]
    assert any(r["visitorId"].startswith("_PENDO_T_") for r in old.records["visitors"])
    pages = old.records["pages"]
    assert pages == new.records["pages"]
    assert pages and {p["appId"] for p in pages} == {apps[0]}
    assert len(pages) == len(sim.dataset.pages([apps[0]])) < len(sim.dataset.pages())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"include_anonymous_visitors": "FALSE"}, {"include_anonymous_visitors": False}),
        ({"lookback_window": " 3 "}, {"lookback_window": 3}),
        ({"retry_backoff_seconds": "2.5"}, {"retry_backoff_seconds": 2.5}),
        ({"app_ids": [123, "456"]}, {"app_ids": ["123", "456"]}),
        ({"app_ids": "1,2 , 3"}, {"app_ids": ["1", "2", "3"]}),
        (
            {"region": "eu", "start_date": "2026-01-01"},
            {"region": "eu", "start_date": "2026-01-01"},
        ),
    ],
)
def test_normalize_converts_only_exact_forms(raw: dict, expected: dict) -> None:
    normalize_legacy_config(raw, TapPendo.config_jsonschema)
    assert raw == expected


def test_values_that_are_not_exact_forms_are_still_refused() -> None:
    config = {"integration_key": "k", "lookback_window": "one day"}
    with pytest.raises(ConfigValidationError) as raised:
        TapPendo(config=config, validate_config=True)
    assert any("lookback_window" in error for error in raised.value.errors)


def test_a_key_ending_in_eu_picks_the_eu_region_unless_region_or_url_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Discovery would GET the metadata schemas from the real regional host: the tap never
    # contacts it here (the socket guard fails the test if it tries); metadata is typed loosely.
    monkeypatch.setattr(
        tap_pendo.streams,
        "fetch_metadata_schemas",
        lambda tap: dict.fromkeys(("visitor", "account", "parentAccount")),
    )
    eu = TapPendo(config={"x_pendo_integration_key": "abc.eu"})
    assert eu.config["region"] == "eu"
    assert eu.client.base_url == "https://app.eu.pendo.io"
    us = TapPendo(config={"integration_key": "abc"})
    assert us.config["region"] == "us"
    assert us.client.base_url == "https://app.pendo.io"
    assert legacy_region({"integration_key": "abc.eu", "region": "us"}) is None
    assert legacy_region({"integration_key": "abc.eu", "api_url": "http://127.0.0.1:1"}) is None
