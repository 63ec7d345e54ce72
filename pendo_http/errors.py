"""What a Pendo response means: success, retry, split the query, or stop."""

from __future__ import annotations

import errno
import re
import socket
from collections.abc import Callable

import requests

# Pendo's 400 body when an aggregation is too big to run (shared/pendo-api.md §3.7, peers.md).
QUERY_TOO_LARGE_MARKERS = ("exceeded memory limit", "query exceeded", "too large")
# Pendo documents "sizing or timeout limits" on aggregations but no source gives the status or
# text of a refusal: any 4xx/5xx whose text names one of these is read as "ask for less".
REFUSAL_WORDS = re.compile(r"memory|size|limit|time-?out|timed out|too (?:large|big)", re.I)
# Never a refusal of the query's size: the key (401/403) and rate limiting (429).
NOT_REFUSAL_STATUSES = frozenset({401, 403, 429})
RETRIABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
BODY_SNIPPET_CHARS = 300


class PendoError(Exception):
    """Base class for every error this package raises."""


class PendoRetriableError(PendoError):
    """A failure worth trying again: 429, 408, 5xx, timeouts, dropped connections."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class PendoTimeout(PendoRetriableError):
    """Pendo accepted the connection but did not answer (or finish the body) in time."""


class PendoFatalError(PendoError):
    """A failure that retrying cannot fix (a 4xx other than 408/429)."""

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class PendoAuthError(PendoFatalError):
    """Pendo refused the credentials (401/403)."""


class PendoTLSError(PendoFatalError):
    """The server's TLS certificate could not be verified: retrying cannot fix it, and
    verification is never turned off.
    """


def tls_message(url: str, what: str, exc: BaseException) -> str:
    """The message of a PendoTLSError: the host, the verifier's reason, and what to check."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    # The host and port only: user info in the URL is a credential.
    host = (parts.hostname or url) + (f":{parts.port}" if parts.port else "")
    found = re.search(r"certificate verify failed: ([^)'\"]+)", str(exc))
    reason = found.group(1).strip() if found else type(exc).__name__
    return (
        f"TLS certificate verification failed for {host} during {what}: {reason}. "
        "Check `region` / `api_url` (the host must be Pendo's, or your proxy's with a certificate "
        "your system trusts). A proxy that intercepts TLS needs its CA in the system trust store "
        "or in REQUESTS_CA_BUNDLE; verification cannot be turned off."
    )


class PendoRedirectError(PendoFatalError):
    """Pendo's API never redirects: a 3xx points somewhere else (a proxy, a captive portal, a
    hostile host). Following it would send the key and the body there, so it is not followed,
    not retried, and nothing the request carried counts as written.
    """


