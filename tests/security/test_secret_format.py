"""Secrets that cannot be Pendo's are refused at config time, naming the setting and never
the value; secrets with URL-special characters work and never appear in any output.

Every run is the real console script at LOGLEVEL=DEBUG; stdout, stderr and every file the
run wrote are scanned for the secret in every form a message could quote it in.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from pendo_sim import DatasetConfig, Simulator
from tests.helpers.tap import TapRun, run_tap
from tests.helpers.target import Run, record, run_target, schema
from tests.security._shared import FIGURES

CORE = "Qz7Wk2Xv9P"  # in every test secret: no output may hold it in any form

REFUSED = {
    "trailing newline": f"key-{CORE}\n",
    "leading space": f" key-{CORE}",
    "tab": f"key-\t{CORE}",
    "non-ASCII": f"kéy-{CORE}",
    "NUL": f"key-{CORE}\x00",
}
URL_SPECIAL = f"k%41&b?c#d@e:f;g=h+i/j-{CORE}"
URL_SPECIAL_TRACK = f"t%2F&x?y#z@:=+/-{CORE}t"


def forms(secret: str) -> set[str]:
    found = {CORE, secret, secret.strip(), repr(secret)[1:-1], json.dumps(secret)[1:-1]}
    found |= {quote(secret, safe=""), quote_plus(secret), quote(secret, safe="").lower()}
    return {f for f in found if len(f) >= 6}


def scan(proc: TapRun | Run, out: Path, secret: str) -> None:
    texts = {"stdout": proc.stdout, "stderr": proc.stderr}
    texts |= {
        str(p.relative_to(out)): p.read_text(errors="replace")
        for p in out.rglob("*")
        if p.is_file() and p.name != "config.json"
    }
    FIGURES["secret-scan runs"] += 1
    FIGURES["secret-scan bytes scanned"] += sum(len(t) for t in texts.values())
    leaks = [(where, f) for where, text in texts.items() for f in forms(secret) if f in text]
    assert not leaks, f"secret found in {sorted({w for w, _ in leaks})}"


DEBUG_ENV = {**os.environ, "LOGLEVEL": "DEBUG"}


@pytest.fixture(scope="module")
def plain_sim():
    with Simulator(DatasetConfig(seed=7)) as simulator:
        yield simulator


CASES = [
    ("tap-pendo", "integration_key"),
    ("target-pendo", "integration_key"),
    ("target-pendo", "track_event_secret"),
]


@pytest.mark.parametrize("kind", sorted(REFUSED))
@pytest.mark.parametrize(("plugin", "setting"), CASES)
def test_secret_that_cannot_be_pendos_is_refused_at_config_time(
    plugin: str, setting: str, kind: str, plain_sim: Simulator, tmp_path: Path
) -> None:
    secret = REFUSED[kind]
    config = {"integration_key": plain_sim.integration_key, "api_url": plain_sim.url}
    config[setting] = secret
    if plugin == "tap-pendo":
        config["start_date"] = "2026-03-01T00:00:00Z"
    requests_before = len(plain_sim.request_log)
    out = tmp_path / "out"
    if plugin == "tap-pendo":
        proc: TapRun | Run = run_tap(out, config, env=DEBUG_ENV)
    else:
        proc = run_target(config, [], out, env=DEBUG_ENV)
    assert proc.rc != 0
    assert f"`{setting}`" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(plain_sim.request_log) == requests_before, "a request went out"
    scan(proc, tmp_path / "out", secret)


def test_url_special_secrets_work_and_never_show(tmp_path: Path) -> None:
    with Simulator(
        DatasetConfig(seed=7), integration_key=URL_SPECIAL, track_secret=URL_SPECIAL_TRACK
    ) as sim:
        vids = [v["visitorId"] for v in sim.dataset.visitors()][:3]
        target_config = {
            "integration_key": URL_SPECIAL,
            "track_event_secret": URL_SPECIAL_TRACK,
            "api_url": sim.url,
            "dead_letter_path": "dead.jsonl",
        }
        props = {"visitorId": {"type": "string"}, "plan": {"type": "string"}}
        track = {
            "visitorId": {"type": "string"},
            "event": {"type": "string"},
            "timestamp": {"type": "integer"},
        }
        messages = [schema("visitors", props, ["visitorId"]), schema("track_events", track)]
        messages += [record("visitors", {"visitorId": v, "plan": "url"}) for v in vids]
        # An unknown field value that Pendo refuses: an error path with a dead letter too.
        messages += [record("visitors", {"visitorId": "", "plan": URL_SPECIAL})]
        messages += [
            record("track_events", {"visitorId": v, "event": "e", "timestamp": 1_900_000_000_000})
            for v in vids
        ]
        messages += [{"type": "STATE", "value": {"done": True}}]
        out = tmp_path / "target"
        proc: TapRun | Run = run_target(target_config, messages, out, env=DEBUG_ENV)
        assert proc.rc == 1, proc.stderr[-2000:]  # the record without an id
        assert sim.store.metadata("visitor", vids[0])["custom"]["plan"] == "url"
        scan(proc, out, URL_SPECIAL)
        scan(proc, out, URL_SPECIAL_TRACK)

        tap_config = {
            "integration_key": URL_SPECIAL,
            "api_url": sim.url,
            "start_date": "2026-03-01T00:00:00Z",
        }
        out = tmp_path / "tap"
        proc = run_tap(out, tap_config, env=DEBUG_ENV)
        assert proc.rc == 0, proc.stderr[-2000:]
        assert '"type":"RECORD"' in proc.stdout.replace(" ", "")
        scan(proc, out, URL_SPECIAL)
