"""pendo_http's answer handling, status class by status class and shape by shape.

These need no server: requests-mock answers at the transport adapter, so everything above it
(PendoClient.send, classify, the retry policy, the streaming parses) is the real code. The
simulator tests cover the same paths end to end through the plugins; these pin the details
fast.
"""

from __future__ import annotations

import pytest
import requests_mock

from pendo_http import (
    PendoAuthError,
    PendoClient,
    PendoFatalError,
    PendoQueryTooLarge,
    PendoRedirectError,
    PendoRetriableError,
    RetryPolicy,
)
from pendo_http.client import AUTH_HEADER

BASE = "https://pendo.test"
KEY = "key-0123456789abcdef"
AGGREGATION = f"{BASE}/api/v1/aggregation"


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def client(waits: list[float]) -> PendoClient:
    policy = RetryPolicy(max_tries=3, base_seconds=1.0, jitter=None)
    return PendoClient(base_url=BASE, integration_key=KEY, retry=policy, sleep=waits.append)


# -- status classes ------------------------------------------------------------------------


def test_2xx_returns_the_parsed_body_and_sends_the_key(
    client: PendoClient, requests_mock: requests_mock.Mocker
) -> None:
    route = requests_mock.get(f"{BASE}/api/v1/page", json=[{"id": "p1"}])
    assert client.get_json("/api/v1/page", what="pages") == [{"id": "p1"}]
    assert route.last_request.headers[AUTH_HEADER] == KEY
    assert client.calls == 1
    assert client.retries == 0


@pytest.mark.parametrize("status", [300, 304])
def test_3xx_without_location_is_fatal(
    client: PendoClient, requests_mock: requests_mock.Mocker, status: int
) -> None:
    requests_mock.get(f"{BASE}/api/v1/page", status_code=status)
    with pytest.raises(PendoFatalError) as raised:
        client.get_json("/api/v1/page", what="pages")
    assert raised.value.status == status
    assert client.calls == 1


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_an_error_and_never_followed(
    client: PendoClient, requests_mock: requests_mock.Mocker, status: int
) -> None:
    requests_mock.get(
        f"{BASE}/api/v1/page",
        status_code=status,
        headers={"Location": f"https://elsewhere.test/x?key={KEY}"},
    )
    elsewhere = requests_mock.get("https://elsewhere.test/x", json=[])
    with pytest.raises(PendoRedirectError) as raised:
        client.get_json("/api/v1/page", what="pages")
    assert elsewhere.call_count == 0
    assert client.calls == 1
    assert f"HTTP {status}" in str(raised.value) and "elsewhere.test" in str(raised.value)
    assert KEY not in str(raised.value)


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_fails_at_once_without_echoing_it(
    client: PendoClient, requests_mock: requests_mock.Mocker, status: int
) -> None:
    requests_mock.get(f"{BASE}/api/v1/page", status_code=status, text=f"bad key {KEY}")
    with pytest.raises(PendoAuthError) as raised:
        client.get_json("/api/v1/page", what="pages")
    assert raised.value.status == status
    assert "integration_key" in str(raised.value)
    assert KEY not in str(raised.value)
    assert client.calls == 1


@pytest.mark.parametrize("status", [400, 404, 422])
def test_other_4xx_are_fatal_with_a_body_snippet(
    client: PendoClient, requests_mock: requests_mock.Mocker, status: int
) -> None:
    requests_mock.get(f"{BASE}/api/v1/page", status_code=status, text="no such thing")
    with pytest.raises(PendoFatalError) as raised:
        client.get_json("/api/v1/page", what="pages")
    assert type(raised.value) is PendoFatalError
    assert raised.value.status == status
    assert "no such thing" in str(raised.value)
    assert client.calls == 1


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retriable_statuses_are_retried_with_exponential_waits(
    client: PendoClient, requests_mock: requests_mock.Mocker, waits: list[float], status: int
) -> None:
    requests_mock.get(f"{BASE}/api/v1/page", status_code=status)
    with pytest.raises(PendoRetriableError) as raised:
        client.get_json("/api/v1/page", what="pages")
    assert raised.value.status == status
    assert client.calls == 3
    assert waits == [1.0, 2.0]


def test_a_retry_that_succeeds_returns_the_later_answer(
    client: PendoClient, requests_mock: requests_mock.Mocker, waits: list[float]
) -> None:
    requests_mock.get(
        f"{BASE}/api/v1/page",
        [{"status_code": 503}, {"status_code": 200, "json": [{"id": "p1"}]}],
    )
    assert client.get_json("/api/v1/page", what="pages") == [{"id": "p1"}]
    assert client.retries == 1
    assert waits == [1.0]


def test_retry_after_wins_over_the_exponential_wait_up_to_its_cap(
    requests_mock: requests_mock.Mocker,
) -> None:
    waits: list[float] = []
    policy = RetryPolicy(max_tries=3, retry_after_cap_seconds=120.0, jitter=None)
    client = PendoClient(base_url=BASE, integration_key=KEY, retry=policy, sleep=waits.append)
    requests_mock.get(
        f"{BASE}/api/v1/page",
        [
            {"status_code": 429, "headers": {"Retry-After": "7"}},
            {"status_code": 429, "headers": {"Retry-After": "3600"}},
            {"status_code": 200, "json": []},
        ],
    )
    assert client.get_json("/api/v1/page", what="pages") == []
    assert waits == [7.0, 120.0]


