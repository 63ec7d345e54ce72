"""PendoClient writes the SDK's `http_request_duration` metric for every answer.

The plugins do not use the SDK's RESTStream, which is what writes this metric in other taps;
Meltano and log tooling that read `METRIC:` lines expect it, so the shared client writes the
same point: one per HTTP answer, retried ones included, tagged with the endpoint.
"""

from __future__ import annotations

import json
import logging

import pytest
import requests_mock

from pendo_http import PendoClient, PendoRetriableError, RetryPolicy

BASE = "https://user:pw-secret@pendo.test"
KEY = "key-0123456789abcdef"


def _points(caplog: pytest.LogCaptureFixture) -> list[dict]:
    lines = [r.getMessage() for r in caplog.records if r.name == "singer_sdk.metrics"]
    return [json.loads(line.removeprefix("METRIC: ")) for line in lines]


@pytest.fixture
def client() -> PendoClient:
    policy = RetryPolicy(max_tries=2, jitter=None)
    return PendoClient(base_url=BASE, integration_key=KEY, retry=policy, sleep=lambda _: None)


def test_each_answer_is_one_duration_point_tagged_like_the_sdks(
    client: PendoClient, requests_mock: requests_mock.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    requests_mock.get(
        f"{BASE}/api/v1/page",
        [{"status_code": 503}, {"status_code": 200, "json": []}],
    )
    caplog.set_level(logging.INFO, logger="singer_sdk.metrics")
    client.get_json("/api/v1/page", what="pages", params={"expand": "*"})
    points = _points(caplog)
    assert [p["metric"] for p in points] == ["http_request_duration"] * 2
    assert all(p["type"] == "timer" and p["value"] >= 0 for p in points)
    assert [p["tags"] for p in points] == [
        {"endpoint": "/api/v1/page", "http_status_code": 503, "status": "failed"},
        {"endpoint": "/api/v1/page", "http_status_code": 200, "status": "succeeded"},
    ]


def test_an_endpoint_template_keeps_ids_and_secrets_out_of_the_metric(
    client: PendoClient, requests_mock: requests_mock.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    requests_mock.get(f"{BASE}/api/v1/visitor/alice%40example.com/history", json=[])
    caplog.set_level(logging.INFO, logger="singer_sdk.metrics")
    client.get_json(
        "/api/v1/visitor/alice%40example.com/history",
        what="history",
        endpoint="/api/v1/visitor/{visitorId}/history",
    )
    (point,) = _points(caplog)
    assert point["tags"]["endpoint"] == "/api/v1/visitor/{visitorId}/history"
    text = caplog.text
    assert "alice" not in text
    assert KEY not in text
    assert "pw-secret" not in text


def test_an_aggregation_that_keeps_failing_writes_a_point_per_try(
    client: PendoClient, requests_mock: requests_mock.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    requests_mock.post(f"{BASE}/api/v1/aggregation", status_code=502)
    caplog.set_level(logging.INFO, logger="singer_sdk.metrics")
    with pytest.raises(PendoRetriableError):
        list(client.aggregate([], what="visitors"))
    tags = [p["tags"] for p in _points(caplog)]
    assert (
        tags
        == [{"endpoint": "/api/v1/aggregation", "http_status_code": 502, "status": "failed"}] * 2
    )


def test_no_point_when_the_metrics_logger_is_off(
    client: PendoClient, requests_mock: requests_mock.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    requests_mock.get(f"{BASE}/api/v1/page", json=[])
    caplog.set_level(logging.WARNING, logger="singer_sdk.metrics")
    client.get_json("/api/v1/page", what="pages")
    assert _points(caplog) == []
