"""Deletions: `POST /api/v1/bulkdelete/{visitor|account}` and what each answer means.

Pendo takes up to 500 ids a call (`{"visitors": [...]}` or `{"accounts": [...]}`) and answers
`{"id": <job>}`; the ids are marked Do Not Process at once and deleted later (up to 21 days).
More than one call a second is likely to fail, so the HTTP session paces these calls
(target_pendo/http.py). A refused call (4xx) dead-letters its records with Pendo's text; one
that still fails after the retries dead-letters them too. Deleting twice is harmless, so a
restart that re-sends a deletion does no damage, and neither does re-sending a call whose 2xx
answer is not the documented `{"id": ...}` (HTML, empty, a list): such a call confirms nothing,
is re-sent within the retry budget, then its records are dead-lettered as "unconfirmed".
"""

from __future__ import annotations

import logging

from pendo_http import (
    PendoAuthError,
    PendoClient,
    PendoFatalError,
    PendoRetriableError,
    PendoTLSError,
    PendoUnreachableError,
)
from target_pendo.abort import TargetAbort
from target_pendo.ledger import Item, Ledger

MAX_IDS_PER_CALL = 500
BODY_KEYS = {"visitor": "visitors", "account": "accounts"}


def bulk_delete_path(kind: str) -> str:
    """Pendo's bulk-delete endpoint for a metadata kind."""
    return f"/api/v1/bulkdelete/{kind}"


def id_chunks(items: list[Item], size: int = MAX_IDS_PER_CALL) -> list[list[Item]]:
    """Consecutive groups of items naming at most `size` distinct ids each (a repeated id
    goes in the same call as its first occurrence when that call is still open).
    """
    chunks: list[list[Item]] = []
    current: list[Item] = []
    ids: set[str | None] = set()
    for item in items:
        if item.id not in ids and len(ids) >= size:
            chunks.append(current)
            current, ids = [], set()
        current.append(item)
        ids.add(item.id)
    if current:
        chunks.append(current)
    return chunks


class BulkDeleter:
    """Sends one stream's deletions and settles every item in the ledger."""

    def __init__(
        self,
        *,
        client: PendoClient,
        ledger: Ledger,
        kind: str,
        logger: logging.Logger,
        max_tries: int,
    ) -> None:
        if kind not in BODY_KEYS:
            msg = f"Pendo's bulk delete has no kind {kind!r}"
            raise ValueError(msg)
        self.client = client
        self.ledger = ledger
        self.kind = kind
        self.key = BODY_KEYS[kind]
        self.path = bulk_delete_path(kind)
        self.logger = logger
        self.max_tries = max_tries
        self.requests = 0
        self.jobs: list[str] = []

    @property
    def endpoint(self) -> str:
        return f"POST {self.path}"

    @staticmethod
    def payload(kind: str, ident: str) -> dict[str, list[str]]:
        """One record's share of the request body (what the dead-letter file shows as `sent`)."""
        return {BODY_KEYS[kind]: [ident]}

    def delete(self, items: list[Item]) -> None:
        for chunk in id_chunks(items):
            self._send(chunk)

    def _send(self, items: list[Item], attempt: int = 1) -> None:
        ids = list(dict.fromkeys(str(item.id) for item in items))
        what = f"bulk delete ({self.endpoint}, {len(ids)} ids)"
        self.requests += 1
        try:
            answer = self.client.post_json(self.path, {self.key: ids}, what=what)
        except (PendoTLSError, PendoUnreachableError) as error:
            raise TargetAbort(str(error)) from None
        except PendoAuthError as error:
            msg = (
                f'{error} Deleting needs an integration key with "Allow Write Access" '
                "(Settings > Integrations > Integration Keys)."
            )
            raise TargetAbort(msg) from None
        except PendoFatalError as error:
            self.ledger.reject_all(
                items,
                f"Pendo refused the bulk delete (HTTP {error.status})",
                api_error=error.body or str(error),
            )
            return
        except PendoRetriableError as error:
            self.ledger.reject_all(
                items, f"not deleted after {self.max_tries} tries", api_error=str(error)
            )
            return
        # Pendo's bulk delete answers {"id": <job id>}; anything else confirms nothing.
        job = answer.get("id") if isinstance(answer, dict) else None
        if job in (None, "") or isinstance(job, (dict, list, bool)):
            self._unconfirmed(items, answer, attempt)
            return
        self.jobs.append(str(job))
        self.logger.info(
            (
                "Pendo queued the deletion of %d %s id(s) (job %s); they are Do Not Process "
                "until deleted."
            ),
            len(ids),
            self.kind,
            job,
        )
        for item in items:
            self.ledger.settle(item, "deleted")

    def _unconfirmed(self, items: list[Item], answer: object, attempt: int) -> None:
        shown = " ".join(str(answer).split())[:120] if answer not in (None, "") else "empty"
        problem = f"the answer ({shown!r}) is not the documented job id"
        self.logger.warning(
            "Pendo answered %s with a success status, but %s: the deletion is unconfirmed.",
            self.endpoint,
            problem,
        )
        try:
            self.client.backoff(attempt, PendoRetriableError(f"{self.endpoint}: {problem}"))
        except PendoRetriableError:
            self.ledger.reject_all(
                items,
                f"unconfirmed: Pendo answered the deletion with a success status {attempt} "
                f"time(s), but {problem}; the ids may or may not be deleted",
                api_error=" ".join(str(answer).split())[:500] if answer is not None else None,
            )
            return
        self._send(items, attempt + 1)