def test_jitter_keeps_waits_between_half_and_all_of_the_exponential_wait() -> None:
    policy = RetryPolicy(base_seconds=2.0, cap_seconds=10.0)
    for attempt, full in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 10.0), (9, 10.0)]:
        assert full / 2 <= policy.wait_seconds(attempt) <= full


def test_an_aggregation_refused_as_too_large_asks_for_less(
    client: PendoClient, requests_mock: requests_mock.Mocker
) -> None:
    requests_mock.post(AGGREGATION, status_code=400, text="query exceeded memory limit")
    with pytest.raises(PendoQueryTooLarge):
        list(client.aggregate([{"source": {"visitors": None}}], what="visitors"))
    assert client.calls == 1


def test_a_status_the_caller_handles_is_not_retried(
    client: PendoClient, requests_mock: requests_mock.Mocker
) -> None:
    requests_mock.post(f"{BASE}/api/v1/metadata", status_code=408)
    with pytest.raises(PendoFatalError) as raised:
        client.post_json("/api/v1/metadata", [], what="write", not_retried=frozenset({408}))
    assert raised.value.status == 408
    assert client.calls == 1


# -- response shapes -----------------------------------------------------------------------


def test_an_aggregation_streams_its_results_and_sends_the_pipeline(
    client: PendoClient, requests_mock: requests_mock.Mocker
) -> None:
    route = requests_mock.post(
        AGGREGATION, json={"startTime": 5, "results": [{"visitorId": "a"}, {"visitorId": "b"}]}
    )
    pipeline = [{"source": {"visitors": None}}, {"limit": 2}]
    rows = list(client.aggregate(pipeline, what="visitors page"))
    assert rows == [{"visitorId": "a"}, {"visitorId": "b"}]
    sent = route.last_request.json()
    assert sent["request"] == {"requestId": "visitors page", "pipeline": pipeline}
    assert sent["response"] == {"mimeType": "application/json"}


def test_an_aggregation_without_results_yields_nothing(
    client: PendoClient, requests_mock: requests_mock.Mocker
) -> None:
    requests_mock.post(AGGREGATION, json={"startTime": 5})
    assert list(client.aggregate([], what="empty")) == []


def test_a_bare_array_streams_its_items(
    client: PendoClient, requests_mock: requests_mock.Mocker
) -> None:
    requests_mock.get(f"{BASE}/api/v1/guide", text='[{"id": "g1"}, {"id": "g2", "n": 1.5}]')
    items = list(client.iter_json_items("GET", "/api/v1/guide", prefix="item", what="guides"))
    assert items == [{"id": "g1"}, {"id": "g2", "n": 1.5}]


def test_a_body_broken_mid_stream_is_retriable(
    client: PendoClient, requests_mock: requests_mock.Mocker
) -> None:
    requests_mock.post(AGGREGATION, text='{"results": [{"visitorId": "a"}, {"visitorId": ')
    rows = client.aggregate([], what="visitors")
    assert next(rows) == {"visitorId": "a"}
    with pytest.raises(PendoRetriableError, match="visitors"):
        next(rows)


def test_a_malformed_small_body_is_retried_then_given_up(
    client: PendoClient, requests_mock: requests_mock.Mocker, waits: list[float]
) -> None:
    requests_mock.get(f"{BASE}/api/v1/token/verify", text="<html>maintenance</html>")
    with pytest.raises(PendoRetriableError, match="key check"):
        client.verify_key()
    assert client.calls == 3
    assert len(waits) == 2


@pytest.mark.parametrize("body", ["", "  \n"])
def test_an_empty_body_reads_as_none(
    client: PendoClient, requests_mock: requests_mock.Mocker, body: str
) -> None:
    requests_mock.get(f"{BASE}/api/v1/page", text=body)
    assert client.get_json("/api/v1/page", what="pages") is None


def test_a_write_answer_that_is_not_json_comes_back_as_text(
    client: PendoClient, requests_mock: requests_mock.Mocker
) -> None:
    requests_mock.post(f"{BASE}/api/v1/metadata", text="OK, queued")
    assert client.post_json("/api/v1/metadata", [], what="write") == "OK, queued"


def test_a_write_answer_in_json_is_parsed(
    client: PendoClient, requests_mock: requests_mock.Mocker
) -> None:
    route = requests_mock.post(f"{BASE}/api/v1/metadata", json={"total": 1, "updated": 1})
    assert client.post_json("/api/v1/metadata", [{"a": 1}], what="write") == {
        "total": 1,
        "updated": 1,
    }
    assert route.last_request.json() == [{"a": 1}]


def test_a_non_object_verify_answer_reads_as_empty(
    client: PendoClient, requests_mock: requests_mock.Mocker
) -> None:
    requests_mock.get(f"{BASE}/api/v1/token/verify", json=[1, 2])
    assert client.verify_key() == {}
