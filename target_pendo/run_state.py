"""`PendoRun`: what one target run shares between its sinks, and nothing of the SDK's target.

The target builds one from its configuration; every sink receives it and writes through it
(the HTTP client, the metadata writers, the track-event pacing), accounts in its ledger, and
reads Pendo's metadata schemas from its cache. The target keeps configuration and sink
selection; the run keeps the outcomes and the STATE gate (state_gate.py), stops cleanly and
writes the summary.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from functools import cached_property
from typing import Any

from pendo_http import PendoClient, PendoError, PendoFatalError, Redactor, url_secrets
from pendo_http.metadata_schema import STOPPING_ERRORS, MetadataSchema, read_metadata_schema
from pendo_http.progress import DEFAULT_INTERVAL_SECONDS
from target_pendo.abort import TargetAbort
from target_pendo.http import GuardedSession, VisitorPacer, build_client
from target_pendo.ledger import DeadLetterFile, Ledger
from target_pendo.metadata import MetadataWriter
from target_pendo.progress import ProgressReporter
from target_pendo.settings import TargetSettings
from target_pendo.state_gate import StateGate
from target_pendo.streams_config import StreamConfigError, StreamSpec, resolve_stream_spec


class PendoRun:
    """The shared state of one run: settings, secrets' redactor, ledger, client, writers,
    track-event pacing and the metadata schemas read so far.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        logger: logging.Logger,
        write_state: Callable[[Any], None],
    ) -> None:
        self.config = config
        self.logger = logger
        self.settings = TargetSettings.from_config(config)
        self.dry_run = self.settings.dry_run
        self.redactor = Redactor(
            [
                self.settings.integration_key,
                self.settings.track_secret,
                *url_secrets(config.get("api_url")),
                *url_secrets(config.get("track_url")),
            ]
        )
        self.ledger = Ledger(
            DeadLetterFile(
                config.get("dead_letter_path") or "target-pendo-dead-letter.jsonl",
                redact=self.redactor,
            ),
            dry_run=self.dry_run,
        )
        interval = config.get("progress_interval_seconds")
        self.progress = ProgressReporter(
            self.ledger, logger, DEFAULT_INTERVAL_SECONDS if interval is None else float(interval)
        )
        self.state_gate = StateGate(self.ledger, write_state)
        self.writers: list[MetadataWriter] = []
        self.batches_written = 0  # counted by the sinks; the target's STATE gating reads it
        self.aborted: str | None = None
        self._pools: list[Executor] = []
        self._specs: dict[str, StreamSpec] = {}
        self._schemas: dict[str, MetadataSchema | None] = {}
        self._schema_lock = threading.Lock()

    # -- what sinks use -------------------------------------------------------------------

    @cached_property
    def _client_pair(self) -> tuple[PendoClient, GuardedSession]:
        config = self.config
        return build_client(
            base_url=self.settings.api_base,
            integration_key=self.settings.integration_key,
            max_requests_per_second=float(config.get("max_requests_per_second") or 20),
            dry_run=self.dry_run,
            pool_size=max(self.settings.track_concurrency, self.settings.max_concurrent_requests),
            request_timeout=float(config.get("request_timeout") or 300),
            max_retries=int(config.get("max_retries") or 8),
            retry_backoff_seconds=float(config.get("retry_backoff_seconds") or 1.0),
        )

    @property
    def client(self) -> PendoClient:
        """The one client every request of the run goes through (rate-limited, retried)."""
        return self._client_pair[0]

    @property
    def session(self) -> GuardedSession:
        """The client's session: it counts reads and writes and refuses writes in a dry run."""
        return self._client_pair[1]

    @cached_property
    def track_pacer(self) -> VisitorPacer:
        """Per-visitor pacing of track events, shared by every track-event stream."""
        return VisitorPacer(self.settings.track_per_visitor)

    @cached_property
    def track_url(self) -> str:
        """Where track events are posted."""
        return self.settings.track_url

    def stream_spec(self, stream_name: str) -> StreamSpec:
        """What the stream becomes in Pendo; TargetAbort when its configuration is wrong."""
        if stream_name not in self._specs:
            try:
                self._specs[stream_name] = resolve_stream_spec(
                    stream_name, self.config.get("streams")
                )
            except StreamConfigError as error:
                raise TargetAbort(str(error)) from None
        return self._specs[stream_name]

    def pendo_fields(self, kind: str, group: str) -> dict[str, str]:
        """Field name -> Pendo type of one metadata group (each kind's schema read once a run)."""
        with self._schema_lock:
            if kind not in self._schemas:
                self._schemas[kind] = self._read_schema(kind)
            schema = self._schemas[kind]
        return schema.field_types(group) if schema is not None else {}

    def _read_schema(self, kind: str) -> MetadataSchema | None:
        if not self.settings.integration_key:
            msg = (
                "Metadata streams need `integration_key` (a Pendo integration key with write "
                "access)."
            )
            raise TargetAbort(msg)
        hint = "" if kind in ("visitor", "account") else " Check `parent_account_kind`."
        path = f"/api/v1/metadata/schema/{kind}"
        try:
            schema = read_metadata_schema(
                self.client, kind, what=f"metadata schema read (GET {path})"
            )
        except STOPPING_ERRORS as error:
            raise TargetAbort(str(error)) from None
        except PendoFatalError as error:
            raise TargetAbort(f"{error}.{hint}") from None
        except PendoError as error:
            msg = f"Could not read Pendo's {kind} metadata schema: {error}"
            raise TargetAbort(msg) from None
        if schema is None and hint:
            raise TargetAbort(f"Pendo has no {kind} metadata schema (GET {path}).{hint}")
        return schema

    def add_writer(self, writer: MetadataWriter) -> None:
        """Count `writer`'s requests in the run's summary."""
        self.writers.append(writer)

    def stop_with_run(self, pool: Executor) -> None:
        """Cancel `pool`'s queued work when the run stops."""
        self._pools.append(pool)

    # -- end of the run -------------------------------------------------------------------

    @property
    def failed(self) -> bool:
        """True when the run stopped, or a record or line could not be written."""
        return self.aborted is not None or self.ledger.failed > 0

    def abort(self, reason: str) -> None:
        """Stop: every record received but not yet written goes to the dead-letter file,
        so a restart from the last STATE re-sends them; then the summary.
        """
        self.aborted = reason
        self.state_gate.close()
        self.logger.error("Stopping: %s", reason)
        # Requests already running finish (and settle their records) before the rest are
        # dead-lettered; queued ones are cancelled.
        for pool in self._pools:
            pool.shutdown(wait=True, cancel_futures=True)
        self.ledger.reject_all(
            list(self.ledger.unsettled.values()),
            f"not written: the run stopped ({reason})",
            api_error=None,
        )
        self.finish()

    def finish(self) -> None:
        """Close the dead-letter file and log the summary and the HTTP counts."""
        self.progress.stop()
        self.ledger.dead_letters.close()
        self.ledger.print_summary()
        if "_client_pair" in self.__dict__:
            client, session = self._client_pair
            self.logger.info(
                "HTTP: %d requests (%d writes, %d reads), %d retries; %d metadata requests, "
                "%d batch splits.",
                client.calls,
                session.writes,
                session.reads,
                client.retries,
                sum(w.requests for w in self.writers),
                sum(w.splits for w in self.writers),
            )
        unaccounted = sum(r["unaccounted"] for r in self.ledger.summary_rows())
        if unaccounted:
            self.logger.error(
                "%d records have no outcome: this is a bug in target-pendo.", unaccounted
            )


def run_of(target: object) -> PendoRun:
    """The run a sink's target carries (sinks receive the SDK's target object)."""
    run = getattr(target, "pendo_run", None)
    if not isinstance(run, PendoRun):
        msg = f"{type(target).__name__} carries no PendoRun"
        raise TypeError(msg)
    return run