def redirect_message(response: requests.Response, what: str) -> str:
    """The message of a PendoRedirectError: where the 3xx pointed (host only), and what to check."""
    from urllib.parse import urlsplit

    location = response.headers.get("Location") or ""
    parts = urlsplit(location)
    # The host and port only: a Location can carry credentials or the key in its query.
    target = (
        (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
        if parts.hostname
        else "a relative location on the same host"
        if location
        else "no Location"
    )
    return (
        f"Pendo answered HTTP {response.status_code} (redirect to {target}) to {what}; redirects "
        "are never followed (they would send the key and the data to another address). Check "
        "`region` / `api_url` / `track_url`: they must be Pendo's API host itself"
    )


class PendoUnreachableError(PendoFatalError):
    """The host could not be reached at all (its name does not resolve, the connection is
    refused, no route): a wrong `region` or `api_url`, or no network. Raised for a host that
    has not answered yet in this run, where retrying only delays the same answer.
    """


# Connection failures that say "this host cannot be reached from here", not "it is busy".
UNREACHABLE_ERRNOS = {
    errno.ECONNREFUSED: "the connection was refused",
    errno.ENETUNREACH: "the network is unreachable",
    errno.EHOSTUNREACH: "there is no route to the host",
}


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and what it wraps: requests wraps urllib3, which wraps the socket error."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or any(item is s for s in seen) or len(seen) > 20:
            continue
        seen.append(item)
        todo += [item.__cause__, item.__context__]
        reason = getattr(item, "reason", None)  # urllib3's MaxRetryError
        if isinstance(reason, BaseException):
            todo.append(reason)
        todo += [a for a in getattr(item, "args", ()) if isinstance(a, BaseException)]
    return seen


def unreachable_reason(exc: BaseException) -> str | None:
    """Why the host cannot be reached, when `exc` says so; None for other failures."""
    causes = _causes(exc)
    for cause in causes:
        if isinstance(cause, socket.gaierror):
            return "its name does not resolve"
    for cause in causes:
        if isinstance(cause, OSError) and cause.errno in UNREACHABLE_ERRNOS:
            return UNREACHABLE_ERRNOS[cause.errno]
    for cause in causes:
        # urllib3 2.x: NameResolutionError's own text ("Failed to resolve ...").
        if type(cause).__name__ == "NameResolutionError":
            return "its name does not resolve"
    return None


def unreachable_message(url: str, what: str, reason: str) -> str:
    """The message for a host that cannot be reached: the host, the reason, what to check."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    # The host and port only: user info in the URL is a credential.
    host = (parts.hostname or url) + (f":{parts.port}" if parts.port else "")
    return (
        f"Cannot reach {host}: {reason} (request: {what}). Check `region` (or `api_url`, "
        "which overrides it): it must name your subscription's Pendo host, and this machine "
        "must reach it."
    )


class PendoQueryTooLarge(PendoError):
    """Pendo refused or timed out an aggregation because it covers too much: split it."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def body_snippet(response: requests.Response, redact: Callable[[str], str] | None = None) -> str:
    """The start of a response body, for messages; bodies may be large or binary.

    `redact` masks secrets before the cut, so no part of a secret the body echoes is left.
    """
    try:
        text = response.text
    except Exception:
        return ""
    text = " ".join(text.split())
    if redact is not None:
        text = redact(text)
    return text[:BODY_SNIPPET_CHARS] + ("…" if len(text) > BODY_SNIPPET_CHARS else "")


def retry_after_seconds(response: requests.Response) -> float | None:
    """Pendo does not document Retry-After; honour it when a proxy or Pendo sends one."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


# Where each secret comes from, and the mix-up that is refused exactly like a wrong value.
SECRET_HINTS = {
    "integration_key": (
        " The integration key is under Settings > Integrations > Integration Keys (writes need "
        "one with write access); the Track Event Shared Secret is a different secret: the two "
        "are not interchangeable."
    ),
    "track_event_secret": (
        " The Track Event Shared Secret is under Settings > Subscription Settings > your app > "
        "App Details; an integration key is a different secret: the two are not "
        "interchangeable."
    ),
}


def auth_message(setting: str, status: int, what: str) -> str:
    """The message for a 401/403: which setting holds the refused key, and the region hint."""
    return (
        f"Pendo refused the {what} (HTTP {status}). Check the `{setting}` setting, and that "
        "`region` (or `api_url`) is the region of the Pendo subscription the key belongs to: "
        "a key from another region is refused exactly like a wrong key."
        + SECRET_HINTS.get(setting, "")
    )


def is_refusal(status: int, text: str) -> bool:
    """An aggregation answer that means "this query covers too much": split or shrink it."""
    if status < 400 or status in NOT_REFUSAL_STATUSES:
        return False
    lowered = text.lower()
    return any(m in lowered for m in QUERY_TOO_LARGE_MARKERS) or bool(REFUSAL_WORDS.search(text))


# Tries on one aggregation before a smaller one (a split window, a smaller page) is asked for
# instead; a query that cannot be made smaller gets the full retry budget.
TRIES_BEFORE_SPLIT = 3


def suggests_smaller_query(error: PendoRetriableError) -> bool:
    """5xx, 408 or a read timeout, repeated: Pendo may be failing on the query's size.

    Pendo: breaking aggregations up by time range "may be necessary if you hit sizing or
    timeout limits", with no word on how hitting them looks.
    """
    if isinstance(error, PendoTimeout):
        return True
    return error.status is not None and (error.status == 408 or error.status >= 500)


def classify(
    response: requests.Response,
    *,
    what: str,
    secret_setting: str = "integration_key",
    aggregation: bool = False,
    redact: Callable[[str], str] | None = None,
) -> PendoError | None:
    """Turn a non-2xx response into the error to raise, or None when it succeeded.

    `what` names the request for messages ("aggregation on pageEvents", "metadata write").
    Messages carry the status and a snippet of the body, never a header or the URL's secrets.
    """
    status = response.status_code
    if status < 300:
        return None
    if status < 400:
        message = redirect_message(response, what)
        return PendoRedirectError(redact(message) if redact else message, status=status)
    snippet = body_snippet(response, redact)
    if status in (401, 403):
        key_kind = (
            "Track Event Shared Secret"
            if secret_setting == "track_event_secret"
            else "integration key"
        )
        message = auth_message(secret_setting, status, key_kind) + f" Request: {what}."
        if snippet:
            message += f" Pendo said: {snippet}"
        return PendoAuthError(message, status=status, body=snippet)
    if aggregation and is_refusal(status, snippet):
        return PendoQueryTooLarge(
            f"Pendo refused {what} as too large (HTTP {status}): {snippet}", status=status
        )
    if status in RETRIABLE_STATUSES:
        detail = f": {snippet}" if snippet else ""
        return PendoRetriableError(
            f"Pendo answered HTTP {status} to {what}{detail}",
            status=status,
            retry_after=retry_after_seconds(response),
        )
    detail = f": {snippet}" if snippet else " with an empty body"
    return PendoFatalError(
        f"Pendo answered HTTP {status} to {what}{detail}", status=status, body=snippet
    )
