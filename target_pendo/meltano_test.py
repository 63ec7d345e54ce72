"""`meltano config test target-pendo`: check the keys and read the metadata schema; write nothing.

Meltano tests a loader by piping it a SCHEMA, one RECORD and a STATE of a stream named
`meltano_test_stream` (`id`, `name`, `created_at`) and expects a clean exit. Pendo has no
place for such a row, and writing a test value into a real subscription would be a side
effect nobody asked for. So, unless the `streams` setting maps that stream to something,
target-pendo answers it with the checks a real run starts with: the integration key is
accepted (`GET /api/v1/token/verify`), has write access, and Pendo's visitor metadata schema
can be read. The record is dropped, and one line says what was checked and that nothing was
written. A failed check stops the run with the usual one-line message (Meltano shows it).

Meltano fails the test on any output line containing "error" or "exception", so the lines
written on success avoid those words. At `meltano --log-level=debug` the SDK's own debug dump
of the settings schema names `error_isolation`, so Meltano's verdict at that level is
"invalid" whatever the checks found; the default level gives the real verdict.

Meltano 4.4.1 itself calls `terminate()` on the loader after awaiting its exit; on Python 3.11
asyncio has usually dropped the process by then, and the test then fails with
ProcessLookupError for any loader (target-jsonl too) after the loader succeeded. Nothing a
loader does changes that order; tests/e2e/test_meltano_from_ref.py checks this target against
Meltano's own test messages and criteria through `meltano invoke`.
"""

from __future__ import annotations

import typing as t

from singer_sdk.sinks import BatchSink
from typing_extensions import override

from pendo_http import PendoError
from pendo_http.keycheck import check_key
from target_pendo.abort import TargetAbort
from target_pendo.run_state import PendoRun, run_of

if t.TYPE_CHECKING:
    from singer_sdk import Target

MELTANO_TEST_STREAM = "meltano_test_stream"


def is_meltano_test(stream_name: str, streams_setting: t.Mapping[str, t.Any] | None) -> bool:
    """True for Meltano's test stream, unless the user configured that name explicitly."""
    return stream_name == MELTANO_TEST_STREAM and stream_name not in (streams_setting or {})


def check_connection(run: PendoRun) -> str:
    """Run the read-only checks; returns what was checked, raises TargetAbort on a failure."""
    done: list[str] = []
    settings = run.settings
    if not settings.integration_key and not settings.track_secret:
        msg = (
            "neither `integration_key` (metadata streams) nor `track_event_secret` (track event "
            "streams) is set: target-pendo cannot write anything."
        )
        raise TargetAbort(msg)
    if settings.integration_key:
        try:
            checked = check_key(run.client)
        except PendoError as failure:
            raise TargetAbort(str(failure)) from None
        if checked.write_access is False:
            msg = (
                "the integration key is valid but read-only: metadata writes need a key with "
                '"Allow Write Access" (Settings > Integrations > Integration Keys).'
            )
            raise TargetAbort(msg)
        fields = run.pendo_fields("visitor", "custom")
        done.append(
            f"integration key accepted by {run.client.base_url}, visitor metadata schema read "
            f"({len(fields)} custom fields)"
        )
    if settings.track_secret:
        done.append(
            "track_event_secret is set (not verified: only sending an event would verify it)"
        )
    return "; ".join(done)


class MeltanoTestSink(BatchSink):
    """Meltano's test stream: the checks run when the stream starts; its records are dropped."""

    def __init__(
        self,
        target: Target,
        stream_name: str,
        schema: dict[str, t.Any],
        key_properties: t.Sequence[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        checked = check_connection(run_of(target))
        self.dropped = 0
        self.logger.info(
            "meltano config test: %s. Nothing was written to Pendo: the records of `%s` are "
            "dropped (map the stream in `streams` to write it).",
            checked,
            stream_name,
        )

    @override
    def process_record(self, record: dict[str, t.Any], context: dict[str, t.Any]) -> None:
        self.dropped += 1

    @override
    def process_batch(self, context: dict[str, t.Any]) -> None:
        """Nothing to write."""
