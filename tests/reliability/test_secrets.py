"""Secrets never leave the process: every code path runs with known secret values, at debug
level, and no output or file holds them; TLS verification has no off switch.

Each case runs the real console script (tap-pendo or target-pendo) against the simulator with
LOGLEVEL=DEBUG (singer-sdk reads it; urllib3 then logs every request line), then scans stdout,
stderr and every file the run wrote (dead letters, STATE) for each secret as written, URL-encoded,
and for its first and last 12 characters (what a truncated message would leave).

The simulator echoes the secrets back in error bodies (403, 4xx, 5xx), so messages that quote
Pendo's answer are exercised with a secret in them, also where the body is cut to a snippet.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import trustme

from pendo_sim import DatasetConfig, Fault, Simulator
from target_pendo.target import TargetPendo
from tests.helpers.tap import TAP, catalog
from tests.helpers.target import TARGET, lines_of, record

from ._figures import FIGURES
from ._tap import EVENT_END, EVENT_START
from .target_harness import workload
from .tls_server import TLSServer as _TLSServer

ROOT = Path(__file__).resolve().parents[2]

# '/', '+' and '=' make the URL-encoded forms differ from the plain ones.
KEY = "SECRET-ik-7f3a9c2e/51d8+4b06=QZ"
TRACK_SECRET = "SECRET-ts-b19e4d70+ac3f/5528=KX"
URL_USER = "proxy-user-5e0c"
URL_PASSWORD = "SECRET-pw-3c8d+e61a/0f"
URL_TOKEN = "SECRET-qt-91b7/4da2+c0"
OTHER_KEY, OTHER_TRACK_SECRET = "other-key-0d9e6f", "other-track-secret-2a7b"

METADATA = r"^/api/v1/metadata/(visitor|account)/custom/value$"
TRACK = r"^/data/track$"
AGGREGATION = r"^/api/v1/aggregation$"
TAP_STREAMS = ("visitors", "accounts", "pages", "page_events", "track_events")
RUN_TIMEOUT_S = 60


SNIPPET_CHARS = 300  # messages quote this much of an error body (pendo_http.errors)


def _echo(*secrets: str, cut: bool = False) -> str:
    """An error body that quotes secrets, plain and URL-encoded; with `cut`, the first one
    straddles the snippet's cut, so a message that cut before masking keeps 20 characters of it."""
    forms = [form for s in secrets for form in (s, quote(s, safe=""))]
    return "x" * (SNIPPET_CHARS - 20 if cut else 0) + " ".join(forms) + " was not accepted"


def needles(*secrets: str) -> set[str]:
    found = set()
    for secret in secrets:
        found |= {secret, quote(secret, safe=""), quote_plus(secret), secret[:12], secret[-12:]}
    return found


KNOWN = needles(KEY, TRACK_SECRET)
URL_CREDENTIALS = needles(URL_PASSWORD, URL_TOKEN)


def debug_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "LOGLEVEL": "DEBUG", **extra}


def run_in_scanned_dir(
    argv: list[str], out: Path, *, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """One plugin run with `out` as its working directory (files it writes land there, and
    `scan` reads them); its inputs are written outside `out` (they hold the secrets)."""
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        argv,
        input=stdin,
        capture_output=True,
        text=True,
        cwd=out,
        env=env or debug_env(),
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def scan(proc: subprocess.CompletedProcess, out: Path, secrets: set[str] = KNOWN) -> None:
    """Assert no secret (or fragment) is in the run's stdout, stderr or any file under `out`."""
    texts = {"stdout": proc.stdout, "stderr": proc.stderr}
    texts |= {
        f"file {p.relative_to(out)}": p.read_text(errors="replace")
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }
    leaks = [
        (where, needle) for where, text in texts.items() for needle in secrets if needle in text
    ]
    FIGURES.secret_paths += 1
    FIGURES.secret_bytes += sum(len(t.encode()) for t in texts.values())
    FIGURES.secret_leaks += len(leaks)
    assert not leaks, f"secret text found in: {sorted({where for where, _ in leaks})}"


def write_json(path: Path, value: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))
    return path


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def add_faults(sim: Simulator, *faults: Fault) -> list[Fault]:
    sim.faults.clear()
    for fault in faults:
        sim.faults.add(fault)
    return list(faults)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    """The simulator that accepts the known secrets."""
    cfg = DatasetConfig(
        seed=7, visitors=300, accounts=40, pages=20, event_days=3, event_rows_per_day=60
    )
    with Simulator(cfg, integration_key=KEY, track_secret=TRACK_SECRET) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def other_sim() -> Iterator[Simulator]:
    """A simulator with other secrets: the known ones are the wrong ones there."""
    cfg = DatasetConfig(seed=7, visitors=60, accounts=8, event_days=1, event_rows_per_day=10)
    with Simulator(cfg, integration_key=OTHER_KEY, track_secret=OTHER_TRACK_SECRET) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def _no_faults_left(sim: Simulator) -> Iterator[None]:
    yield
    sim.faults.clear()


