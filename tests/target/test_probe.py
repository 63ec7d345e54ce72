"""`target-pendo --test`: the read-only connection check, against the simulator and its
alternatives; the report's rows, exit status, and that nothing is written or leaked."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from pendo_sim import Fault
from tests.helpers.target import TRACK_SECRET, Run, run_target


def probe(config: dict[str, Any], tmp_path: Path) -> Run:
    return run_target(config, [], tmp_path, args=("--test",))


def row(report: str, endpoint: str) -> str:
    """The lines of one endpoint's row (its status line and the indented lines after it)."""
    lines = report.splitlines()
    start = next(
        n for n, line in enumerate(lines) if line.startswith(("ok ", "FAIL")) and endpoint in line
    )
    end = start + 1
    while end < len(lines) and lines[end].startswith("     "):
        end += 1
    return "\n".join(lines[start:end])


def assert_read_only_and_masked(
    sim, result: subprocess.CompletedProcess[str], config: dict[str, Any]
) -> None:
    assert all(method == "GET" for method, _, _ in sim.request_log)
    assert not Path(config["dead_letter_path"]).exists()
    assert sim.store.track_events == [] and sim.store.metadata_writes == []
    for secret in (sim.integration_key, TRACK_SECRET):
        assert secret not in result.stdout and secret not in result.stderr
    assert "Traceback" not in result.stderr


def test_probe_on_the_simulator_reports_every_endpoint(tsim, tconfig, tmp_path: Path) -> None:
    result = probe(tconfig, tmp_path)
    assert result.rc == 0, result.stdout + result.stderr
    report = result.stdout
    assert "valid=True, writeAccess=True" in row(report, "GET /api/v1/token/verify")
    visitor = row(report, "GET /api/v1/metadata/schema/visitor")
    assert visitor.startswith("ok") and "custom (6 fields" in visitor
    assert row(report, "GET /api/v1/metadata/schema/account").startswith("ok")
    track = row(report, "GET /data/track")
    assert "reachable" in track and "no event sent" in track
    assert "integration_key: set" in report and "key checked by: GET /api/v1/token/verify" in report
    assert report.rstrip().endswith("5 calls, 0 failed, 0 surprises: connection OK")
    assert_read_only_and_masked(tsim, result, tconfig)


def test_a_read_only_key_fails_the_probe(tsim, tconfig, tmp_path: Path) -> None:
    tconfig["integration_key"] = tsim.read_only_key
    result = probe(tconfig, tmp_path)
    assert result.rc == 1
    verify = row(result.stdout, "GET /api/v1/token/verify")
    assert verify.startswith("FAIL") and "read-only" in verify
    assert tsim.read_only_key not in result.stdout + result.stderr


def test_a_wrong_key_fails_the_probe_without_showing_it(tsim, tconfig, tmp_path: Path) -> None:
    tconfig["integration_key"] = "wrong-key-1234"
    result = probe(tconfig, tmp_path)
    assert result.rc == 1
    assert row(result.stdout, "GET /api/v1/token/verify").startswith("FAIL")
    assert "HTTP 403" in result.stdout
    assert "wrong-key-1234" not in result.stdout + result.stderr


def test_without_token_verify_the_schema_read_checks_the_key(tsim, tconfig, tmp_path: Path) -> None:
    tsim.faults.add(Fault(path=r"^/api/v1/token/verify$", kind="status", status=404, times=None))
    result = probe(tconfig, tmp_path)
    assert result.rc == 0, result.stdout
    assert "checked with the metadata schema read" in row(result.stdout, "token/verify")
    assert "key checked by: GET /api/v1/metadata/schema/visitor" in result.stdout


def test_no_parent_accounts_is_not_a_failure(tsim, tconfig, tmp_path: Path) -> None:
    tsim.faults.add(Fault(path="schema/parentAccount", kind="status", status=403, times=None))
    result = probe(tconfig, tmp_path)
    assert result.rc == 0, result.stdout
    assert "no parent accounts" in row(result.stdout, "schema/parentAccount")


def test_surprises_unknown_field_type_and_odd_schema_answer(tsim, tconfig, tmp_path: Path) -> None:
    tsim.dataset.schemas["visitor"]["custom"]["plan"]["Type"] = "currency"
    tsim.faults.add(
        Fault(path="schema/account$", kind="status", status=200, body="<html></html>", times=None)
    )
    result = probe(tconfig, tmp_path)
    assert result.rc == 1
    visitor = row(result.stdout, "schema/visitor")
    assert visitor.startswith("ok") and "custom.plan has type 'currency'" in visitor
    account = row(result.stdout, "schema/account")
    assert account.startswith("FAIL") and "not an object of groups" in account


def test_an_unreachable_track_url_fails_when_a_stream_needs_it(
    tsim, tconfig, tmp_path: Path
) -> None:
    tconfig["track_url"] = "http://127.0.0.1:1/data/track"
    tconfig["streams"] = {"events": {"object": "track_event", "event_name": "x"}}
    result = probe(tconfig, tmp_path)
    assert result.rc == 1
    assert row(result.stdout, "/data/track").startswith("FAIL")
    assert "unreachable" in result.stdout
