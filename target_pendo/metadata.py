"""Bulk metadata writes (`POST /api/v1/metadata/{kind}/{group}/value`) and what each answer means.

Pendo answers 200 with `{"total", "updated", "failed", "missing": [...], "errors": [...]}`
even when some records failed, and 400 when the body as a whole is refused. A record counts
as written only when that answer confirms it:

- an answer that is not such an object (HTML, empty, a list, no `total`/`updated`), or whose
  counts do not add up (`updated + failed != total`, `total` != records sent), confirms
  nothing: the same batch is re-sent within the retry budget (a metadata write sets values,
  so it is idempotent), then dead-lettered with reason "unconfirmed";
- `missing` and `errors` items may be bare ids/texts or objects (`{"visitorId": ..}`,
  `{"id": ..}`, `{"field": .., "message": ..}`). When every item maps to exactly one record
  of the batch and the counts agree, each record gets its outcome (missing: skipped, or
  created with `?create=true`; error: dead-lettered with Pendo's text); otherwise the batch
  is split in halves and each half re-sent (bisection) until each record's outcome follows
  from the counts alone;
- a 400/413/422 is bisected the same way; a 408 (the call passed Pendo's five-minute limit)
  too, and the smaller size is kept for the rest of the run.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from pendo_http import (
    PendoAuthError,
    PendoClient,
    PendoFatalError,
    PendoRetriableError,
    PendoTLSError,
    PendoUnreachableError,
)
from target_pendo.abort import TargetAbort
from target_pendo.convert import dumps
from target_pendo.ledger import Item, Ledger

SPLIT_STATUSES = frozenset({400, 408, 413, 422})
# Pendo documents 408 for a metadata call that passed its five-minute limit: the same batch
# would time out again, so it is split instead of retried.
TIMEOUT_STATUS = 408
# Keys an item of `missing`/`errors` may name its record by (Pendo publishes no item shape).
ID_KEYS = ("visitorId", "accountId", "parentAccountId", "id")
TEXT_KEYS = ("message", "error", "detail", "reason", "description")


def _mentions(text: str, ident: str) -> bool:
    pattern = r"(?<![A-Za-z0-9_\-.@])" + re.escape(ident) + r"(?![A-Za-z0-9_\-.@])"
    return re.search(pattern, text) is not None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _ident(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def item_id(entry: Any, id_key: str) -> str | None:
    """The record id a `missing`/`errors` item names: a bare id, or an object's id key."""
    if not isinstance(entry, dict):
        return _ident(entry)
    for key in (id_key, *ID_KEYS):
        ident = _ident(entry.get(key))
        if ident is not None:
            return ident
    return None


