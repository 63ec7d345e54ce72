"""`target-pendo --test`: prove a configuration against the real Pendo without writing anything.

A handful of GETs through a session that refuses every other method: the key check, the
metadata schema of each kind, and whether the track URL answers at all (no event is sent: a
GET cannot create one, and the Track Event Shared Secret can only be proven by an event).
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import orjson

from pendo_http import (
    PendoAuthError,
    PendoClient,
    PendoError,
    PendoFatalError,
    PendoTLSError,
    PendoUnreachableError,
    Redactor,
    resolve_api_base,
    resolve_track_url,
)
from pendo_http.keycheck import VERIFY_PATH, check_key
from pendo_http.probe import ProbeReport
from target_pendo.http import build_client
from target_pendo.streams_config import StreamConfigError, resolve_stream_spec

# The `Type` values the target converts to (pendo-api.md: string, boolean, integer, float,
# time, list, or "" when unset); any other is written as JSON has it.
KNOWN_TYPES = frozenset(
    {"", "string", "text", "boolean", "integer", "int", "number", "float", "double", "time"}
    | {"date", "datetime", "list"}
)
WRITE_KINDS = ("visitor", "account")


def _status(error: PendoError) -> str:
    status = getattr(error, "status", None)
    return f"HTTP {status}" if status else type(error).__name__


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")


class TargetProbe:
    """The read-only checks of `target-pendo --test` and the report they fill."""

    def __init__(self, config: dict[str, Any], redactor: Redactor) -> None:
        self.config = config
        self.api_base = resolve_api_base(config.get("region"), config.get("api_url"))
        self.track_url = resolve_track_url(
            config.get("region"), config.get("api_url"), config.get("track_url")
        )
        self.key = config.get("integration_key") or None
        self.secret = config.get("track_event_secret") or None
        self.client: PendoClient = build_client(
            base_url=self.api_base,
            integration_key=self.key,
            max_requests_per_second=5,
            dry_run=True,  # the session refuses anything but GET/HEAD
            pool_size=1,
            request_timeout=min(60.0, float(config.get("request_timeout") or 60)),
            max_retries=2,
            retry_backoff_seconds=float(config.get("retry_backoff_seconds") or 1.0),
        )[0]
        self.report = ProbeReport(
            "target-pendo --test (read-only; nothing is written)", redact=redactor
        )
        self.key_checked_by: str | None = None
        self.kinds, self.track_needed = self._configured()

    def _configured(self) -> tuple[dict[str, set[str]], bool]:
        """Metadata kind -> groups the configured streams write, and whether any is track."""
        kinds: dict[str, set[str]] = {"visitor": set(), "account": set()}
        parent = self.config.get("parent_account_kind") or "parentAccount"
        track = False
        for name in self.config.get("streams") or {}:
            try:
                spec = resolve_stream_spec(name, self.config.get("streams"))
            except StreamConfigError:
                continue
            if spec.is_track:
                track = True
            else:
                kind = parent if spec.object == "parent_account" else spec.object
                kinds.setdefault(kind, set()).add(spec.group)
        kinds.setdefault(parent, set())
        return kinds, track

    def run(self) -> ProbeReport:
        report = self.report
        report.info("api", self.api_base)
        report.info("track url", _host(self.track_url) + urlsplit(self.track_url).path)
        report.info("integration_key", "set" if self.key else "not set")
        report.info("track_event_secret", "set" if self.secret else "not set")
        report.info("time_format", str(self.config.get("time_format") or "iso"))
        if self.key:
            self.verify_key()
            for kind, groups in self.kinds.items():
                self.schema(kind, groups)
        else:
            report.add(
                "GET /api/v1/token/verify",
                "skipped",
                "no integration_key: metadata streams cannot be written",
                failed=any(self.kinds.values()),
            )
        self.track()
        if self.key_checked_by:
            report.info("key checked by", self.key_checked_by)
        return report

    def _get(self, path: str, *, what: str) -> Any:
        """The JSON a GET answered, or its text when it is not JSON (a surprise to report)."""
        response = self.client.send("GET", path, what=what)
        try:
            return orjson.loads(response.content) if response.content.strip() else None
        except orjson.JSONDecodeError:
            return " ".join(response.content.decode("utf-8", "replace").split())
        finally:
            response.close()

    def verify_key(self) -> None:
        endpoint = f"GET {VERIFY_PATH}"
        try:
            checked = check_key(self.client)
        except PendoAuthError as error:
            self.report.add(
                endpoint, _status(error), "key refused", surprise=str(error), failed=True
            )
            return
        except PendoFatalError as error:
            self.report.add(endpoint, _status(error), "refused", surprise=str(error), failed=True)
            return
        except PendoError as error:
            self.report.add(endpoint, _status(error), "no answer", surprise=str(error), failed=True)
            return
        if checked.fallback_from is not None:
            # token/verify is known only from third-party code; the schema read is documented.
            self.report.add(
                endpoint,
                f"HTTP {checked.fallback_from}",
                "no such endpoint here",
                surprise="the key is checked with the metadata schema read instead",
            )
            return
        answer = checked.body
        if not isinstance(answer, dict):
            self.report.add(
                endpoint,
                "HTTP 200",
                f"not an object: {str(answer)[:80]!r}",
                surprise=(
                    "expected {valid, writeAccess}; the key is checked with the schema read instead"
                ),
            )
            return
        self.key_checked_by = endpoint
        write = answer.get("writeAccess")
        surprises = [f"unknown field {k!r}" for k in answer if k not in ("valid", "writeAccess")]
        ok = answer.get("valid") is True and write is not False
        if answer.get("valid") is not True:
            surprises.append("`valid` is not true")
        if write is False:
            surprises.append(
                'the key is read-only: metadata writes need "Allow Write Access" '
                "(Settings > Integrations > Integration Keys)"
            )
        elif write is None:
            surprises.append("no `writeAccess` field: write access not proven")
        self.report.add(
            endpoint,
            "HTTP 200",
            f"valid={answer.get('valid')!r}, writeAccess={write!r}",
            surprise="; ".join(surprises),
            failed=not ok,
        )

    def schema(self, kind: str, groups_needed: set[str]) -> None:
        endpoint = f"GET /api/v1/metadata/schema/{kind}"
        needed = bool(groups_needed) or kind in WRITE_KINDS
        try:
            answer = self._get(f"/api/v1/metadata/schema/{kind}", what=f"metadata schema ({kind})")
        except PendoTLSError as error:
            self.report.add(endpoint, _status(error), "no answer", surprise=str(error), failed=True)
            return
        except PendoFatalError as error:
            if error.status in (403, 404) and not groups_needed and kind not in WRITE_KINDS:
                self.report.add(endpoint, _status(error), "no parent accounts in this subscription")
                return
            self.report.add(endpoint, _status(error), "refused", surprise=str(error), failed=needed)
            return
        except PendoError as error:
            self.report.add(
                endpoint, _status(error), "no answer", surprise=str(error), failed=needed
            )
            return
        if self.key_checked_by is None:
            self.key_checked_by = endpoint
        if not isinstance(answer, dict):
            self.report.add(
                endpoint,
                "HTTP 200",
                f"not an object of groups: {str(answer)[:80]!r}",
                surprise="the target cannot read field types from this answer",
                failed=True,
            )
            return
        parts, surprises = [], []
        for group, fields in answer.items():
            if not isinstance(fields, dict):
                surprises.append(f"group {group!r} is not an object")
                continue
            types: Counter[str] = Counter()
            for name, desc in fields.items():
                kind_name = desc.get("Type", desc.get("type")) if isinstance(desc, dict) else None
                if not isinstance(kind_name, str):
                    surprises.append(f"{group}.{name} has no `Type`")
                    continue
                types[kind_name or "unset"] += 1
                if kind_name.lower() not in KNOWN_TYPES:
                    surprises.append(
                        f"{group}.{name} has type {kind_name!r}, unknown to the target "
                        "(its values are sent as they come)"
                    )
            shown = ", ".join(f"{t} {n}" for t, n in sorted(types.items()))
            count = sum(types.values())
            parts.append(
                f"{group} ({count} field{'' if count == 1 else 's'}{': ' + shown if shown else ''})"
            )
        for group in sorted(groups_needed):
            if group not in answer:
                surprises.append(f"no {group!r} group, which a configured stream writes")
        self.report.add(
            endpoint,
            "HTTP 200",
            "groups: " + ("; ".join(parts) or "none"),
            surprise="; ".join(surprises),
            failed=not all(g in answer for g in groups_needed),
        )

    def track(self) -> None:
        endpoint = f"GET {urlsplit(self.track_url).path} (reachability only, no event sent)"
        try:
            # No secret on this request: it proves the host answers, nothing more.
            response = self.client.send("GET", self.track_url, what="track URL check", secret="")
            status = f"HTTP {response.status_code}"
            response.close()
        except PendoTLSError as error:
            self.report.add(endpoint, _status(error), "no answer", surprise=str(error), failed=True)
            return
        except PendoFatalError as error:
            if not isinstance(error, PendoUnreachableError):
                status = _status(error)
            else:
                self._unreachable(endpoint, error)
                return
        except PendoError as error:
            self._unreachable(endpoint, error)
            return
        self.report.add(
            endpoint,
            status,
            "reachable (any HTTP answer to a GET means the host serves requests)",
            surprise=""
            if self.secret
            else "track_event_secret not set: track-event streams cannot be written",
            failed=not self.secret and self.track_needed,
            note="the Track Event Shared Secret is proven only by sending an event; not checked",
        )

    def _unreachable(self, endpoint: str, error: PendoError) -> None:
        self.report.add(
            endpoint,
            _status(error),
            "unreachable",
            surprise=str(error),
            failed=self.track_needed,
        )


def run_probe(config: dict[str, Any], redactor: Redactor) -> ProbeReport:
    """Run every check of `target-pendo --test`; the report says what passed."""
    return TargetProbe(config, redactor).run()
