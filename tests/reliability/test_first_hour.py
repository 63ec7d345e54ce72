"""A newcomer's mistakes fail fast and clearly (issue 17, items 4-6, 8 and 9).

Each case runs the real executable as Meltano would, with default retry settings: the old
behaviour (retrying an unreachable host eight times with backoff) takes minutes, so the
subprocess `timeout` below is only a hang guard, never a timing assertion. Each asserts the
one line that says what to fix, and that no traceback reaches the user.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pendo_sim import DatasetConfig, Simulator
from tests.helpers.tap import TapRun, run_tap
from tests.helpers.target import Run, run_target

BIN = Path(sys.executable).parent
HANG_GUARD_SECONDS = 60
# RFC 6761: `.invalid` never resolves; no network here, so the resolver answers at once.
UNRESOLVABLE = "https://nonexistent.invalid"


def refused_url() -> str:
    """A loopback port nothing listens on: bind one, then free it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# As Meltano runs plugins.
PLUGIN_ENV = {**os.environ, "PYTHONWARNINGS": "once"}


def problem_lines(stderr: str, marker: str) -> list[str]:
    return [line for line in stderr.splitlines() if marker in line]


def assert_clean(proc: TapRun | Run) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "ResourceWarning" not in proc.stderr, proc.stderr[-3000:]


VISITOR_SCHEMA = {
    "type": "SCHEMA",
    "stream": "visitors",
    "schema": {"properties": {"visitorId": {"type": "string"}, "plan": {"type": "string"}}},
    "key_properties": ["visitorId"],
}
VISITOR_RECORD = {
    "type": "RECORD",
    "stream": "visitors",
    "record": {"visitorId": "v1", "plan": "a"},
}
VISITOR_MESSAGES = [VISITOR_SCHEMA, VISITOR_RECORD]


# -- item 4: a host that cannot be reached --------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "reason"),
    [
        (None, "127.0.0.1:", "the connection was refused"),
        (UNRESOLVABLE, "nonexistent.invalid", "its name does not resolve"),
    ],
    ids=["refused", "unresolvable"],
)
@pytest.mark.parametrize("mode", [["--discover"], []], ids=["discover", "sync"])
def test_tap_stops_at_once_on_an_unreachable_host(
    tmp_path: Path, url: str | None, host: str, reason: str, mode: list[str]
) -> None:
    state = tmp_path / "state.json"
    state.write_text("{}")
    config = {"integration_key": "some-key", "api_url": url or refused_url()}
    proc = run_tap(
        tmp_path,
        config,
        args=["--state", str(state), *mode],
        env=PLUGIN_ENV,
        timeout=HANG_GUARD_SECONDS,
    )
    assert proc.rc != 0
    assert proc.stdout == ""  # --discover wrote no loosely typed catalog
    (line,) = problem_lines(proc.stderr, "Cannot reach")
    assert line.startswith(f"tap-pendo: Cannot reach {host}"), line
    assert reason in line and "`region`" in line and "`api_url`" in line
    assert "some-key" not in proc.stderr
    assert "retry" not in proc.stderr.lower()
    assert_clean(proc)


def test_tap_with_a_region_it_cannot_reach_names_the_region(tmp_path: Path) -> None:
    # No network here: the EU host does not resolve, as on a machine that cannot reach it.
    proc = run_tap(
        tmp_path,
        {"integration_key": "k", "region": "eu"},
        args=["--discover"],
        env=PLUGIN_ENV,
        timeout=HANG_GUARD_SECONDS,
    )
    assert proc.rc != 0
    (line,) = problem_lines(proc.stderr, "Cannot reach")
    assert "app.eu.pendo.io" in line and "`region`" in line
    assert_clean(proc)


@pytest.mark.parametrize("url", [None, UNRESOLVABLE], ids=["refused", "unresolvable"])
def test_target_stops_at_once_on_an_unreachable_host(tmp_path: Path, url: str | None) -> None:
    config = {
        "integration_key": "some-key",
        "api_url": url or refused_url(),
        "dead_letter_path": str(tmp_path / "dead.jsonl"),
    }
    proc = run_target(
        config, VISITOR_MESSAGES, tmp_path, env=PLUGIN_ENV, timeout=HANG_GUARD_SECONDS
    )
    assert proc.rc != 0
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("target-pendo stopped:")]
    assert "Cannot reach" in line and "`region`" in line
    assert "Error initializing target sink" not in proc.stderr
    assert "retry" not in proc.stderr.lower()
    assert_clean(proc)


