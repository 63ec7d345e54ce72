"""Unit tests of the target's pure parts: conversions, stream configuration, the rate limiter."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from pendo_http.jsonbody import json_bytes
from target_pendo.convert import (
    ConversionError,
    convert_metadata_value,
    hidden_property_reason,
    to_epoch_ms,
)
from target_pendo.http import TokenBucket
from target_pendo.streams_config import StreamConfigError, get_path, resolve_stream_spec

MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z


@pytest.mark.parametrize(
    "value",
    [
        "2023-11-14T22:13:20Z",
        "2023-11-14T22:13:20.000+00:00",
        "2023-11-14T23:13:20+01:00",
        "2023-11-14T22:13:20",  # naive means UTC
        dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.timezone.utc),
        MS,
        MS // 1000,  # epoch seconds
        float(MS // 1000),
        Decimal(MS),
        str(MS),
        str(MS // 1000),
    ],
)
def test_to_epoch_ms_accepts_every_time_shape(value: object) -> None:
    assert to_epoch_ms(value) == MS


def test_to_epoch_ms_dates_and_rejects() -> None:
    assert to_epoch_ms(dt.date(2023, 11, 14)) == 1_699_920_000_000
    assert to_epoch_ms("2023-11-14") == 1_699_920_000_000
    for bad in ("yesterday", True, None, "", [1]):
        with pytest.raises(ConversionError):
            to_epoch_ms(bad)


@pytest.mark.parametrize(
    ("value", "pendo_type", "expected"),
    [
        ("true", "boolean", True),
        ("False", "boolean", False),
        ("yes", "boolean", True),
        (0, "boolean", False),
        (Decimal("5"), "integer", 5),
        ("42", "integer", 42),
        (7.0, "integer", 7),
        (Decimal("1.25"), "float", 1.25),
        ("3.5", "float", 3.5),
        (10, "float", 10),
        (12, "string", "12"),
        (True, "string", "true"),
        (Decimal("1.50"), "string", "1.5"),
        ("2023-11-14T22:13:20Z", "time", MS),
        (dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.timezone.utc), "time", MS),
        (MS // 1000, "time", MS),
        ("a", "list", ["a"]),
        (["a", Decimal("2")], "list", ["a", 2]),
        (Decimal("2.5"), "", 2.5),
        (None, "integer", None),
    ],
)
def test_convert_metadata_value(value: object, pendo_type: str, expected: object) -> None:
    assert convert_metadata_value(value, pendo_type) == expected


def test_time_can_be_iso() -> None:
    assert convert_metadata_value(MS, "time", time_format="iso") == "2023-11-14T22:13:20.000Z"


@pytest.mark.parametrize(
    ("value", "pendo_type"),
    [
        ("maybe", "boolean"),
        (2, "boolean"),
        ("1.5", "integer"),
        (True, "integer"),
        ("abc", "float"),
        (float("nan"), "float"),
        ("not a date", "time"),
        (Decimal("Infinity"), "integer"),
        (2**63, "integer"),
    ],
)
def test_convert_rejects(value: object, pendo_type: str) -> None:
    with pytest.raises(ConversionError):
        convert_metadata_value(value, pendo_type)


def test_json_bytes_takes_what_orjson_refuses() -> None:
    """Big integers and lone surrogates can come from any tap: encoded, not a crash."""
    assert json.loads(json_bytes({"n": 2**70})) == {"n": 2**70}
    assert json.loads(json_bytes({"s": "\ud800"})) == {"s": "\ud800"}
    assert json_bytes({"n": 1}) == b'{"n":1}'


@pytest.mark.parametrize(
    ("name", "hidden"),
    [
        ("plan", False),
        ("plan_2", False),
        ("_x", False),
        ("a" * 32, False),
        ("a" * 33, True),
        ("2fa", True),
        ("__x__", True),
        ("has space", True),
        ("dash-ed", True),
        ("é", True),
    ],
)
def test_hidden_property_names(name: str, hidden: bool) -> None:
    assert (hidden_property_reason(name) is not None) is hidden


def test_stream_inference_and_errors() -> None:
    assert resolve_stream_spec("visitors", None).object == "visitor"
    assert resolve_stream_spec("accounts", {}).object == "account"
    assert resolve_stream_spec("track_events", {}).object == "track_event"
    assert resolve_stream_spec("tap_pendo-visitors", {}).object == "visitor"
    spec = resolve_stream_spec(
        "users",
        {"users": {"object": "visitor", "id_field": "uid", "fields": ["Plan"], "create": True}},
    )
    assert (spec.object, spec.id_field, spec.fields, spec.create) == (
        "visitor",
        "uid",
        {"Plan": "Plan"},
        True,
    )
    assert resolve_stream_spec("anything", {"*": {"object": "account"}}).object == "account"
    with pytest.raises(
        StreamConfigError, match=r"does not know what to write for stream `orders`.*streams"
    ):
        resolve_stream_spec("orders", {})
    with pytest.raises(StreamConfigError, match="must be one of"):
        resolve_stream_spec("x", {"x": {"object": "contact"}})
    with pytest.raises(StreamConfigError, match="context_fields"):
        resolve_stream_spec(
            "e", {"e": {"object": "track_event", "context_fields": {"browser": "b"}}}
        )


def test_get_path() -> None:
    record = {"a": 1, "metadata": {"custom": {"plan": "pro"}}, "x.y": 2}
    assert get_path(record, "a") == (True, 1)
    assert get_path(record, "metadata.custom.plan") == (True, "pro")
    assert get_path(record, "x.y") == (True, 2)
    assert get_path(record, "metadata.agent.plan") == (False, None)


def test_token_bucket_limits_rate() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(10, clock=lambda: now[0], sleep=sleep)
    for _ in range(30):
        bucket.acquire()
    # 10 tokens of burst, then 20 more at 10/s: about 2 seconds of waiting.
    assert sum(slept) == pytest.approx(2.0, rel=0.01)
