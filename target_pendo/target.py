"""TargetPendo: writes any tap's records back to Pendo as metadata and track events.

The target is its configuration and the choice of sink per stream; it hands each STATE to the
run's STATE gate (state_gate.py), which lets it out once every record before it has an
outcome. Everything a sink writes through or reports to lives in the run's `PendoRun`
(run_state.py); input lines are read by `TolerantReader` (reader.py).
"""

from __future__ import annotations

import copy
import json
import sys
import typing as t

import click
import msgspec
from singer_sdk import Target
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.plugin_base import _ConfigInput
from typing_extensions import override

from pendo_http import install_log_redaction, secret_problems
from pendo_http.settings_check import unknown_settings_message
from pendo_http.url_check import plain_http_warning
from target_pendo.abort import TargetAbort
from target_pendo.convert import json_safe
from target_pendo.lines import DEFAULT_MAX_LINE_BYTES
from target_pendo.meltano_test import MeltanoTestSink, is_meltano_test
from target_pendo.probe import run_probe
from target_pendo.reader import TolerantReader
from target_pendo.run_state import PendoRun
from target_pendo.settings import CONFIG_SCHEMA, check_settings
from target_pendo.sinks import MetadataSink, TrackEventSink

if t.TYPE_CHECKING:
    from singer_sdk.sinks import Sink

_STATE_ENCODER = msgspec.json.Encoder(decimal_format="number")


def state_json(state: t.Any) -> str:
    """STATE as JSON, its numbers as they came: the SDK's decoder reads them as Decimal,
    which the SDK's own `json.dumps` refuses (a STATE holding 0.5 stopped the run).
    """
    try:
        return _STATE_ENCODER.encode(state).decode()
    except (UnicodeEncodeError, TypeError):  # a lone surrogate: json.dumps escapes it
        return json.dumps(json_safe(state))