# -- item 5: config validation of enumerated and structured settings --------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"region": "europe"}, "'europe' is not one of"),
        ({"period": "weekRange"}, "'weekRange' is not one of"),
        ({"visitor_history_enabled": "sometimes"}, "visitor_history_enabled"),
    ],
    ids=["region", "period", "visitor_history_enabled"],
)
@pytest.mark.parametrize("mode", [["--discover"], []], ids=["discover", "sync"])
def test_tap_config_validation(tmp_path: Path, config: dict, expected: str, mode: list) -> None:
    proc = run_tap(
        tmp_path,
        {"integration_key": "k", **config},
        args=mode,
        env=PLUGIN_ENV,
        timeout=HANG_GUARD_SECONDS,
    )
    assert proc.rc != 0
    (line,) = problem_lines(proc.stderr, expected)
    assert "ERROR" in line
    assert proc.stdout == ""
    assert_clean(proc)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"region": "europe"}, "'europe' is not one of"),
        ({"time_format": "unix"}, "'unix' is not one of"),
        ({"streams": {"users": {"object": "person"}}}, "'person' is not one of"),
        ({"streams": {"users": {"objekt": "visitor"}}}, "'objekt' was unexpected"),
    ],
    ids=["region", "time_format", "stream-object", "stream-key"],
)
def test_target_config_validation(tmp_path: Path, config: dict, expected: str) -> None:
    proc = run_target(
        {"integration_key": "k", **config}, [], tmp_path, env=PLUGIN_ENV, timeout=HANG_GUARD_SECONDS
    )
    assert proc.rc != 0
    (line,) = problem_lines(proc.stderr, expected)
    assert "ERROR" in line
    assert_clean(proc)


# -- item 6: misspelled settings --------------------------------------------------------------


def test_tap_names_unknown_settings_and_the_closest_known(tmp_path: Path) -> None:
    config = {"integration_kye": "secret-value", "regoin": "eu", "api_url": refused_url()}
    proc = run_tap(
        tmp_path, config, args=["--discover"], env=PLUGIN_ENV, timeout=HANG_GUARD_SECONDS
    )
    (line,) = problem_lines(proc.stderr, "Unknown settings")
    assert "WARNING" in line
    assert "`integration_kye` (did you mean `integration_key`?)" in line
    assert "`regoin` (did you mean `region`?)" in line
    assert "secret-value" not in proc.stderr
    assert_clean(proc)


def test_target_names_unknown_settings(tmp_path: Path) -> None:
    config = {"integration_key": "k", "dry_runn": True, "dead_letter_path": str(tmp_path / "d")}
    proc = run_target(config, [], tmp_path, env=PLUGIN_ENV, timeout=HANG_GUARD_SECONDS)
    (line,) = problem_lines(proc.stderr, "Unknown setting")
    assert "`dry_runn` (did you mean `dry_run`?)" in line
    assert proc.rc == 0  # a warning, not a failure
    assert_clean(proc)


def test_known_settings_draw_no_warning(tmp_path: Path) -> None:
    config = {
        "integration_key": "k",
        "api_url": refused_url(),
        "flattening_enabled": True,
        "emit_activate_version_messages": True,
        "visitor_history_enabled": False,
    }
    proc = run_tap(
        tmp_path, config, args=["--discover"], env=PLUGIN_ENV, timeout=HANG_GUARD_SECONDS
    )
    assert "Unknown setting" not in proc.stderr
    assert problem_lines(proc.stderr, "Cannot reach")  # it did get as far as a request


# -- item 8: the simulator's keys, where a user looks -----------------------------------------