def error_text(entry: Any) -> str:
    """An `errors` item as one line: the text itself, or an object's field and message."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        text = next((str(entry[k]) for k in TEXT_KEYS if entry.get(k) not in (None, "")), None)
        field = entry.get("field")
        if text is not None:
            return f"field {field}: {text}" if field not in (None, "") else text
    return dumps(entry).decode()


@dataclass
class Answer:
    """A bulk-write answer whose counts add up; `missing`/`errors` items as Pendo sent them."""

    updated: int
    failed: int
    missing: list[Any]
    errors: list[Any]


def read_answer(answer: Any, sent: int) -> Answer | str:
    """The answer, or why it confirms nothing (a text for the log and the dead-letter file)."""
    # Pendo: "All request and response bodies, including errors, are encoded in JSON", and a
    # bulk write answers {total, updated, failed, missing, errors}; anything else confirms nothing.
    if not isinstance(answer, dict):
        shown = " ".join(str(answer).split())[:120] if answer not in (None, "") else "empty"
        kind = "not JSON" if isinstance(answer, str) else f"a JSON {type(answer).__name__}"
        return f"the answer is {kind} ({shown!r}), not Pendo's write summary"
    total, updated = _count(answer.get("total")), _count(answer.get("updated"))
    if total is None or updated is None:
        return "the answer has no `total`/`updated` counts"
    failed = _count(answer.get("failed"))
    if "failed" in answer and failed is None:
        return "the answer's `failed` is not a count"
    # Pendo documents total = updated + failed; a total other than what was sent, or counts
    # that do not add up, say nothing certain about any record.
    if failed is None:
        if updated > total:
            return f"its counts do not add up (updated {updated} > total {total})"
        failed = total - updated
    if updated + failed != total:
        return f"its counts do not add up (updated {updated} + failed {failed} != total {total})"
    if total != sent:
        return f"its total ({total}) is not the number of records sent ({sent})"
    missing, errors = answer.get("missing") or [], answer.get("errors") or []
    return Answer(
        updated,
        failed,
        missing if isinstance(missing, list) else [missing],
        errors if isinstance(errors, list) else [errors],
    )


class MetadataWriter:
    """Sends one stream's metadata batches and settles every item in the ledger."""

    def __init__(
        self,
        *,
        client: PendoClient,
        ledger: Ledger,
        kind: str,
        group: str,
        id_key: str,
        create: bool,
        logger: logging.Logger,
        max_tries: int,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.kind = kind
        self.group = group
        self.id_key = id_key
        self.create = create
        self.logger = logger
        self.max_tries = max_tries
        self.path = f"/api/v1/metadata/{kind}/{group}/value"
        self.attribute_errors = True
        self.requests = 0
        self.splits = 0
        self.unconfirmed = 0
        self.batch_limit: int | None = None  # set after a 408: records per request from then on

    @property
    def endpoint(self) -> str:
        return f"POST {self.path}" + ("[?create=true]" if self.create else "")

    def write(self, items: list[Item]) -> None:
        """Send `items` (one request, or more when it has to be split).

        With `create`, records go out update-only first and only the ids Pendo reports
        missing are re-sent with `?create=true`: Pendo's answer does not say which ids it
        created, and this way the summary can (one extra request only for batches with
        new ids).
        """
        size = self.batch_limit or len(items) or 1
        for start in range(0, len(items), size):
            self._send(items[start : start + size], creating=False)

    # -- one request --------------------------------------------------------------------

    def _send(self, items: list[Item], *, creating: bool, attempt: int = 1) -> None:
        body = [item.payload for item in items]
        endpoint = f"POST {self.path}" + ("?create=true" if creating else "")
        what = f"metadata write ({endpoint}, {len(items)} records)"
        self.requests += 1
        try:
            answer = self.client.post_json(
                self.path,
                body,
                what=what,
                params={"create": "true"} if creating else None,
                not_retried=frozenset({TIMEOUT_STATUS}),
            )
        except (PendoTLSError, PendoUnreachableError) as error:
            raise TargetAbort(str(error)) from None
        except PendoAuthError as error:
            msg = (
                f"{error} A key that can read but not write is read-only: metadata writes need "
                '"Allow Write Access" on the key (Settings > Integrations > Integration Keys).'
            )
            raise TargetAbort(msg) from None
        except PendoFatalError as error:
            if error.status in SPLIT_STATUSES:
                self._refused(items, error, creating=creating, attempt=attempt)
            elif error.status == 404:
                msg = (
                    f"{error}. Pendo has no {self.endpoint}: check `object`/`group` of the stream"
                    + (
                        " and `parent_account_kind` (Pendo's kind name for parent accounts)"
                        if self.kind not in ("visitor", "account")
                        else ""
                    )
                    + "."
                )
                raise TargetAbort(msg) from None
            else:
                self.ledger.reject_all(
                    items,
                    f"Pendo refused the write (HTTP {error.status})",
                    api_error=error.body or str(error),
                )
            return
        except PendoRetriableError as error:
            self.ledger.reject_all(
                items, f"not written after {self.max_tries} tries", api_error=str(error)
            )
            return
        self._settle(items, answer, creating=creating, attempt=attempt)

    def _again(self, items: list[Item], problem: str, *, creating: bool, attempt: int) -> bool:
        """Re-send the same batch after a backoff while the retry budget lasts."""
        try:
            self.client.backoff(attempt, PendoRetriableError(f"{self.endpoint}: {problem}"))
        except PendoRetriableError:
            return False
        self._send(items, creating=creating, attempt=attempt + 1)
        return True

    def _refused(
        self, items: list[Item], error: PendoFatalError, *, creating: bool, attempt: int
    ) -> None:
        if len(items) == 1:
            if error.status == TIMEOUT_STATUS and self._again(
                items, f"HTTP {error.status} for one record", creating=creating, attempt=attempt
            ):
                return
            self.ledger.reject(
                items[0],
                f"Pendo refused the record (HTTP {error.status})",
                api_error=error.body or str(error),
                payload=items[0].payload,
            )
            return
        if error.status == TIMEOUT_STATUS:
            smaller = max(1, len(items) // 2)
            if self.batch_limit is None or smaller < self.batch_limit:
                self.batch_limit = smaller
                self.logger.warning(
                    "Pendo timed out a write of %d records (HTTP 408: the call passed its "
                    "five-minute limit); sending at most %d records a request to %s for the "
                    "rest of the run.",
                    len(items),
                    smaller,
                    self.endpoint,
                )
        else:
            self.logger.info(
                (
                    "Pendo refused a batch of %d records (HTTP %s); splitting it to isolate the "
                    "bad ones."
                ),
                len(items),
                error.status,
            )
        self._split(items, creating=creating)

    def _split(self, items: list[Item], *, creating: bool) -> None:
        self.splits += 1
        middle = len(items) // 2
        self._send(items[:middle], creating=creating)
        self._send(items[middle:], creating=creating)

    # -- reading the answer -------------------------------------------------------------

    def _settle(self, items: list[Item], answer: Any, *, creating: bool, attempt: int) -> None:
        success = "created" if creating else "updated"
        read = read_answer(answer, len(items))
        if (
            isinstance(read, Answer)
            and len(items) == 1
            and read.updated == 1
            and (read.missing or read.errors)
        ):
            read = "it counts the record as updated and also lists it as missing or in error"
        if isinstance(read, str):
            self._unconfirmed(items, answer, read, creating=creating, attempt=attempt)
            return
        if read.failed == 0 and not read.missing and not read.errors:
            self._succeed(items, success)
            return
        if len(items) == 1:
            self._settle_one(items[0], read, creating=creating)
            return
        mapped = self._map(items, read)
        if mapped is None:
            self.logger.info(
                "Pendo's answer for a batch of %d records (%d failed) does not say with "
                "certainty which records failed; splitting it to find them.",
                len(items),
                read.failed,
            )
            self._split(items, creating=creating)
            return
        missing_items, errors_by_seq = mapped
        for item in items:
            if item.seq in errors_by_seq:
                self.ledger.reject(
                    item,
                    "Pendo reported an error for the record",
                    api_error="; ".join(errors_by_seq[item.seq]),
                    payload=item.payload,
                )
        if missing_items:
            self._missing(missing_items, creating=creating)
        chosen = {i.seq for i in missing_items} | set(errors_by_seq)
        self._succeed([i for i in items if i.seq not in chosen], success)

    def _unconfirmed(
        self, items: list[Item], answer: Any, problem: str, *, creating: bool, attempt: int
    ) -> None:
        self.unconfirmed += 1
        self.logger.warning(
            "Pendo answered %s for %d records with a success status, but %s: the write is "
            "unconfirmed.",
            self.endpoint,
            len(items),
            problem,
        )
        if self._again(items, problem, creating=creating, attempt=attempt):
            return
        self.ledger.reject_all(
            items,
            f"unconfirmed: Pendo answered the write with a success status {attempt} "
            f"time(s), but {problem}; the values may or may not be in Pendo",
            api_error=" ".join(str(answer).split())[:500] if answer is not None else None,
        )

    def _settle_one(self, item: Item, read: Answer, *, creating: bool) -> None:
        """One record that failed: its outcome follows from the counts, whatever shape the
        answer's items have.
        """
        if read.errors:
            self.ledger.reject(
                item,
                "Pendo reported an error for the record",
                api_error="; ".join(error_text(e) for e in read.errors),
                payload=item.payload,
            )
        elif read.missing:
            self._missing([item], creating=creating)
        else:
            self.ledger.reject(
                item,
                "Pendo counted the record as failed without saying why",
                api_error=dumps({"updated": read.updated, "failed": read.failed}).decode(),
                payload=item.payload,
            )

    def _map(
        self, items: list[Item], read: Answer
    ) -> tuple[list[Item], dict[int, list[str]]] | None:
        """(missing records, seq -> error texts) when every item of the answer names exactly
        one record of the batch and the counts agree; None when any of it is a guess.
        """
        # Pendo documents failed = len(missing) + len(errors).
        if read.failed != len(read.missing) + len(read.errors):
            return None
        by_id = {str(item.id): item for item in items}  # a batch never repeats an id
        missing: dict[int, Item] = {}
        for entry in read.missing:
            found = by_id.get(item_id(entry, self.id_key) or "")
            if found is None or found.seq in missing:
                return None
            missing[found.seq] = found
        errors: dict[int, list[str]] = {}
        for entry in read.errors:
            text = error_text(entry)
            ident = item_id(entry, self.id_key) if isinstance(entry, dict) else None
            if ident is None:
                if not self.attribute_errors:
                    return None
                hits = [known for known in by_id if _mentions(text, known)]
                if len(hits) != 1:
                    return None
                ident = hits[0]
            found = by_id.get(ident)
            if found is None or found.seq in missing:
                return None
            errors.setdefault(found.seq, []).append(text)
        if read.updated != len(items) - len(missing) - len(errors):
            return None
        return list(missing.values()), errors

    def _missing(self, items: list[Item], *, creating: bool) -> None:
        if self.create and not creating:
            self._send(items, creating=True)
        else:
            self.ledger_missing(items)

    def _succeed(self, items: list[Item], outcome: str) -> None:
        for item in items:
            self.ledger.settle(item, outcome)

    def ledger_missing(self, items: list[Item]) -> None:
        ids = [str(i.id) for i in items]
        self.logger.warning(
            "%d %s id(s) do not exist in Pendo and were skipped (update-only; set `create: true` "
            "on the stream to create them): %s",
            len(ids),
            self.kind,
            ", ".join(ids[:50]) + (" …" if len(ids) > 50 else ""),
        )
        for item in items:
            self.ledger.settle(item, "missing")
