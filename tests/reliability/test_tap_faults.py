"""tap-pendo under faults: every run under a fault emits exactly the records of a clean run.

Each test injects faults into the real simulator (429 with and without Retry-After, 408, 5xx,
a connection dropped mid-body, a response slower than the request timeout, a truncated or
invalid JSON body, a window Pendo refuses as too large), runs the tap, and compares its records
with a clean run's by primary key and full content (without _sdc fields).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from pendo_sim import DatasetConfig, Fault, Simulator
from tests.helpers.tap import TapOutput, sync_in_process, tap_config

from ._figures import FIGURES
from ._tap import EVENT_END, EVENT_START, by_key

AGGREGATION = "/api/v1/aggregation"
PAGE_LIST = "^/api/v1/page$"
PAGE_SIZE = 300
ENTITY_STREAMS = ("visitors", "accounts", "pages")
EVENT_STREAMS = ("page_events", "events", "guide_events")


@dataclass(frozen=True)
class Case:
    """A fault kind: the faults to add for a stream reading `path`, and config overrides."""

    kind: str
    faults: Callable[[str], list[Fault]]
    config: tuple[tuple[str, object], ...] = ()


def _status(
    status: int, times: int = 2, retry_after: float | None = None
) -> Callable[[str], list[Fault]]:
    return lambda path: [
        Fault(
            path=path,
            kind="status",
            status=status,
            times=times,
            skip=1 if path == AGGREGATION else 0,
            retry_after=retry_after,
            body="" if status != 503 else "Service Unavailable",
        )
    ]


CASES = [
    Case("429", _status(429)),
    Case("429 Retry-After", _status(429, times=1, retry_after=1)),
    Case("408", _status(408)),
    Case("500", _status(500)),
    Case("502", _status(502)),
    Case("503", _status(503)),
    Case("504", _status(504)),
    Case("drop mid-body", lambda path: [Fault(path=path, kind="drop", after_bytes=100_000)]),
    Case(
        "slower than request_timeout",
        lambda path: [Fault(path=path, kind="slow", delay_s=2.5)],
        config=(("request_timeout", 1),),
    ),
    Case("truncated body", lambda path: [Fault(path=path, kind="truncate", after_bytes=30_000)]),
    Case("invalid JSON body", lambda path: [Fault(path=path, kind="invalid_json")]),
]
WINDOW_CASES = [
    Case(
        '400 "Query exceeded memory limit"',
        lambda path: [
            Fault(path=path, kind="window_limit", status=400, max_window_hours=24, times=None)
        ],
    ),
    Case(
        "408 on a large window",
        lambda path: [
            Fault(path=path, kind="window_limit", status=408, max_window_hours=24, times=None)
        ],
    ),
    Case(
        "504 on a large window",
        lambda path: [
            Fault(
                path=path,
                kind="window_limit",
                status=504,
                max_window_hours=24,
                times=None,
                body="Gateway Timeout",
            )
        ],
    ),
]


@pytest.fixture(scope="module")
def fsim() -> Iterator[Simulator]:
    cfg = DatasetConfig(
        seed=21,
        visitors=1500,
        accounts=400,
        pages=200,
        event_days=3,
        event_rows_per_day=300,
        guide_events_per_day=150,
        poll_events_per_day=20,
    )
    with Simulator(cfg) as simulator:
        yield simulator


def fault_config(
    sim: Simulator, stream: str, overrides: tuple[tuple[str, object], ...] = ()
) -> dict:
    """`tap_config` for the fault matrix: small pages, three-day event windows."""
    config = tap_config(
        sim, max_retries=4, request_timeout=5, page_size=PAGE_SIZE, progress_interval_seconds=0
    )
    if stream in EVENT_STREAMS:
        # Three-day windows: large enough to be refused, split into days.
        config.update(start_date=EVENT_START, end_date=EVENT_END, event_window_days=3)
    config.update(dict(overrides))
    return config


_CLEAN: dict[str, TapOutput] = {}


def clean_run(sim: Simulator, stream: str) -> TapOutput:
    if stream not in _CLEAN:
        sim.faults.clear()
        _CLEAN[stream] = sync_in_process(fault_config(sim, stream), [stream])
        assert _CLEAN[stream].records[stream], f"the clean run of {stream} emitted nothing"
    return _CLEAN[stream]


def run_under(sim: Simulator, stream: str, case: Case) -> tuple[TapOutput, list[Fault]]:
    clean_run(sim, stream)
    sim.faults.clear()
    faults = [
        sim.faults.add(f) for f in case.faults(PAGE_LIST if stream == "pages" else AGGREGATION)
    ]
    try:
        output = sync_in_process(fault_config(sim, stream, case.config), [stream])
    finally:
        sim.faults.clear()
    return output, faults


def assert_exact(
    sim: Simulator, stream: str, output: TapOutput, *, duplicates_allowed: bool
) -> int:
    """The run's records equal the clean run's (key and content); returns repeats seen."""
    clean = clean_run(sim, stream)
    keys = clean.key_properties[stream]
    assert output.key_properties[stream] == keys
    expected, clean_repeats = by_key(clean.records[stream], keys)
    assert clean_repeats == 0, "the clean run repeats a primary key"
    got, repeats = by_key(output.records[stream], keys)
    assert got.keys() == expected.keys(), (
        f"missing {len(expected.keys() - got.keys())}, unexpected {len(got.keys() - expected.keys())}"
    )
    assert got == expected
    if not duplicates_allowed:
        assert repeats == 0, f"{repeats} records emitted twice"
    FIGURES.records_compared += len(output.records[stream])
    return repeats


def record_figures(case: Case, faults: list[Fault], survived: bool) -> int:
    fired = sum(f.fired for f in faults)
    FIGURES.fault(case.kind, fired, survived=survived)
    return fired


@pytest.mark.parametrize("stream", ENTITY_STREAMS + EVENT_STREAMS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.kind)
def test_fault_gives_the_clean_records(
    fsim: Simulator, stream: str, case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="pendo_http")
    output, faults = run_under(fsim, stream, case)
    fired = record_figures(case, faults, survived=False)
    assert fired >= 1, f"the {case.kind} fault never fired for {stream}"
    if case.kind == "429 Retry-After":
        # The wait came from the header (1 s), not from the 0.01 s backoff.
        assert any(
            re.search(r"HTTP 429 .*retry 1 of \d+ in 1\.0s", r.getMessage()) for r in caplog.records
        )
    # Entity streams resume a broken body after the last key emitted; event streams re-read
    # the broken window and skip the rows already emitted: no record twice either way.
    assert_exact(fsim, stream, output, duplicates_allowed=False)
    FIGURES.survived[case.kind] += fired


@pytest.mark.parametrize("stream", EVENT_STREAMS)
@pytest.mark.parametrize("case", WINDOW_CASES, ids=lambda c: c.kind)
def test_refused_large_window_is_split(fsim: Simulator, stream: str, case: Case) -> None:
    log_start = len(fsim.aggregation_log)
    output, faults = run_under(fsim, stream, case)
    fired = record_figures(case, faults, survived=False)
    assert fired >= 1, "no window was refused"
    windows = [_time_series(body) for body in fsim.aggregation_log[log_start:]]
    day_windows = [w for w in windows if w and w["period"] == "dayRange"]
    assert any(w["count"] == 3 for w in day_windows), "the three-day window was never asked for"
    assert any(w["count"] == 1 for w in day_windows), "the refused window was not split into days"
    assert_exact(fsim, stream, output, duplicates_allowed=False)
    FIGURES.survived[case.kind] += fired


def _time_series(body: dict) -> dict | None:
    pipeline = (body.get("request") or {}).get("pipeline") or []
    source = pipeline[0].get("source", {}) if pipeline else {}
    return source.get("timeSeries")


KEYSET = re.compile(
    r'lastupdated > (\d+)\) \|\| \(metadata\.auto\.lastupdated == \d+ && (\w+) > ("(?:[^"\\]|\\.)*")\)'
)


def _keyset_bound(body: dict) -> tuple[int, str] | None:
    """The (lastupdated, id) a keyset page starts after, from the request's filter."""
    import json

    for step in body["request"]["pipeline"]:
        match = KEYSET.search(step.get("filter", "")) if isinstance(step, dict) else None
        if match:
            return int(match.group(1)), json.loads(match.group(3))
    return None


