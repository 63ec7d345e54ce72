"""`tap-pendo --test`: a handful of cheap read-only calls that prove a key and a host.

Key check, the three metadata schemas, one small aggregation per source the tap reads (rows
capped at one, the last hour for event sources), and one GET list. Each answer is described
as the tap understands it, with anything unexpected called out, so a user can paste the
report into a bug report. Nothing is written, and no call is retried more than once.
"""

from __future__ import annotations

import typing as t

from pendo_http.errors import PendoError, PendoFatalError
from pendo_http.jsonbody import decode_body
from pendo_http.keycheck import VERIFY_PATH, check_key
from pendo_http.probe import ProbeReport, shape_of
from tap_pendo.client import ALL_APPS

if t.TYPE_CHECKING:
    from pendo_http.client import PendoClient

PROBE_TRIES = 2
AGGREGATION = "/api/v1/aggregation"
# Metadata field types the tap maps (tap-pendo handles string, time, boolean, integer, float
# and unset; Pendo's UI adds List for agent metadata).
KNOWN_FIELD_TYPES = frozenset({"string", "time", "boolean", "integer", "float", "", "list"})
LAST_HOUR = {"period": "hourRange", "first": "now()", "count": -1}
# source -> (its parameters, fields every row is expected to carry)
AGGREGATION_SOURCES: dict[str, tuple[dict[str, t.Any] | None, tuple[str, ...]]] = {
    "visitors": (None, ("visitorId", "metadata")),
    "accounts": ({"appId": ALL_APPS}, ("accountId", "metadata")),
    "events": ({"appId": ALL_APPS}, ("visitorId", "accountId", "hour", "numEvents")),
    "pageEvents": ({"appId": ALL_APPS}, ("pageId", "visitorId", "hour", "numEvents")),
    "featureEvents": ({"appId": ALL_APPS}, ("featureId", "visitorId", "hour", "numEvents")),
    "trackEvents": ({"appId": ALL_APPS}, ("trackTypeId", "visitorId", "hour", "numEvents")),
    "guideEvents": ({"appId": ALL_APPS}, ("guideId", "visitorId", "browserTime", "type")),
    "pollEvents": ({"appId": ALL_APPS}, ("pollId", "visitorId", "browserTime")),
}
EVENT_SOURCES = frozenset(AGGREGATION_SOURCES) - {"visitors", "accounts"}


def _status_of(error: PendoError) -> int | str:
    status = getattr(error, "status", None)
    return status if status is not None else "no answer"