class TargetPendo(Target):
    """Writes Singer records to Pendo: visitor/account/parent-account metadata and track events."""

    name = "target-pendo"
    package_name = "pendo-singer"
    default_sink_class = MetadataSink
    message_reader_class = TolerantReader
    config_jsonschema = CONFIG_SCHEMA

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_parallelism = 1  # sinks drain one after the other; a failure stops cleanly
        self.pendo_run = PendoRun(self.config, self.logger, self._print_state)
        install_log_redaction(self.pendo_run.redactor)
        if isinstance(self.message_reader, TolerantReader):
            self.message_reader.report_to(
                self.pendo_run.ledger,
                self.logger,
                int(self.config.get("max_line_bytes") or DEFAULT_MAX_LINE_BYTES),
            )
        check_settings(self.config)

    # -- configuration ------------------------------------------------------------------

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The schema's checks, after refusing a secret that cannot be Pendo's (whitespace,
        control or non-ASCII characters; the message names the setting, never the value) and
        naming settings the target does not know in one warning.
        """
        known = copy.deepcopy(self.config_jsonschema)
        self.append_builtin_config(known)
        unknown = unknown_settings_message(self._config, known["properties"], plugin=self.name)
        if unknown:
            self.logger.warning("%s", unknown)
        problems = secret_problems(self._config)
        if problems and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=problems)
        for setting in ("api_url", "track_url"):
            warning = plain_http_warning(setting, self._config.get(setting))
            if warning:
                self.logger.warning("%s", warning)
        return problems + super()._validate_config(raise_errors=raise_errors)

    @override
    def get_sink_class(self, stream_name: str) -> type[Sink]:
        if is_meltano_test(stream_name, self.config.get("streams")):
            return MeltanoTestSink
        if self.pendo_run.stream_spec(stream_name).is_track:
            return TrackEventSink
        return MetadataSink

    @override
    def get_sink(
        self,
        stream_name: str,
        *,
        record: dict[str, t.Any] | None = None,
        schema: dict[str, t.Any] | None = None,
        key_properties: t.Sequence[str] | None = None,
    ) -> Sink:
        """The SDK's, but a sink replaced by a changed SCHEMA is written out at once.

        The SDK holds the old sink until the next full drain, while the new one is written
        whenever it fills: a record of the old sink would reach Pendo after a later record
        of the same id, and the older value would win.
        """
        sink = super().get_sink(
            stream_name, record=record, schema=schema, key_properties=key_properties
        )
        if self._sinks_to_clear:
            replaced = list(self._sinks_to_clear)
            self.drain_all()
            for old in replaced:
                old.clean_up()  # waits for its requests; the SDK never cleans these up
        return sink

    # -- STATE --------------------------------------------------------------------------

    def _held_records(self) -> int:
        """Records in sinks' batches, not yet handed to a request."""
        return sum(s.current_size for s in self._sinks_active.values())

    def _print_state(self, state: t.Any) -> None:
        text = state_json(state)
        self.logger.debug("Emitting completed target state %s", text)
        sys.stdout.write(f"{text}\n")
        sys.stdout.flush()

    @override
    def _process_state_message(self, message_dict: dict[str, t.Any]) -> None:
        super()._process_state_message(message_dict)
        self.pendo_run.state_gate.receive(self._latest_state)

    @override
    def _process_record_message(self, message_dict: dict[str, t.Any]) -> None:
        batches = self.pendo_run.batches_written
        super()._process_record_message(message_dict)
        gate = self.pendo_run.state_gate
        if gate.holding:
            if self.pendo_run.batches_written != batches and self._held_records():
                # A full sink was just written while a STATE waits on records other sinks
                # still hold (interleaved streams, or a finished stream's last partial
                # batch): write those too, so the STATE goes out and a restart from it
                # re-sends at most about one batch per stream.
                self.drain_all()
            gate.emit_ready()

    @override
    def _write_state_message(self, state: dict[str, t.Any]) -> None:
        """The SDK calls this after draining every sink: the STATE gate writes the newest
        STATE whose records all have an outcome (state_gate.py); requests still in flight
        write theirs when they are answered.
        """
        self.pendo_run.state_gate.emit_ready()

    # -- end of run ---------------------------------------------------------------------

    @override
    def process_endofpipe(self) -> None:
        super().process_endofpipe()  # cleans up every sink: waits for its requests
        self.pendo_run.finish()

    @override
    @classmethod
    def get_singer_command(cls) -> click.Command:
        """The SDK's command, plus `--test` (as taps have): a read-only connection check."""
        command = super().get_singer_command()
        command.params.append(
            click.Option(
                ["--test"],
                is_flag=True,
                default=False,
                help=(
                    "Check the configuration against Pendo without writing anything (key, "
                    "metadata schemas, track URL) and print a report; exit 1 if a check failed."
                ),
            )
        )
        return command

    @override
    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: _ConfigInput | None = None,
        file_input: t.IO[str] | None = None,
        test: bool = False,
    ) -> None:
        """The SDK's invoke, plus: a clear message instead of a traceback when the run must
        stop, the summary, and a non-zero exit when anything was not written; `--test`
        checks the configuration against Pendo without writing (target_pendo/probe.py).
        """
        if about:
            cls.print_about(about_format)
            sys.exit(0)
        cls.print_version(print_fn=cls.logger.info)
        config = config or _ConfigInput()
        try:
            target = cls(
                config=config.config, validate_config=True, parse_env_config=config.parse_env
            )
        except TargetAbort as error:
            cls.logger.error("target-pendo cannot start: %s", error)
            sys.stderr.write(f"target-pendo: {error}\n")
            sys.exit(2)
        run = target.pendo_run
        if test:
            report = run_probe(dict(target.config), run.redactor)
            sys.stdout.write(report.render() + "\n")
            sys.stdout.flush()
            sys.exit(0 if report.ok else 1)
        run.progress.start()
        try:
            target.listen(file_input)
        except TargetAbort as error:
            run.abort(str(error))
            sys.stderr.write(run.redactor(f"target-pendo stopped: {error}\n"))
            sys.exit(1)
        except Exception as error:  # report, account, exit non-zero
            what = f"{type(error).__name__}: {error}"
            target.logger.exception("Unexpected error")
            run.abort(f"unexpected error: {what}")
            sys.stderr.write(run.redactor(f"target-pendo stopped by an unexpected error: {what}\n"))
            sys.exit(1)
        finally:
            run.progress.stop()
        if run.failed:
            sys.stderr.write(
                f"target-pendo: {run.ledger.failed} record(s) or line(s) could not be written; "
                f"see {run.ledger.dead_letters.path}\n"
            )
            sys.exit(1)


__all__ = ["TargetPendo"]

if __name__ == "__main__":
    TargetPendo.cli()