# -- tap ---------------------------------------------------------------------------------


def secret_tap_config(url: str, **overrides: object) -> dict:
    """A tap config whose key is the secret `KEY` the scans look for."""
    return {
        "integration_key": KEY,
        "api_url": url,
        "start_date": EVENT_START,
        "end_date": EVENT_END,
        "retry_backoff_seconds": 0.01,
        "max_retries": 4,
        "request_timeout": 5,
        **overrides,
    }


def tap_argv(inputs: Path, config: dict, *extra: str) -> list[str]:
    return [TAP, "--config", str(write_json(inputs / "config.json", config)), *extra]


@pytest.mark.parametrize(
    "extra",
    [["--about"], ["--about", "--format", "json"], ["--discover"]],
    ids=["about", "about-json", "discover"],
)
def test_tap_about_and_discovery(sim: Simulator, tmp_path: Path, extra: list[str]) -> None:
    proc = run_in_scanned_dir(
        tap_argv(tmp_path / "in", secret_tap_config(sim.url), *extra), tmp_path / "out"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip()
    scan(proc, tmp_path / "out")


def _last_state(stdout: str) -> dict:
    states = [
        json.loads(line)["value"]
        for line in stdout.splitlines()
        if line.startswith('{"type":"STATE"')
    ]
    assert states, "the tap emitted no STATE"
    return states[-1]


def test_tap_sync_under_faults_at_debug_level(sim: Simulator, tmp_path: Path) -> None:
    """Entity and event streams with 429s, 5xx bodies quoting the key, a body dropped and one
    cut mid-way; then a second run from the first run's STATE file."""
    inputs, out = tmp_path / "in", tmp_path / "out"
    config = secret_tap_config(sim.url)
    cat = write_json(inputs / "catalog.json", catalog(config, TAP_STREAMS))
    faults = add_faults(
        sim,
        Fault(path=AGGREGATION, status=429, times=2, skip=1),
        Fault(path=AGGREGATION, status=500, times=1, skip=3, body=_echo(KEY, cut=True)),
        Fault(path=AGGREGATION, kind="drop", after_bytes=2000, times=1, skip=4),
        Fault(path=AGGREGATION, kind="truncate", after_bytes=1500, times=1, skip=6),
        Fault(path=r"^/api/v1/page$", status=503, times=1, body=_echo(KEY)),
    )
    first = run_in_scanned_dir(tap_argv(inputs, config, "--catalog", str(cat)), out)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "| DEBUG" in first.stderr and "urllib3" in first.stderr, "the run was not at debug level"
    assert all(f.fired == f.times for f in faults), [(f.kind, f.status, f.fired) for f in faults]
    assert '"type":"RECORD"' in first.stdout
    state_file = write_json(out / "state.json", _last_state(first.stdout))
    scan(first, out)

    add_faults(sim, Fault(path=AGGREGATION, status=502, times=1, body=_echo(KEY)))
    second = run_in_scanned_dir(
        tap_argv(inputs, config, "--catalog", str(cat), "--state", str(state_file)), out
    )
    assert second.returncode == 0, second.stderr[-3000:]
    write_json(out / "state.json", _last_state(second.stdout))
    scan(second, out)


TAP_FAILURES = {
    # name: (simulator fixture, faults, config overrides)
    "the known key is a wrong key": ("other_sim", [], {}),
    "403 body quotes the key": (
        "sim",
        [Fault(path=r"^/api/v1/token/verify$", status=403, body=_echo(KEY, cut=True))],
        {},
    ),
    "5xx quoting the key outlasts the retries": (
        "sim",
        [Fault(path=r"^/api/v1/token/verify$", status=503, times=None, body=_echo(KEY))],
        {"max_retries": 2},
    ),
    "400 quoting the key on an aggregation": (
        "sim",
        [Fault(path=AGGREGATION, status=400, times=None, body=_echo(KEY, cut=True))],
        {},
    ),
    "invalid config": ("sim", [], {"max_retries": "many"}),
}


@pytest.mark.parametrize("case", list(TAP_FAILURES))
def test_tap_failures_name_no_secret(
    request: pytest.FixtureRequest, sim: Simulator, tmp_path: Path, case: str
) -> None:
    fixture, faults, overrides = TAP_FAILURES[case]
    target_sim: Simulator = request.getfixturevalue(fixture)
    add_faults(target_sim, *[Fault(**f.to_dict() | {"fired": 0, "seen": 0}) for f in faults])
    config = secret_tap_config(target_sim.url, **overrides)
    inputs = tmp_path / "in"
    cat = write_json(inputs / "catalog.json", catalog(secret_tap_config(sim.url), ["visitors"]))
    proc = run_in_scanned_dir(tap_argv(inputs, config, "--catalog", str(cat)), tmp_path / "out")
    target_sim.faults.clear()
    assert proc.returncode != 0
    assert proc.stderr.strip()
    scan(proc, tmp_path / "out")


def _url_with_credentials(url: str) -> str:
    return url.replace("://", f"://{URL_USER}:{quote(URL_PASSWORD, safe='')}@", 1)


TAP_URL_CASES = {
    # name: (api_url builder, the run succeeds)
    "user info in api_url": (lambda sim: _url_with_credentials(sim.url), True),
    "token in api_url's query": (
        lambda sim: f"{sim.url}/?token={quote(URL_TOKEN, safe='')}",
        False,
    ),
    "https to a plain-HTTP port, user info in api_url": (
        lambda sim: _url_with_credentials(sim.url.replace("http://", "https://")),
        False,
    ),
    "nothing listening, token in the query": (
        lambda sim: f"http://127.0.0.1:{closed_port()}/?token={quote(URL_TOKEN, safe='')}",
        False,
    ),
}


@pytest.mark.parametrize("case", list(TAP_URL_CASES))
def test_tap_masks_credentials_in_api_url(sim: Simulator, tmp_path: Path, case: str) -> None:
    make_url, succeeds = TAP_URL_CASES[case]
    config = secret_tap_config(make_url(sim), max_retries=2)
    inputs = tmp_path / "in"
    cat = write_json(
        inputs / "catalog.json", catalog(secret_tap_config(sim.url), ["visitors", "page_events"])
    )
    add_faults(sim, Fault(path=AGGREGATION, status=500, times=1, body="upstream trouble"))
    proc = run_in_scanned_dir(tap_argv(inputs, config, "--catalog", str(cat)), tmp_path / "out")
    assert (proc.returncode == 0) is succeeds, proc.stderr[-3000:]
    scan(proc, tmp_path / "out", KNOWN | URL_CREDENTIALS)


# -- target ------------------------------------------------------------------------------


def secret_target_config(sim: Simulator, out: Path, **overrides: object) -> dict:
    """A target config with the secrets `KEY` and `TRACK_SECRET` the scans look for."""
    return {
        "integration_key": KEY,
        "track_event_secret": TRACK_SECRET,
        "api_url": sim.url,
        "dead_letter_path": str(out / "dead.jsonl"),
        "retry_backoff_seconds": 0.01,
        "max_retries": 4,
        "request_timeout": 5,
        "max_requests_per_second": 1000,
        "batch_size": 25,
        **overrides,
    }


def target_messages(sim: Simulator, *, bad: bool = False) -> list:
    """The reliability workload (visitors, accounts, track events, STATE every 40 records);
    with `bad`, records the target must dead-letter and lines that are not Singer."""
    messages: list = workload(sim, visitors=80, accounts=10, events=30, state_every=40)
    if bad:
        vid = sim.dataset.visitor_table.ids[20]
        messages[5:5] = [
            record("visitors", {"plan": "no id"}),
            record("visitors", {"visitorId": vid, "seats": "not a number"}),
            record("no_schema_stream", {"visitorId": vid}),
            "this line is not JSON",
            record("track_events", {"visitorId": vid, "event": "no timestamp"}),
        ]
    return messages


def run_target_in_scanned_dir(
    config: dict, messages: list, tmp_path: Path, *, args: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    """`target-pendo` with its config in `tmp_path/in` and `tmp_path/out` as its working
    directory (`run_in_scanned_dir`); the last STATE kept in out/state.json."""
    argv = [TARGET, "--config", str(write_json(tmp_path / "in" / "config.json", config)), *args]
    proc = run_in_scanned_dir(argv, tmp_path / "out", stdin=lines_of(messages))
    states = [line for line in proc.stdout.splitlines() if line.strip()]
    if states:  # what an orchestrator keeps for the next run
        (tmp_path / "out" / "state.json").write_text(states[-1])
    return proc


def test_target_about(tmp_path: Path) -> None:
    for fmt in ([], ["--format", "json"]):
        proc = run_in_scanned_dir([TARGET, "--about", *fmt], tmp_path / "out")
        assert proc.returncode == 0, proc.stderr[-2000:]
        scan(proc, tmp_path / "out")


TARGET_CASES = {
    # name: (faults, config overrides, bad input, expected exit status)
    "clean metadata and track events with STATE": ([], {}, False, 0),
    "429, 5xx quoting both secrets, dropped answers": (
        [
            Fault(path=METADATA, status=429, times=2, skip=1),
            Fault(
                path=METADATA, status=500, times=2, skip=2, body=_echo(KEY, TRACK_SECRET, cut=True)
            ),
            Fault(path=METADATA, kind="drop", times=1, skip=4),
            Fault(path=TRACK, status=429, times=3, skip=2),
            Fault(path=TRACK, status=503, times=2, skip=5, body=_echo(TRACK_SECRET, KEY, cut=True)),
            Fault(path=TRACK, kind="drop", times=1, skip=7),
        ],
        {},
        False,
        0,
    ),
    "bad records and 4xx quoting the secrets go to the dead-letter file": (
        [
            Fault(
                path=r"^/api/v1/metadata/account/",
                status=400,
                times=None,
                body=_echo(KEY, cut=True),
            ),
            Fault(path=TRACK, status=400, times=2, skip=3, body=_echo(TRACK_SECRET, cut=True)),
        ],
        {},
        True,
        1,
    ),
    "5xx quoting the secrets outlasts the retries": (
        [
            Fault(path=METADATA, status=503, times=None, body=_echo(KEY)),
            Fault(path=TRACK, status=502, times=None, body=_echo(TRACK_SECRET)),
        ],
        {"max_retries": 2},
        False,
        1,
    ),
    "schema read refused with a body quoting the key": (
        [
            Fault(
                path=r"^/api/v1/metadata/schema/", status=403, times=None, body=_echo(KEY, cut=True)
            )
        ],
        {},
        False,
        1,
    ),
    "dry run": ([], {"dry_run": True}, True, 1),
}


@pytest.mark.parametrize("case", list(TARGET_CASES))
def test_target_runs_leave_no_secret(sim: Simulator, tmp_path: Path, case: str) -> None:
    faults, overrides, bad, status = TARGET_CASES[case]
    add_faults(sim, *[Fault(**f.to_dict() | {"fired": 0, "seen": 0}) for f in faults])
    config = secret_target_config(sim, tmp_path / "out", **overrides)
    proc = run_target_in_scanned_dir(config, target_messages(sim, bad=bad), tmp_path)
    assert proc.returncode == status, proc.stderr[-3000:]
    assert "| DEBUG" in proc.stderr, "the run was not at debug level"
    assert "Traceback" not in proc.stderr
    if status == 0:
        assert (tmp_path / "out" / "state.json").exists()
    if bad or case.startswith("bad records"):
        assert (tmp_path / "out" / "dead.jsonl").exists()
    scan(proc, tmp_path / "out")


@pytest.mark.parametrize("wrong", ["integration_key", "track_event_secret"])
def test_target_with_the_known_secret_as_a_wrong_one(
    other_sim: Simulator, tmp_path: Path, wrong: str
) -> None:
    config = secret_target_config(other_sim, tmp_path / "out")
    config["track_event_secret" if wrong == "integration_key" else "integration_key"] = None
    config = {k: v for k, v in config.items() if v is not None}
    stream = "visitors" if wrong == "integration_key" else "track_events"
    messages = [m for m in target_messages(other_sim) if m.get("stream", stream) == stream]
    proc = run_target_in_scanned_dir(config, messages, tmp_path)
    assert proc.returncode != 0
    assert f"`{wrong}`" in proc.stderr
    scan(proc, tmp_path / "out")


TARGET_URL_CASES = {
    # name: (config overrides from the simulator, exit status)
    "user info in api_url, token in track_url's query": (
        lambda sim: {
            "api_url": _url_with_credentials(sim.url),
            "track_url": f"{sim.track_url}?token={quote(URL_TOKEN, safe='')}",
        },
        0,
    ),
    "nothing listening at track_url, token in its query": (
        lambda sim: {
            "track_url": f"http://127.0.0.1:{closed_port()}/data/track?token={quote(URL_TOKEN, safe='')}",
            "max_retries": 2,
        },
        1,
    ),
    "https to a plain-HTTP port, user info in api_url": (
        lambda sim: {"api_url": _url_with_credentials(sim.url.replace("http://", "https://"))},
        1,
    ),
}


@pytest.mark.parametrize("case", list(TARGET_URL_CASES))
def test_target_masks_credentials_in_urls(sim: Simulator, tmp_path: Path, case: str) -> None:
    make_overrides, status = TARGET_URL_CASES[case]
    add_faults(
        sim,
        Fault(path=METADATA, status=500, times=1, body="upstream trouble"),
        Fault(path=TRACK, status=503, times=1, skip=2),
    )
    config = secret_target_config(sim, tmp_path / "out", **make_overrides(sim))
    proc = run_target_in_scanned_dir(config, target_messages(sim), tmp_path)
    assert proc.returncode == status, proc.stderr[-3000:]
    scan(proc, tmp_path / "out", KNOWN | URL_CREDENTIALS)


# -- TLS ---------------------------------------------------------------------------------

# Ways Python HTTP code turns certificate checks off; none may appear in the plugins' code.
TLS_OFF_SWITCHES = re.compile(
    r"verify\s*=\s*(False|0|None)\b|\.verify\s*=(?!\s*True\b)|CERT_NONE|_create_unverified_context"
    r"|check_hostname\s*=\s*False|disable_warnings|InsecureRequestWarning|PYTHONHTTPSVERIFY"
)


def test_no_code_turns_tls_verification_off() -> None:
    sources = [
        p
        for pkg in ("pendo_http", "tap_pendo", "target_pendo")
        for p in sorted((ROOT / pkg).rglob("*.py"))
    ]
    assert len(sources) > 10
    hits = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in sources
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if TLS_OFF_SWITCHES.search(line)
    ]
    assert hits == []


def test_target_session_verifies_whatever_the_config_says(tmp_path: Path) -> None:
    """Settings other tools use to turn verification off are not settings here: the session
    the target sends with still verifies."""
    config = {
        "integration_key": KEY,
        "api_url": "https://127.0.0.1:9",
        "dead_letter_path": str(tmp_path / "d.jsonl"),
        "verify": False,
        "ssl_verify": False,
        "verify_ssl": False,
        "insecure": True,
    }
    target = TargetPendo(config=config, validate_config=False)
    assert target.pendo_run.session.verify is True
    assert target.pendo_run.client.session is target.pendo_run.session


def test_ca_bundle_from_the_environment_is_honoured_by_the_console_script(
    sim: Simulator,
    tls_server: _TLSServer,
    ca: trustme.CA,
    tmp_path: Path,
) -> None:
    """REQUESTS_CA_BUNDLE (the standard way to trust a TLS-intercepting proxy) reaches the
    installed tap: with the CA added the key check passes TLS, and the run then fails on the
    test server's missing POST support, not on the certificate."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    url = f"https://127.0.0.1:{tls_server.server_address[1]}"
    config = secret_tap_config(url, max_retries=1)
    cat = write_json(
        tmp_path / "in" / "catalog.json", catalog(secret_tap_config(sim.url), ["visitors"])
    )
    proc = run_in_scanned_dir(
        tap_argv(tmp_path / "in", config, "--catalog", str(cat)),
        tmp_path / "out",
        env=debug_env(REQUESTS_CA_BUNDLE=str(bundle)),
    )
    assert "TLS certificate verification failed" not in proc.stderr
    assert tls_server.connections >= 2, "nothing after the key check was sent"
    assert "HTTP 501" in proc.stderr
    assert proc.returncode != 0
    scan(proc, tmp_path / "out")
