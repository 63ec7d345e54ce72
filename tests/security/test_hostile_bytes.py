"""No input line stops target-pendo: byte-level fuzzing plus the cases it must cover.

Hypothesis mixes valid Singer messages with raw byte lines: invalid UTF-8 (also UTF-8
encoded surrogates), NUL bytes, lone surrogate escapes, nesting deeper than the limit in
SCHEMA and RECORD, huge numbers, NaN/Infinity, random bytes. For every input: no traceback,
exit status 0 when everything was written and 1 otherwise (README), every line that is or
may be a record is in the summary's `received` and has one outcome, the dead-letter file
holds exactly the dead-lettered ones and is readable by its owner only.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pendo_sim import DatasetConfig, Simulator
from target_pendo.reader import MAX_DEPTH
from target_pendo.validation import RecordValidator
from tests.helpers.target import TARGET, Run, read_jsonl, record, run_target, schema
from tests.security._shared import FIGURES

EXAMPLES = 25
PROPS = {
    "visitorId": {"type": "string"},
    "plan": {},
    "seats": {"type": ["integer", "number", "null"]},
}
SCHEMA_LINE = json.dumps(schema("visitors", PROPS, ["visitorId"]))
IDS = ["visitor-12", "visitor-13", "visitor-14", "nobody-knows-me"]
COUNTS: Counter[str] = Counter()


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for i in range(depth):
        value = {"n": value} if i % 2 else [value]
    return value


def deep_schema(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        node = {"type": ["object", "null"], "properties": {"a": node}}
    properties = {"visitorId": {"type": "string"}, "a": node}
    return {
        "type": "SCHEMA",
        "stream": "deep",
        "key_properties": ["visitorId"],
        "schema": {"type": "object", "properties": properties},
    }


def record_line(vid: str, plan: str = '"p"', seats: str = "1") -> bytes:
    return (
        f'{{"type":"RECORD","stream":"visitors","record":{{"visitorId":{json.dumps(vid)},'
        f'"plan":{plan},"seats":{seats}}}}}'
    ).encode()


NUMBERS = ["1", "NaN", "Infinity", "-Infinity", "1e400", str(10**30), "-" + "9" * 40, "2.5"]
# (line bytes, how many records it adds to the summary)
line_kinds = st.one_of(
    st.builds(
        lambda vid, seats, text: (record_line(vid, json.dumps(text), seats), 1),
        st.sampled_from(IDS),
        st.sampled_from(NUMBERS),
        st.text(max_size=20),
    ),
    st.builds(lambda vid: (record_line(vid, '"\\ud800 lone"'), 1), st.sampled_from(IDS)),
    st.builds(
        lambda vid, bad: (record_line(vid).replace(b'"p"', b'"p' + bad + b'"'), 1),
        st.sampled_from(IDS),
        st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80abc", b"\x00", b"\x1f"]),
    ),
    st.builds(
        lambda vid, depth: (record_line(vid, json.dumps(nested(depth))), 1),
        st.sampled_from(IDS),
        st.sampled_from([5, MAX_DEPTH - 4, MAX_DEPTH + 5, 300]),
    ),
    st.builds(
        lambda levels: (json.dumps(deep_schema(levels)).encode(), int(2 * levels + 4 > MAX_DEPTH)),
        st.sampled_from([3, 20, 40, 200]),
    ),
    st.just((json.dumps({"type": "STATE", "value": {"at": 1}}).encode(), 0)),
    st.just((SCHEMA_LINE.encode(), 0)),
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b"")),
)


def expected_for(item: Any) -> tuple[bytes, int]:
    if isinstance(item, tuple):
        return item
    data: bytes = item  # random bytes: a record-like line unless it is blank
    if not data.strip():
        return data, 0
    try:
        return data, int(bool(data.decode("utf-8").strip()))
    except UnicodeDecodeError:
        return data, 1


@pytest.fixture(scope="module")
def fuzz_sim() -> Iterator[Simulator]:
    with Simulator(DatasetConfig(seed=7)) as sim:
        yield sim
    line = (
        f"{COUNTS['examples']} examples, {COUNTS['lines']} input lines, "
        f"{COUNTS['received']} records received: {COUNTS['written']} written, "
        f"{COUNTS['missing']} skipped (unknown ids), {COUNTS['dead_letter']} dead-lettered; "
        "no traceback, every record accounted for, dead-letter files 0600"
    )
    print(f"\n[byte fuzz] {line}")
    FIGURES[f"byte fuzz: {line}"] += 1


def run_target_with_bytes(sim: Simulator, lines: list[bytes], out: Path, **extra: Any) -> Run:
    config = {
        "integration_key": sim.integration_key,
        "api_url": sim.url,
        "dead_letter_path": str(out / "dead.jsonl"),
        "max_requests_per_second": 1000,
        "streams": {
            "visitors": {"object": "visitor", "ignore_unknown_fields": True},
            "deep": {"object": "visitor", "ignore_unknown_fields": True},
        },
        **extra,
    }
    (out / "config.json").write_text(json.dumps(config))
    proc = subprocess.run(
        [TARGET, "--config", str(out / "config.json")],
        input=b"".join(line + b"\n" for line in lines),
        capture_output=True,
        timeout=120,
        cwd=out,
        check=False,
    )
    return Run(
        proc.returncode,
        proc.stdout.decode(),
        proc.stderr.decode("utf-8", "replace"),
        out / "dead.jsonl",
    )


def assert_accounted(run: Run, expected_received: int) -> dict[str, int]:
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    rows = run.summary().values()
    totals = Counter()
    for row in rows:
        assert row["unaccounted"] == 0, row
        for name in ("received", "updated", "missing", "dead_letter"):
            totals[name] += row[name]
    assert totals["received"] == expected_received, run.stderr[-3000:]
    dead = run.dead_letters
    assert len(dead) == totals["dead_letter"]
    bad_lines = "input lines that could not be processed" in run.stderr
    assert run.rc == (1 if dead or bad_lines else 0), run.stderr[-2000:]
    if run.dead_letter_path.exists():
        assert stat.S_IMODE(run.dead_letter_path.stat().st_mode) == 0o600
    return totals


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(items=st.lists(line_kinds, max_size=14))
def test_byte_fuzz_never_stops_the_run(fuzz_sim: Simulator, items: list[Any]) -> None:
    lines = [(SCHEMA_LINE.encode(), 0)] + [expected_for(item) for item in items]
    with tempfile.TemporaryDirectory() as tmp:
        run = run_target_with_bytes(fuzz_sim, [data for data, _ in lines], Path(tmp))
        totals = assert_accounted(run, sum(n for _, n in lines))
    COUNTS["examples"] += 1
    COUNTS["lines"] += len(lines)
    COUNTS["written"] += totals["updated"]
    for name in ("received", "missing", "dead_letter"):
        COUNTS[name] += totals[name]


def test_bad_byte_dead_letters_its_line_only(fuzz_sim: Simulator, tmp_path: Path) -> None:
    lines = [
        SCHEMA_LINE.encode(),
        record_line("visitor-12", '"before"'),
        json.dumps({"type": "STATE", "value": {"n": 1}}).encode(),
        record_line("visitor-13", '"bad \xff byte"'.encode("latin-1").decode("latin-1")).replace(
            b"\xc3\xbf", b"\xff"
        ),
        record_line("visitor-14", '"after"'),
    ]
    run = run_target_with_bytes(fuzz_sim, lines, tmp_path)
    assert_accounted(run, 3)
    assert run.states == [{"n": 1}]  # the STATE before the bad line went out
    assert fuzz_sim.store.metadata("visitor", "visitor-12")["custom"]["plan"] == "before"
    assert fuzz_sim.store.metadata("visitor", "visitor-14")["custom"]["plan"] == "after"
    (entry,) = run.dead_letters
    assert entry["line"] == 4
    assert "line 4 is not valid UTF-8: byte 0xff" in entry["reason"]


def test_overlong_line_is_dead_lettered_unread(fuzz_sim: Simulator, tmp_path: Path) -> None:
    long_line = record_line("visitor-12", json.dumps("x" * 5000))
    lines = [SCHEMA_LINE.encode(), long_line, record_line("visitor-13", '"short"')]
    run = run_target_with_bytes(fuzz_sim, lines, tmp_path, max_line_bytes=1000)
    assert_accounted(run, 2)
    (entry,) = run.dead_letters
    assert entry["line"] == 2
    assert (
        f"line 2 is {len(long_line) + 1} bytes, more than `max_line_bytes` (1000)"
        in entry["reason"]
    )
    assert "xxxx" not in json.dumps(entry)  # not read into the dead letter
    assert fuzz_sim.store.metadata("visitor", "visitor-13")["custom"]["plan"] == "short"


def test_too_deep_messages_are_dead_lettered(fuzz_sim: Simulator, tmp_path: Path) -> None:
    lines = [
        SCHEMA_LINE.encode(),
        json.dumps(deep_schema(100)).encode(),
        record_line("visitor-12", json.dumps(nested(500))),
        record_line("visitor-13", '"fine"'),
    ]
    run = run_target_with_bytes(fuzz_sim, lines, tmp_path)
    assert_accounted(run, 3)
    reasons = {entry["line"]: entry["reason"] for entry in run.dead_letters}
    assert set(reasons) == {2, 3}
    assert all(f"more than {MAX_DEPTH} levels deep" in r for r in reasons.values())
    assert fuzz_sim.store.metadata("visitor", "visitor-13")["custom"]["plan"] == "fine"


def test_schema_fastjsonschema_cannot_compile_falls_back() -> None:
    node: dict[str, Any] = {"type": "string"}
    for _ in range(48):
        text_or_null = {"anyOf": [{"type": "string"}, {"type": "null"}]}
        node = {"type": ["object", "null"], "properties": {"a": node, "b": text_or_null}}
    validator = RecordValidator(node)  # fastjsonschema's code for it: IndentationError
    assert validator.fast is None
    validator.validate({"a": None, "b": "x"})
    with pytest.raises(Exception, match="is not valid"):
        validator.validate({"b": 1})


@pytest.mark.parametrize(
    ("value", "field", "why"),
    [
        ("NaN", "seats", "not a finite number"),
        ("Infinity", "seats", "not a finite number"),
        ("1e400", "seats", "64-bit"),
        (str(2**64), "seats", "64-bit"),
        ("NaN", "plan", "not a finite number"),
        ("1e400", "plan", "out of range"),
    ],
)
def test_values_json_or_pendo_cannot_hold_name_the_field(
    fuzz_sim: Simulator, tmp_path: Path, value: str, field: str, why: str
) -> None:
    plan, seats = (value, "1") if field == "plan" else ('"p"', value)
    run = run_target_with_bytes(
        fuzz_sim, [SCHEMA_LINE.encode(), record_line("visitor-12", plan, seats)], tmp_path
    )
    assert_accounted(run, 1)
    (entry,) = run.dead_letters
    assert entry["field"] == field and why in entry["reason"], entry


@pytest.mark.parametrize("timestamp", [10**40, -1, "2201-01-01T00:00:00Z"])
def test_times_outside_1970_2200_name_the_field(
    fuzz_sim: Simulator, tmp_path: Path, timestamp: Any
) -> None:
    track = {"visitorId": {"type": "string"}, "event": {"type": "string"}, "timestamp": {}}
    messages = [
        schema("events", track),
        record("events", {"visitorId": "visitor-12", "event": "e", "timestamp": timestamp}),
    ]
    config = {
        "integration_key": fuzz_sim.integration_key,
        "track_event_secret": fuzz_sim.track_secret,
        "api_url": fuzz_sim.url,
        "dead_letter_path": str(tmp_path / "dead.jsonl"),
        "streams": {"events": {"object": "track_event"}},
    }
    run = run_target(config, messages, tmp_path)
    (entry,) = run.dead_letters
    assert entry["field"] == "timestamp"
    assert "outside the years 1970-2200" in entry["reason"]
    assert run.rc == 1


def test_dead_letter_file_is_private_whatever_the_umask(
    fuzz_sim: Simulator, tmp_path: Path
) -> None:
    dead = tmp_path / "new" / "dead.jsonl"
    old = os.umask(0)
    try:
        config = {
            "integration_key": fuzz_sim.integration_key,
            "api_url": fuzz_sim.url,
            "dead_letter_path": str(dead),
        }
        lines = [SCHEMA_LINE, json.dumps(record("visitors", {"visitorId": ""}))]
        run = run_target(config, lines, tmp_path)
    finally:
        os.umask(old)
    assert run.rc == 1 and dead.exists()
    assert stat.S_IMODE(dead.stat().st_mode) == 0o600
    assert stat.S_IMODE(dead.parent.stat().st_mode) & 0o077 == 0
    dead.chmod(0o644)  # a file left readable by an older version is narrowed
    run = run_target(config, lines, tmp_path)
    assert stat.S_IMODE(dead.stat().st_mode) == 0o600
    assert len(read_jsonl(dead)) == 2
