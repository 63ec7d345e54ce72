"""Bulk metadata writes (`POST /api/v1/metadata/{kind}/{group}/value`) and what each answer means.

Pendo answers 200 with `{"total", "updated", "failed", "missing": [ids], "errors": [texts]}`
even when some records failed (shared/pendo-api.md §4.1: total = updated + failed, failed =
len(missing) + len(errors)), and 400 when the body as a whole is refused. Each record's
outcome is read from that answer:

- ids in `missing` (update-only mode): skipped, reported with their ids;
- `errors`: when every error names exactly one record of the batch and the counts agree,
  those records are dead-lettered with Pendo's text and the rest are written; otherwise
  the batch is split in halves and each half re-sent (bisection) until the bad records
  stand alone. A 400/413/422 is bisected the same way. Re-sending good records is safe:
  a metadata write sets values, so it is idempotent.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pendo_http import (
    PendoAuthError,
    PendoClient,
    PendoFatalError,
    PendoRetriableError,
    PendoTLSError,
    PendoUnreachableError,
)
from target_pendo.ledger import Item, Ledger

SPLIT_STATUSES = frozenset({400, 413, 422})


class TargetAbort(Exception):
    """Stop the run: nothing more can be written (credentials, configuration)."""


def _mentions(text: str, ident: str) -> bool:
    pattern = r"(?<![A-Za-z0-9_\-.@])" + re.escape(ident) + r"(?![A-Za-z0-9_\-.@])"
    return re.search(pattern, text) is not None


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

    @property
    def endpoint(self) -> str:
        return f"POST {self.path}" + ("[?create=true]" if self.create else "")

    def write(self, items: list[Item]) -> None:
        """Send `items` (one request, or more when it has to be split).

        With `create`, records go out update-only first and only the ids Pendo reports
        missing are re-sent with `?create=true`: Pendo's answer does not say which ids it
        created, and this way the summary can (one extra request only for batches with
        new ids)."""
        if items:
            self._send(items, creating=False)

    # -- one request --------------------------------------------------------------------

    def _send(self, items: list[Item], *, creating: bool) -> None:
        body = [item.payload for item in items]
        endpoint = f"POST {self.path}" + ("?create=true" if creating else "")
        what = f"metadata write ({endpoint}, {len(items)} records)"
        self.requests += 1
        try:
            answer = self.client.post_json(
                self.path, body, what=what, params={"create": "true"} if creating else None
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
                self._refused(items, error, creating=creating)
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
                for item in items:
                    self.ledger.reject(
                        item,
                        f"Pendo refused the write (HTTP {error.status})",
                        api_error=error.body or str(error),
                        payload=item.payload,
                    )
            return
        except PendoRetriableError as error:
            for item in items:
                self.ledger.reject(
                    item,
                    f"not written after {self.max_tries} tries",
                    api_error=str(error),
                    payload=item.payload,
                )
            return
        self._settle(items, answer, creating=creating)

    def _refused(self, items: list[Item], error: PendoFatalError, *, creating: bool) -> None:
        if len(items) == 1:
            self.ledger.reject(
                items[0],
                f"Pendo refused the record (HTTP {error.status})",
                api_error=error.body or str(error),
                payload=items[0].payload,
            )
            return
        self.logger.info(
            "Pendo refused a batch of %d records (HTTP %s); splitting it to isolate the bad ones.",
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

    def _settle(self, items: list[Item], answer: Any, *, creating: bool) -> None:  # noqa: ANN401
        success = "created" if creating else "updated"
        if not isinstance(answer, dict):
            # Pendo documents a JSON summary; without one the 200 is all we know.
            self.logger.warning(
                "Pendo answered %s without a summary (%r); counting %d records as %s.",
                self.endpoint,
                str(answer)[:200],
                len(items),
                success,
            )
            for item in items:
                self.ledger.settle(item, success)
            return
        missing = {str(m) for m in answer.get("missing") or []}
        errors = [e if isinstance(e, str) else str(e) for e in answer.get("errors") or []]

        remaining: list[Item] = []
        missing_items: list[Item] = []
        for item in items:
            if item.id in missing:
                missing_items.append(item)
            else:
                remaining.append(item)
        if missing_items:
            if self.create and not creating:
                self._send(missing_items, creating=True)
            else:
                self.ledger_missing(missing_items)

        if not errors:
            failed = answer.get("failed")
            if isinstance(failed, int) and failed > len(missing_items):
                # Failures without an error text: find them by splitting.
                if len(remaining) == 1:
                    self.ledger.reject(
                        remaining[0],
                        "Pendo counted the record as failed without saying why",
                        api_error=str(answer)[:500],
                        payload=remaining[0].payload,
                    )
                elif remaining:
                    self._split(remaining, creating=creating)
                return
            self._succeed(remaining, success)
            return

        if len(remaining) == 1:
            self.ledger.reject(
                remaining[0],
                "Pendo reported an error for the record",
                api_error="; ".join(errors),
                payload=remaining[0].payload,
            )
            return
        if not remaining:
            return
        attributed = self._attribute(remaining, errors) if self.attribute_errors else None
        updated = answer.get("updated")
        if attributed is not None and (
            not isinstance(updated, int) or updated == len(remaining) - len(attributed)
        ):
            for item in remaining:
                if item.seq in attributed:
                    self.ledger.reject(
                        item,
                        "Pendo reported an error for the record",
                        api_error="; ".join(attributed[item.seq]),
                        payload=item.payload,
                    )
            self._succeed([i for i in remaining if i.seq not in attributed], success)
            return
        self.logger.info(
            "Pendo reported %d error(s) in a batch of %d records; splitting it to isolate them.",
            len(errors),
            len(remaining),
        )
        self._split(remaining, creating=creating)

    def _attribute(self, items: list[Item], errors: list[str]) -> dict[int, list[str]] | None:
        """seq -> error texts when each error names exactly one record; None otherwise."""
        by_id: dict[str, list[Item]] = {}
        for item in items:
            by_id.setdefault(str(item.id), []).append(item)
        result: dict[int, list[str]] = {}
        for text in errors:
            hits = [ident for ident in by_id if _mentions(text, ident)]
            if len(hits) != 1 or len(by_id[hits[0]]) != 1:
                return None
            result.setdefault(by_id[hits[0]][0].seq, []).append(text)
        return result

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