def test_pendo_sim_prints_the_keys_it_accepts_beside_its_url() -> None:
    proc = subprocess.Popen(
        [str(BIN / "pendo-sim"), "--port", "0", "--visitors", "5", "--accounts", "2"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = dict(proc.stdout.readline().strip().split("=", 1) for _ in range(5))
    finally:
        proc.terminate()
        proc.wait(timeout=HANG_GUARD_SECONDS)
    assert lines["PENDO_SIM_URL"].startswith("http://127.0.0.1:")
    assert lines["PENDO_SIM_INTEGRATION_KEY"] == "sim-key-rw"
    assert lines["PENDO_SIM_READ_ONLY_KEY"] == "sim-key-ro"
    assert lines["PENDO_SIM_TRACK_SECRET"] == "track-secret-123"
    assert lines["PENDO_SIM_TRACK_URL"] == lines["PENDO_SIM_URL"] + "/data/track"


# -- item 9: noise ----------------------------------------------------------------------------


def test_simulator_logs_no_traceback_when_a_client_hangs_up(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with Simulator(DatasetConfig(seed=1, visitors=3, accounts=1, anonymous_visitors=0)) as sim:
        for _ in range(3):
            conn = socket.create_connection(("127.0.0.1", sim.port))
            conn.sendall(
                b"GET /api/v1/token/verify HTTP/1.1\r\nHost: sim\r\n"
                + f"x-pendo-integration-key: {sim.integration_key}\r\n\r\n".encode()
            )
            assert conn.recv(65536).startswith(b"HTTP/1.1 200")
            # Reset instead of a clean close: the server is waiting for the next request.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
        deadline = time.monotonic() + 5
        while len(sim.request_log) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the handler threads see the reset
        assert len(sim.request_log) == 3
    err = capfd.readouterr().err
    assert "Traceback" not in err and "ConnectionResetError" not in err, err


def test_target_with_a_wrong_key_says_it_once(tmp_path: Path) -> None:
    with Simulator(DatasetConfig(seed=1, visitors=3, accounts=1, anonymous_visitors=0)) as sim:
        config = {
            "integration_key": "not-the-key",
            "api_url": sim.url,
            "dead_letter_path": str(tmp_path / "dead.jsonl"),
        }
        proc = run_target(
            config, VISITOR_MESSAGES, tmp_path, env=PLUGIN_ENV, timeout=HANG_GUARD_SECONDS
        )
    assert proc.rc == 1
    assert "Error initializing target sink" not in proc.stderr
    assert "target-pendo summary: no records received" in proc.stderr
    assert "stream  received" not in proc.stderr  # no empty table
    assert len(problem_lines(proc.stderr, "target-pendo stopped: Pendo refused")) == 1
    assert_clean(proc)


def test_tap_with_a_wrong_key_and_a_state_file_leaves_no_resource_warning(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{}")
    with Simulator(DatasetConfig(seed=1, visitors=3, accounts=1, anonymous_visitors=0)) as sim:
        config = {"integration_key": "not-the-key", "api_url": sim.url}
        for mode in (["--discover"], []):
            proc = run_tap(
                tmp_path,
                config,
                args=["--state", str(state), *mode],
                env=PLUGIN_ENV,
                timeout=HANG_GUARD_SECONDS,
            )
            assert proc.rc == 1
            assert len(problem_lines(proc.stderr, "tap-pendo: Pendo refused")) == 1
            assert_clean(proc)


def test_a_host_that_answered_once_is_retried_when_it_refuses_later() -> None:
    """Only a host never reached in this run fails at once; later a refusal is a blip."""
    from pendo_http import PendoClient, PendoRetriableError, PendoUnreachableError, RetryPolicy

    sim = Simulator(DatasetConfig(seed=1, visitors=3, accounts=1, anonymous_visitors=0))
    sim.start()
    client = PendoClient(
        base_url=sim.url,
        integration_key=sim.integration_key,
        retry=RetryPolicy(max_tries=3, base_seconds=0.01),
    )
    fresh = PendoClient(
        base_url=sim.url,
        integration_key=sim.integration_key,
        retry=RetryPolicy(max_tries=3, base_seconds=0.01),
    )
    assert client.verify_key()["valid"] is True
    sim.stop()  # the port now refuses connections
    client.session.close()  # no kept-alive connection to the stopped server
    with pytest.raises(PendoRetriableError) as later:
        client.verify_key()
    assert not isinstance(later.value, PendoUnreachableError)
    assert client.retries == 2
    with pytest.raises(PendoUnreachableError, match="the connection was refused"):
        fresh.verify_key()
    assert fresh.retries == 0
