"""Wrong, read-only and swapped secrets fail at once with a message that says what to check;
TLS certificates are always verified and a failed verification is not retried.

Request counts come from the simulator's request log (or the TLS server's accept count),
never from wall time.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from pendo_http import PendoClient, PendoTLSError, RetryPolicy
from pendo_sim import DatasetConfig, Simulator
from tap_pendo.tap import TapPendo
from target_pendo.target import TargetPendo
from tests.helpers.tap import run_tap
from tests.helpers.target import Run, run_target

from .tls_server import TLSServer as _TLSServer

WRONG_KEY = "wrong-key-7d41c9e0b2"
TRACK_SECRET = "track-secret-4f8a21"
RUN_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def ksim() -> Iterator[Simulator]:
    with Simulator(
        DatasetConfig(seed=41, visitors=30, accounts=5), track_secret=TRACK_SECRET
    ) as simulator:
        yield simulator


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, "a secret value appears in the output"


def assert_no_retry(log: list[tuple[str, str, int]]) -> None:
    """Every request was sent once: a refused secret is not retried."""
    requests = [(method, path) for method, path, _ in log]
    assert len(requests) == len(set(requests)), f"a refused request was retried: {requests}"


# -- tap ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [[], ["--discover"]], ids=["sync", "discover"])
def test_tap_with_a_wrong_key_stops_at_once(
    ksim: Simulator, tmp_path: Path, mode: list[str]
) -> None:
    config = {
        "integration_key": WRONG_KEY,
        "api_url": ksim.url,
        "max_retries": 8,
        "retry_backoff_seconds": 5,
    }
    start = len(ksim.request_log)
    proc = run_tap(tmp_path, config, args=mode, timeout=RUN_TIMEOUT_S)
    log = ksim.request_log[start:]
    assert proc.rc != 0
    assert log, "the tap sent nothing"
    assert {status for *_, status in log} == {403}
    assert_no_retry(log)
    assert len(log) <= 4
    assert "`integration_key`" in proc.stderr
    assert "region" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert_no_secret(proc.stdout + proc.stderr, WRONG_KEY)


# -- target ------------------------------------------------------------------------------

VISITOR_SCHEMA = {
    "type": "SCHEMA",
    "stream": "visitors",
    "key_properties": ["visitorId"],
    "schema": {
        "type": "object",
        "properties": {"visitorId": {"type": "string"}, "plan": {"type": ["string", "null"]}},
    },
}
TRACK_SCHEMA = {
    "type": "SCHEMA",
    "stream": "track_events",
    "key_properties": [],
    "schema": {
        "type": "object",
        "properties": {
            "visitorId": {"type": "string"},
            "event": {"type": "string"},
            "timestamp": {"type": "integer"},
        },
    },
}


def visitor_messages(sim: Simulator) -> list[dict]:
    ids = [v["visitorId"] for v in list(sim.dataset.visitors())[:3]]
    return [VISITOR_SCHEMA] + [
        {"type": "RECORD", "stream": "visitors", "record": {"visitorId": vid, "plan": "pro"}}
        for vid in ids
    ]


def track_messages(sim: Simulator) -> list[dict]:
    now = int(time.time() * 1000)
    ids = [v["visitorId"] for v in list(sim.dataset.visitors())[:3]]
    return [TRACK_SCHEMA] + [
        {
            "type": "RECORD",
            "stream": "track_events",
            "record": {"visitorId": vid, "event": "Signed Up", "timestamp": now},
        }
        for vid in ids
    ]


def run_target_logging_requests(
    sim: Simulator, tmp_path: Path, config: dict, messages: list[dict]
) -> tuple[Run, list]:
    """`run_target` with this file's bare config (the case's keys only, slow retries), and the
    requests the simulator saw during the run."""
    config = {
        "api_url": sim.url,
        "dead_letter_path": str(tmp_path / "dead.jsonl"),
        "max_retries": 8,
        "retry_backoff_seconds": 5,
        "max_requests_per_second": 1000,
        **config,
    }
    start = len(sim.request_log)
    run = run_target(config, messages, tmp_path, timeout=RUN_TIMEOUT_S)
    return run, sim.request_log[start:]


def _all_output(proc: Run, tmp_path: Path) -> str:
    dead = tmp_path / "dead.jsonl"
    return proc.stdout + proc.stderr + (dead.read_text() if dead.exists() else "")


TARGET_CASES = {
    # name: (config builder, messages builder, setting named, words the message must contain)
    "wrong integration_key": (
        lambda s: {"integration_key": WRONG_KEY},
        visitor_messages,
        "integration_key",
        ["region", "Integration Keys"],
    ),
    "read-only key used for writes": (
        lambda s: {"integration_key": s.read_only_key},
        visitor_messages,
        "integration_key",
        ["read-only", "Allow Write Access"],
    ),
    "track secret as integration_key": (
        lambda s: {"integration_key": TRACK_SECRET},
        visitor_messages,
        "integration_key",
        ["Track Event Shared Secret", "not interchangeable"],
    ),
    "wrong track_event_secret": (
        lambda s: {"track_event_secret": WRONG_KEY},
        track_messages,
        "track_event_secret",
        ["region", "App Details"],
    ),
    "integration key as track_event_secret": (
        lambda s: {"track_event_secret": s.integration_key},
        track_messages,
        "track_event_secret",
        ["integration key", "not interchangeable"],
    ),
}


@pytest.mark.parametrize("case", list(TARGET_CASES))
def test_target_with_a_refused_secret_says_what_to_check(
    ksim: Simulator, tmp_path: Path, case: str
) -> None:
    make_config, make_messages, setting, words = TARGET_CASES[case]
    config = make_config(ksim)
    messages = make_messages(ksim)
    proc, log = run_target_logging_requests(ksim, tmp_path, config, messages)
    assert proc.rc != 0
    refused = [entry for entry in log if entry[2] == 403]
    assert refused, "nothing was refused"
    if setting == "track_event_secret":
        # Events go out concurrently, each once: at most one refusal per event, no retries.
        assert len(refused) <= sum(m["type"] == "RECORD" for m in messages)
    else:
        assert_no_retry(refused)
        assert len(log) <= 4
    assert f"`{setting}`" in proc.stderr
    for word in words:
        assert word in proc.stderr, f"the message does not mention {word!r}"
    assert "Traceback" not in proc.stderr
    assert_no_secret(
        _all_output(proc, tmp_path), *config.values(), ksim.integration_key, TRACK_SECRET
    )


# -- TLS ---------------------------------------------------------------------------------


def _url(server: _TLSServer) -> str:
    return f"https://127.0.0.1:{server.server_address[1]}"


def test_tap_refuses_an_untrusted_certificate_without_retrying(
    tls_server: _TLSServer, tmp_path: Path
) -> None:
    # Settings other tools use to turn verification off, and environment variables that
    # could: none of them may have any effect.
    config = {
        "integration_key": WRONG_KEY,
        "api_url": _url(tls_server),
        "max_retries": 8,
        "retry_backoff_seconds": 5,
        "verify": False,
        "ssl_verify": False,
        "verify_ssl": False,
        "insecure": True,
        "disable_ssl_verification": True,
    }
    env = {**os.environ, "CURL_CA_BUNDLE": "", "REQUESTS_CA_BUNDLE": "", "PYTHONHTTPSVERIFY": "0"}
    proc = run_tap(tmp_path, config, env=env, timeout=RUN_TIMEOUT_S)
    assert proc.rc != 0
    assert "TLS certificate verification failed" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert tls_server.connections == 1, "the TLS failure was retried"
    assert_no_secret(proc.stdout + proc.stderr, WRONG_KEY)


@pytest.mark.parametrize("messages", [visitor_messages, track_messages], ids=["metadata", "track"])
def test_target_refuses_an_untrusted_certificate_without_retrying(
    ksim: Simulator, tls_server: _TLSServer, tmp_path: Path, messages: object
) -> None:
    config = {
        "integration_key": WRONG_KEY,
        "track_event_secret": TRACK_SECRET,
        "api_url": _url(tls_server),
        "dead_letter_path": str(tmp_path / "dead.jsonl"),
        "max_retries": 8,
        "retry_backoff_seconds": 5,
        "track_concurrency": 1,
    }
    lines = messages(ksim)  # type: ignore[operator]
    proc = run_target(config, lines, tmp_path, timeout=RUN_TIMEOUT_S)
    assert proc.rc != 0
    assert "TLS certificate verification failed" in proc.stderr
    assert "Traceback" not in proc.stderr
    # One attempt per request at most (a track event already queued may still go out once);
    # a retried TLS failure would make up to 8 per request.
    assert 1 <= tls_server.connections <= sum(m["type"] == "RECORD" for m in lines)
    assert_no_secret(_all_output(proc, tmp_path), WRONG_KEY, TRACK_SECRET)


def test_shared_client_verifies_and_trusts_only_what_is_added(
    tls_server: _TLSServer, ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = PendoClient(
        base_url=_url(tls_server),
        integration_key=WRONG_KEY,
        retry=RetryPolicy(max_tries=8, base_seconds=5),
    )
    with pytest.raises(
        PendoTLSError, match="certificate verify|TLS certificate verification failed"
    ):
        client.verify_key()
    assert tls_server.connections == 1
    assert client.retries == 0
    # Adding the CA to the trust (the standard REQUESTS_CA_BUNDLE) makes the same server work:
    # the failure above was verification, and trust can be added but not switched off.
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    trusted = PendoClient(base_url=_url(tls_server), integration_key=WRONG_KEY)
    assert trusted.verify_key() == {"valid": True, "writeAccess": True}
    assert trusted.session.verify is True


@pytest.mark.parametrize("plugin", [TapPendo, TargetPendo], ids=["tap", "target"])
def test_no_setting_turns_tls_verification_off(plugin: type) -> None:
    names = list(plugin.config_jsonschema["properties"])
    suspicious = [
        n for n in names if re.search(r"verif|ssl|tls|insecure|cert|ca_bundle", n, re.IGNORECASE)
    ]
    assert suspicious == [], f"settings that might weaken TLS: {suspicious}"