class Probe:
    """Runs the calls against one client and fills a report."""

    def __init__(self, client: PendoClient, report: ProbeReport) -> None:
        self.client = client
        self.report = report

    def get(self, path: str, params: dict[str, str] | None = None) -> tuple[int, t.Any]:
        response = self.client.send(
            "GET", path, what=f"GET {path}", params=params, max_tries=PROBE_TRIES
        )
        return response.status_code, decode_body(response.content)

    def key(self) -> bool:
        try:
            checked = check_key(self.client, max_tries=PROBE_TRIES)
        except PendoError as error:
            self.report.add(
                f"GET {VERIFY_PATH}", _status_of(error), surprise=str(error), failed=True
            )
            return False
        if checked.fallback_from is not None:
            self.report.add(
                f"GET {VERIFY_PATH}",
                checked.fallback_from,
                "not on this host",
                surprise=f"key checked with GET {checked.path} instead",
            )
        self.report.add(f"GET {checked.path}", checked.status, shape_of(checked.body))
        self.report.info("key check", checked.describe())
        return True

    def schema(self, kind: str) -> None:
        path = f"/api/v1/metadata/schema/{kind}"
        try:
            status, body = self.get(path)
        except PendoFatalError as error:
            if kind == "parentAccount" and error.status in (403, 404):
                self.report.add(
                    f"GET {path}", error.status, "no parent accounts (the tap skips it)"
                )
                return
            self.report.add(f"GET {path}", _status_of(error), surprise=str(error), failed=True)
            return
        except PendoError as error:
            self.report.add(f"GET {path}", _status_of(error), surprise=str(error), failed=True)
            return
        if not isinstance(body, dict):
            self.report.add(
                f"GET {path}",
                status,
                shape_of(body),
                surprise="expected an object of groups; metadata will be typed loosely",
            )
            return
        fields = 0
        unknown: set[str] = set()
        odd_groups: list[str] = []
        for group, entries in body.items():
            if not isinstance(entries, dict):
                odd_groups.append(str(group))
                continue
            for descriptor in entries.values():
                fields += 1
                kind_of = descriptor.get("Type") if isinstance(descriptor, dict) else None
                if not isinstance(kind_of, str) or kind_of.lower() not in KNOWN_FIELD_TYPES:
                    unknown.add(repr(kind_of))
        surprises = []
        if unknown:
            surprises.append(
                f"unknown field type {', '.join(sorted(unknown))} (typed loosely: any JSON value)"
            )
        if odd_groups:
            surprises.append(f"groups that are not objects: {', '.join(sorted(odd_groups))}")
        groups = ", ".join(sorted(map(str, body)))
        self.report.add(
            f"GET {path}",
            status,
            f"{len(body)} groups ({groups}), {fields} fields",
            surprise="; ".join(surprises),
        )

    def aggregate(
        self,
        label: str,
        source: dict[str, t.Any],
        expected: tuple[str, ...],
        *,
        optional: bool = False,
    ) -> None:
        """One aggregation capped at one row; `optional`: a refusal has a fallback."""
        endpoint = f"POST {AGGREGATION} ({label})"
        body = {
            "response": {"mimeType": "application/json"},
            "request": {
                "requestId": f"tap-pendo probe {label}",
                "pipeline": [{"source": source}, {"limit": 1}],
            },
        }
        try:
            response = self.client.send(
                "POST",
                AGGREGATION,
                what=f"aggregation ({label})",
                body=body,
                aggregation=True,
                max_tries=PROBE_TRIES,
            )
        except PendoError as error:
            surprise = str(error)
            if optional:
                surprise += " (the tap then reads visitors and accounts with the filter alone)"
            self.report.add(endpoint, _status_of(error), surprise=surprise, failed=not optional)
            return
        answer = decode_body(response.content)
        surprises = []
        shape = shape_of(answer)
        if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
            surprises.append("expected an object with a `results` array")
        else:
            if "startTime" not in answer:
                surprises.append("no `startTime` (windows are then placed from row values)")
            rows = answer["results"]
            shape = f"results: array[{len(rows)}]"
            if rows:
                shape += f" of {shape_of(rows[0], depth=1)}"
            if rows and isinstance(rows[0], dict):
                missing = [name for name in expected if name not in rows[0]]
                if missing:
                    surprises.append(f"row without {', '.join(missing)}")
        self.report.add(endpoint, response.status_code, shape, surprise="; ".join(surprises))

    def aggregations(self) -> None:
        for name, (params, expected) in AGGREGATION_SOURCES.items():
            source: dict[str, t.Any] = {name: params}
            if name in EVENT_SOURCES:
                source["timeSeries"] = LAST_HOUR
            self.aggregate(name, source, expected)
        # The bound the visitors and accounts streams send inside the source.
        since = "now() - 60 * 60 * 1000"  # Pendo's clock: the expression form is documented
        bounded = {
            "visitors": {"timeSeries": {"period": "hourRange", "first": since, "last": "now()"}}
        }
        self.aggregate(
            "visitors, timeSeries bound", bounded, ("visitorId", "metadata"), optional=True
        )

    def list_call(self) -> None:
        path = "/api/v1/page"
        try:
            status, body = self.get(path, params={"expand": "*"})
        except PendoError as error:
            self.report.add(f"GET {path}", _status_of(error), surprise=str(error), failed=True)
            return
        surprise = ""
        if not isinstance(body, list):
            surprise = "expected a bare array"
        elif body and isinstance(body[0], dict):
            missing = [name for name in ("id", "appId", "lastUpdatedAt") if name not in body[0]]
            if missing:
                surprise = f"item without {', '.join(missing)}"
        self.report.add(f"GET {path}?expand=*", status, shape_of(body), surprise=surprise)


def run_probe(client: PendoClient, report: ProbeReport) -> ProbeReport:
    """Fill `report` with the tap's connection check; stops after a refused key."""
    probe = Probe(client, report)
    if not probe.key():
        return report
    for kind in ("visitor", "account", "parentAccount"):
        probe.schema(kind)
    probe.aggregations()
    probe.list_call()
    return report
