"""Entity streams, the key check and `tap-pendo --test` against the simulator's alternatives for
what real Pendo may answer (issue 12). Each alternative must extract the same rows."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pendo_http import PendoAuthError, PendoClient
from pendo_http.keycheck import FALLBACK_PATH, VERIFY_PATH, check_key
from pendo_sim import DatasetConfig, Fault, Simulator
from tests.helpers.tap import TapRun, run_tap, sync_in_process, tap_config

AGGREGATION = "/api/v1/aggregation"


@pytest.fixture
def small_sim() -> Iterator[Simulator]:
    with Simulator(
        DatasetConfig(
            seed=5,
            visitors=400,
            accounts=60,
            event_rows_per_day=0,
            guide_events_per_day=0,
            poll_events_per_day=0,
        )
    ) as simulator:
        yield simulator


def _ids(run, stream: str, field: str) -> list[str]:
    return sorted(r[field] for r in run.records[stream])


def _entity_sources(sim: Simulator, since: int = 0) -> list[dict]:
    return [
        body["request"]["pipeline"][0]["source"]
        for body in sim.aggregation_log[since:]
        if {"visitors", "accounts"} & set(body["request"]["pipeline"][0]["source"])
    ]


# -- item 4: the key check --------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 405])
def test_key_check_falls_back_to_the_metadata_schema(small_sim: Simulator, status: int) -> None:
    small_sim.set_options(token_verify_status=status)
    client = PendoClient(base_url=small_sim.url, integration_key=small_sim.integration_key)
    checked = check_key(client)
    assert (checked.path, checked.status, checked.fallback_from) == (FALLBACK_PATH, 200, status)
    assert f"GET {VERIFY_PATH} answered {status}" in checked.describe()
    wrong = PendoClient(base_url=small_sim.url, integration_key="not-the-key")
    with pytest.raises(PendoAuthError):
        check_key(wrong)
    # A whole run works the same without token/verify.
    run = sync_in_process(tap_config(small_sim, max_retries=5, request_timeout=10), ["accounts"])
    assert _ids(run, "accounts", "accountId") == sorted(
        a["accountId"] for a in small_sim.dataset.accounts()
    )


def test_key_check_uses_token_verify_when_present(small_sim: Simulator) -> None:
    client = PendoClient(base_url=small_sim.url, integration_key=small_sim.read_only_key)
    checked = check_key(client)
    assert (checked.path, checked.fallback_from, checked.write_access) == (VERIFY_PATH, None, False)


# -- item 5: parentAccount schema ------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 404])
def test_parent_account_schema_refused_means_no_parent_accounts(
    small_sim: Simulator, status: int
) -> None:
    reference = sync_in_process(
        tap_config(small_sim, max_retries=5, request_timeout=10), ["accounts", "metadata_fields"]
    )
    small_sim.set_options(parent_account_schema_status=status)
    run = sync_in_process(
        tap_config(small_sim, max_retries=5, request_timeout=10), ["accounts", "metadata_fields"]
    )
    assert run.records["accounts"] == reference.records["accounts"]
    kinds = {r["kind"] for r in run.records["metadata_fields"]}
    assert kinds == {"visitor", "account"}
    assert [r for r in run.records["metadata_fields"] if r["kind"] != "parentAccount"] == [
        r for r in reference.records["metadata_fields"] if r["kind"] != "parentAccount"
    ]


# -- item 6: a timeSeries bound inside the visitors/accounts source ---------------------------


@pytest.mark.parametrize("mode", ["honour", "ignore", "reject"])
def test_entity_time_series_alternatives(small_sim: Simulator, mode: str) -> None:
    small_sim.set_options(entity_time_series=mode)
    config = {**tap_config(small_sim, max_retries=5, request_timeout=10), "page_size": 150}
    first = sync_in_process(config, ["visitors", "accounts"])
    identified = small_sim.dataset.visitors(identified_only=True)
    assert _ids(first, "visitors", "visitorId") == sorted(v["visitorId"] for v in identified)

    bookmark = first.state["bookmarks"]["visitors"]["replication_key_value"]
    changed = sorted(v["visitorId"] for v in identified[5:40])
    small_sim.dataset.touch_visitors(changed, bookmark + 3_600_000)
    small_sim.dataset.touch_accounts(["account-20"], bookmark + 3_600_000)
    mark = len(small_sim.aggregation_log)
    second = sync_in_process(config, ["visitors", "accounts"], state=first.state)
    assert _ids(second, "visitors", "visitorId") == changed
    assert _ids(second, "accounts", "accountId") == ["account-20"]

    sources = _entity_sources(small_sim, mark)
    bounded = [s for s in sources if "timeSeries" in (next(iter(s.values())) or {})]
    if mode == "reject":
        # Refused once per stream, then read with the filter alone.
        assert len(bounded) == 2
        assert len(sources) > len(bounded)
    else:
        assert bounded == sources
        series = next(iter(bounded[0].values()))["timeSeries"]
        assert series["period"] == "hourRange"
        assert series["last"] == "now()"


# -- item 3: a refused page shrinks -----------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault(path=AGGREGATION, status=413, body="Response size limit exceeded", times=1),
        Fault(path=AGGREGATION, status=500, body="out of memory", times=1),
        Fault(path=AGGREGATION, status=503, times=3),
    ],
    ids=["413 size", "500 memory", "503 x3"],
)
def test_refused_pages_shrink_with_the_same_rows(small_sim: Simulator, fault: Fault) -> None:
    config = {
        **tap_config(small_sim, max_retries=5, request_timeout=10),
        "page_size": 1000,
        "max_retries": 6,
    }
    reference = sync_in_process(config, ["visitors"])
    mark, log_mark = len(small_sim.aggregation_log), len(small_sim.request_log)
    small_sim.faults.add(fault)
    run = sync_in_process(config, ["visitors"])
    assert run.records["visitors"] == reference.records["visitors"]
    refused = [r for r in small_sim.request_log[log_mark:] if r[2] == fault.status]
    assert len(refused) == fault.times  # fewer than max_retries: not retried to the end
    # The refused requests never reached the pipeline; the first that did asked for a quarter.
    limits = [
        step["limit"]
        for body in small_sim.aggregation_log[mark:]
        for step in body["request"]["pipeline"]
        if "limit" in step
    ]
    assert limits[0] == 250


# -- the probe: tap-pendo --test ---------------------------------------------------------------


def _probe(sim: Simulator, tmp_path: Path, **config: object) -> TapRun:
    settings = {"integration_key": sim.integration_key, "api_url": sim.url, **config}
    return run_tap(tmp_path, settings, args=["--test"])


def test_probe_reports_every_call_without_syncing(sim: Simulator, tmp_path: Path) -> None:
    small_sim = sim  # the default dataset: events in the hour before 2026-03-07T18:00Z
    small_sim.set_now(1772906400000)
    small_sim.dataset.schemas["visitor"]["custom"]["geo"] = {"Type": "geopoint"}
    out = _probe(small_sim, tmp_path)
    assert out.rc == 0, out.stderr[-2000:]
    report = out.stdout
    lines = report.splitlines()
    assert lines[0].startswith("tap-pendo ") and "connection check" in lines[0]
    assert small_sim.integration_key not in report + out.stderr
    for expected in (
        "ok   GET /api/v1/token/verify",
        "ok   GET /api/v1/metadata/schema/visitor",
        "ok   GET /api/v1/metadata/schema/parentAccount",
        "ok   POST /api/v1/aggregation (visitors) ",
        "ok   POST /api/v1/aggregation (pollEvents)",
        "ok   POST /api/v1/aggregation (visitors, timeSeries bound)",
        "ok   GET /api/v1/page?expand=*",
        "surprise: unknown field type 'geopoint'",
        "key check: GET /api/v1/token/verify answered 200; write access: yes",
    ):
        assert expected in report, expected
    page_events = next(line for line in lines if "(pageEvents)" in line)
    assert "results: array[1] of object{" in page_events and "pageId" in page_events
    assert lines[-1] == "14 calls, 0 failed, 1 surprises: connection OK"
    # No stream was synced: no Singer messages, no visitor history.
    assert '"type": "RECORD"' not in report and '"type":"RECORD"' not in report
    assert not [p for _, p, _ in small_sim.request_log if p.endswith("/history")]
    assert all(m in ("GET", "POST") for m, _, _ in small_sim.request_log)


def test_probe_on_the_alternatives(small_sim: Simulator, tmp_path: Path) -> None:
    small_sim.set_options(
        token_verify_status=405, parent_account_schema_status=403, entity_time_series="reject"
    )
    out = _probe(small_sim, tmp_path)
    assert out.rc == 0, out.stderr[-2000:]
    report = out.stdout
    assert "ok   GET /api/v1/token/verify" in report and "405  not on this host" in report
    assert "surprise: key checked with GET /api/v1/metadata/schema/visitor instead" in report
    assert "403  no parent accounts" in report
    assert "(the tap then reads visitors and accounts with the filter alone)" in report
    assert report.splitlines()[-1].endswith("0 failed, 2 surprises: connection OK")


def test_probe_with_a_wrong_key_fails_and_masks_it(small_sim: Simulator, tmp_path: Path) -> None:
    out = _probe(small_sim, tmp_path, integration_key="wrong-key-0123456789")
    assert out.rc == 1
    assert "FAIL GET /api/v1/token/verify" in out.stdout
    assert "integration_key" in out.stdout  # the setting to check is named
    assert "wrong-key-0123456789" not in out.stdout + out.stderr
    assert out.stdout.splitlines()[-1] == "1 calls, 1 failed, 0 surprises: connection check FAILED"


def test_test_schema_keeps_the_sdk_behaviour(small_sim: Simulator, tmp_path: Path) -> None:
    config = {"integration_key": small_sim.integration_key, "api_url": small_sim.url}
    out = run_tap(tmp_path, config, args=["--test=schema"])
    assert out.rc == 0, out.stderr[-2000:]
    streams = {json.loads(line)["stream"] for line in out.stdout.splitlines() if line}
    assert {"visitors", "page_events", "visitor_history"} <= streams


def test_probe_without_an_answer_fails_quickly(tmp_path: Path) -> None:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    settings = {
        "integration_key": "a-key-that-is-never-shown",
        "api_url": f"http://127.0.0.1:{port}",
        "retry_backoff_seconds": 0.01,
    }
    out = run_tap(tmp_path, settings, args=["--test"])
    assert out.rc == 1
    assert "FAIL GET /api/v1/token/verify  no answer" in out.stdout
    assert "the connection was refused" in out.stdout
    assert "a-key-that-is-never-shown" not in out.stdout + out.stderr