@pytest.mark.parametrize(
    ("stream", "id_field", "fault_at"),
    # Aggregations: rows without lastupdated, then keyset pages; accounts: its first keyset page.
    [("visitors", "visitorId", 2), ("accounts", "accountId", 1)],
)
def test_dropped_page_resumes_after_the_last_key_emitted(
    fsim: Simulator, stream: str, id_field: str, fault_at: int
) -> None:
    """A connection dropped halfway through a keyset page: the retried request starts after
    the last row the tap emitted (not at the page's start, not at the stream's start).

    The cut comes after 100 kB: urllib3 discards what one read call gathered when the
    connection breaks inside it, so the break must come after the first 64 kB read.
    """
    clean_run(fsim, stream)
    log_start = len(fsim.aggregation_log)
    case = Case(
        "drop mid-body",
        lambda path: [Fault(path=path, kind="drop", after_bytes=100_000, skip=fault_at)],
    )
    output, faults = run_under(fsim, stream, case)
    fired = record_figures(case, faults, survived=False)
    assert fired == 1
    bodies = fsim.aggregation_log[log_start:]
    dropped, retried = _keyset_bound(bodies[fault_at]), _keyset_bound(bodies[fault_at + 1])
    assert retried is not None, "the retried request restarted the stream"
    assert dropped is None or retried > dropped, "the retried request restarted the page"
    emitted = [
        (r["lastupdated"], r[id_field])
        for r in output.records[stream]
        if r["lastupdated"] is not None
    ]
    assert retried in emitted, "the retried request does not start after an emitted row"
    # Everything the broken body delivered was kept and is not asked for again.
    delivered = [key for key in emitted if (dropped is None or dropped < key) and key <= retried]
    assert delivered, "no row of the broken body was kept"
    assert_exact(fsim, stream, output, duplicates_allowed=False)
    FIGURES.survived[case.kind] += fired
