"""Checking an integration key before any work: `GET /api/v1/token/verify`, or a fallback.

Only third-party code shows `GET /api/v1/token/verify`; a host without it (404/405) must not
end a run with a traceback, so the key is then checked with the visitor metadata schema,
a cheap documented read, and the result says which check was used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pendo_http.client import PendoClient
from pendo_http.errors import PendoAuthError, PendoFatalError
from pendo_http.jsonbody import decode_body

VERIFY_PATH = "/api/v1/token/verify"
FALLBACK_PATH = "/api/v1/metadata/schema/visitor"
MISSING_ENDPOINT_STATUSES = frozenset({404, 405})


@dataclass(frozen=True)
class KeyCheck:
    """How the key was checked and what Pendo answered."""

    path: str
    status: int
    body: Any
    fallback_from: int | None = None  # the token/verify status that made us fall back

    @property
    def write_access(self) -> bool | None:
        """True/False when token/verify said so; None when the fallback cannot tell."""
        access = self.body.get("writeAccess") if isinstance(self.body, dict) else None
        return access if isinstance(access, bool) else None

    def describe(self) -> str:
        text = f"GET {self.path} answered {self.status}"
        if self.fallback_from is not None:
            text += f" (GET {VERIFY_PATH} answered {self.fallback_from}: not on this host)"
        if self.write_access is not None:
            text += f"; write access: {'yes' if self.write_access else 'no'}"
        return text


def check_key(client: PendoClient, *, max_tries: int | None = None) -> KeyCheck:
    """Check the client's key; raises PendoAuthError (401/403) or another PendoError."""
    try:
        response = client.send(
            "GET", VERIFY_PATH, what=f"key check (GET {VERIFY_PATH})", max_tries=max_tries
        )
        return KeyCheck(VERIFY_PATH, response.status_code, decode_body(response.content))
    except PendoAuthError:
        raise
    except PendoFatalError as error:
        if error.status not in MISSING_ENDPOINT_STATUSES:
            raise
        fallback_from = error.status
    # Estuary's production connector checks a key with the metadata schema GET (403 = bad key).
    response = client.send(
        "GET", FALLBACK_PATH, what=f"key check (GET {FALLBACK_PATH})", max_tries=max_tries
    )
    return KeyCheck(
        FALLBACK_PATH,
        response.status_code,
        decode_body(response.content),
        fallback_from=fallback_from,
    )
