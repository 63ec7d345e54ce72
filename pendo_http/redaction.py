"""Keep secrets out of logs, error messages and files."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit

MASK = "***"


def _forms(secret: str) -> set[str]:
    """A secret as written, and as it appears inside a URL."""
    return {secret, quote(secret, safe=""), quote_plus(secret)}


def url_secrets(url: str | None) -> list[str]:
    """Credentials a configured URL carries: user info and query values."""
    if not url:
        return []
    parts = urlsplit(url)
    userinfo = [v for v in (parts.username, parts.password) if v]
    query = [pair.partition("=")[2] for pair in parts.query.split("&") if "=" in pair]
    return [*userinfo, *map(unquote, userinfo), *query, *map(unquote_plus, query)]


class Redactor:
    """Replaces every known secret value (also URL-encoded) in a text with a mask."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: list[str] = []
        self._added: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < 4 or secret in self._added:
            return
        self._added.add(secret)
        # A new list, not an in-place sort: another thread may be masking with the old one.
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(set(self._secrets) | _forms(secret), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


class _RedactingFilter(logging.Filter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redactor(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text = str(exc)
            if self.redactor(text) != text:
                record.exc_info = None
                record.exc_text = None
                record.msg = f"{record.msg} [{type(exc).__name__}: {self.redactor(text)}]"
        return True


def install_log_redaction(redactor: Redactor) -> None:
    """Attach the redactor to the root logger's handlers and to every logger's records.

    A filter on each handler catches records from any library (urllib3 debug lines
    carry URLs and headers), not only our own loggers.
    """
    log_filter = _RedactingFilter(redactor)
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, _RedactingFilter) for f in handler.filters):
            handler.addFilter(log_filter)
    old_factory = logging.getLogRecordFactory()
    if getattr(old_factory, "_pendo_redacting", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = old_factory(*args, **kwargs)
        log_filter.filter(record)
        return record

    factory._pendo_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
